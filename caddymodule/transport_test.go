package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-applink/caddy-applink/internal/consumer"
	"github.com/caddy-applink/caddy-applink/internal/signer"
	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

// provisioned provisions tr outside a Caddy server.
func provisioned(t *testing.T, tr *Transport) *Transport {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := tr.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	return tr
}

// clientRequest is a request as a Caddy server hands it to a handler:
// with a replacer and the request variables.
func clientRequest(t *testing.T, method, url, ctype, body string, hdr ...string) *http.Request {
	t.Helper()
	req := testkit.NewRequest(t, method, url, ctype, body, hdr...)
	return caddyhttp.PrepareRequest(req, caddy.NewReplacer(), nil, nil)
}

// tokenMap is a tokenSource; user "broken" makes it fail.
type tokenMap map[string]*signer.Token

func (m tokenMap) AccessToken(_ context.Context, remote, user string) (*signer.Token, error) {
	if user == "broken" {
		return nil, errors.New("store down")
	}
	if tok, ok := m[user]; ok {
		return tok, nil
	}
	return nil, consumer.ErrNoAccessToken
}

// TestTransportCaddyfileErrors: each mistake in a `transport applink` block
// is refused with an error naming it.
func TestTransportCaddyfileErrors(t *testing.T) {
	testCaddyfileErrors(t, func() caddyfile.Unmarshaler { return new(Transport) }, []caddyfileError{
		{"applink {\n bogus 1\n}", "unrecognized subdirective bogus"},
		{"applink extra", "wrong argument count"},
		{"applink {\n consumer_key\n}", "consumer_key needs one argument"},
		{"applink {\n consumer_key a b\n}", "takes one argument"},
		{"applink {\n mode 4lo\n}", "mode must be 2lo, impersonation or 3lo"},
		{"applink {\n mode 2lo\n mode 3lo\n}", "mode specified twice"},
		{"applink {\n user\n}", "user needs one argument"},
		{"applink {\n dial_timeout soon\n}", "invalid duration"},
		{"applink {\n state\n}", "state needs a backend"},
		{"applink {\n state bogus\n}", "state must be file"},
		{"applink {\n state memory {\n  bogus x\n }\n}", "unknown state subdirective"},
		{"applink {\n state memory\n state memory\n}", "state specified twice"},
		{"applink {\n renew_before soon\n}", "renew_before: want a duration"},
		{"applink {\n renew_before -1h\n}", "renew_before: want a duration"},
		{"applink {\n link_id\n}", "link_id needs one argument"},
	})
}

// TestCaddyfileArgsOfHTTPSubdirectives: an argument of an HTTP transport
// subdirective that spells one of ours is not taken for ours.
func TestCaddyfileArgsOfHTTPSubdirectives(t *testing.T) {
	tr := new(Transport)
	in := "applink {\n tls_server_name user\n mode 2lo\n versions 1.1 2\n consumer_key k\n}"
	if err := tr.UnmarshalCaddyfile(caddyfile.NewTestDispenser(in)); err != nil {
		t.Fatal(err)
	}
	if tr.User != "" || tr.Mode != "2lo" || tr.ConsumerKey != "k" || tr.TLS == nil || tr.TLS.ServerName != "user" || len(tr.Versions) != 2 {
		t.Errorf("parsed %+v, TLS %+v", tr, tr.TLS)
	}
}

func TestTransportProvisionErrors(t *testing.T) {
	dir := t.TempDir()
	_, ecFile := writeECKey(t, dir)
	garbage := filepath.Join(dir, "garbage.pem")
	_ = os.WriteFile(garbage, []byte("not a key"), 0o600)
	missing := filepath.Join(dir, "missing.pem")
	t.Setenv("APPLINK_TEST_KEYFILE", gwKeys().PrivFile)
	t.Setenv("APPLINK_TEST_CONSUMER", "env:consumer")

	for _, tc := range []struct {
		tr   *Transport
		want string // "" means it must provision
	}{
		{&Transport{PrivateKeyFile: gwKeys().PrivFile, Mode: "2lo"}, "consumer_key is required"},
		{&Transport{ConsumerKey: "k", Mode: "2lo"}, "private_key_file is required"},
		{&Transport{ConsumerKey: "k", PrivateKeyFile: missing, Mode: "2lo"}, missing},
		{&Transport{ConsumerKey: "k", PrivateKeyFile: garbage, Mode: "2lo"}, garbage},
		{&Transport{ConsumerKey: "k", PrivateKeyFile: ecFile, Mode: "2lo"}, ecFile + ": key is *ecdsa.PrivateKey, not RSA"},
		{&Transport{ConsumerKey: "k", PrivateKeyFile: gwKeys().PrivFile}, "mode is required"},
		{&Transport{ConsumerKey: "k", PrivateKeyFile: gwKeys().PrivFile, NextPrivateKeyFile: missing, Mode: "2lo"}, "next_private_key_file: open " + missing},
		{&Transport{ConsumerKey: "k", PrivateKeyFile: gwKeys().PrivFile, NextPrivateKeyFile: ecFile, Mode: "2lo"}, "next_private_key_file: " + ecFile + ": key is *ecdsa.PrivateKey, not RSA"},
		{&Transport{ConsumerKey: "k", PrivateKeyFile: gwKeys().PrivFile, NextPrivateKeyFile: gwKeys().PrivFile, Mode: "2lo"}, "the same key"},
		{&Transport{ConsumerKey: "k", PrivateKeyFile: gwKeys().PrivFile, NextPrivateKeyFile: consumerKeys().PrivFile, Mode: "2lo"}, "-"},
		{&Transport{ConsumerKey: "k", PrivateKeyFile: gwKeys().PrivFile, Mode: "3LO"}, "unknown mode"},
		{&Transport{ConsumerKey: "k", PrivateKeyFile: gwKeys().PrivFile, Mode: "impersonation"}, "needs user"},
		{&Transport{ConsumerKey: "k", PrivateKeyFile: gwKeys().PrivFile, Mode: "3lo", User: " "}, "needs user"},
		{&Transport{ConsumerKey: "k", PrivateKeyFile: gwKeys().PrivFile, Mode: "2lo", User: "x"}, "user has no effect with mode 2lo"},
		{&Transport{ConsumerKey: "k", PrivateKeyFile: gwKeys().PrivFile, Mode: "2lo", RemoteBaseURL: "jira.example.com"}, "remote_base_url"},
		{&Transport{ConsumerKey: "k", PrivateKeyFile: gwKeys().PrivFile, Mode: "impersonation", User: "u", State: &StateConfig{Backend: "memory"}}, "state has no effect unless mode is 3lo"},
		{&Transport{ConsumerKey: "k", PrivateKeyFile: gwKeys().PrivFile, Mode: "2lo", LinkID: "jira"}, "link_id has no effect"},
		{&Transport{ConsumerKey: "k", PrivateKeyFile: gwKeys().PrivFile, Mode: "3lo", User: "u", DanceBaseURL: "app.example.com"}, "dance_base_url"},
		{&Transport{ConsumerKey: "k", PrivateKeyFile: gwKeys().PrivFile, Mode: "3lo", User: "u", State: &StateConfig{Backend: "memory", EncryptionKey: "short"}}, "encryption_key"},
		{&Transport{ConsumerKey: "k", PrivateKeyFile: gwKeys().PrivFile, Mode: "3lo", User: "u", State: &StateConfig{Backend: "file", Path: "/proc/nonexistent/dir/state.db"}}, "state"},
		{&Transport{ConsumerKey: "k", PrivateKeyFile: gwKeys().PrivFile, Mode: "2lo", RemoteBaseURL: "https://jira.example.com?x=1"}, "remote_base_url"},
		{&Transport{ConsumerKey: "{env.APPLINK_TEST_CONSUMER}", PrivateKeyFile: "{env.APPLINK_TEST_KEYFILE}", Mode: "impersonation",
			User: "{http.auth.user.id}", RemoteBaseURL: "https://jira.example.com/jira"}, ""},
	} {
		tr := tc.tr
		tr.HTTPTransport = nil
		if tc.want == "-" { // provisions; not the {env.*} case
			checkProvisionError(t, tc.tr, provision(tr), "")
			continue
		}
		checkProvisionError(t, tc.tr, provision(tr), tc.want)
		if tc.want == "" && tr.consumerKey != "env:consumer" {
			t.Errorf("{env.*} consumer key resolved to %q", tr.consumerKey)
		}
	}
}

// TestProvisionErrorThroughCaddy: a bad key file stops the config from
// loading, with the file named.
func TestProvisionErrorThroughCaddy(t *testing.T) {
	caddyRun(t, fmt.Sprintf("http://localhost:%d {\n\trespond ok\n}\n", frontPort)) // Caddy is up
	bad := filepath.Join(t.TempDir(), "bad.pem")
	_ = os.WriteFile(bad, []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), 0o600)
	cfg := transportGlobals(filepath.Join(t.TempDir(), "log")) + fmt.Sprintf(`
http://localhost:%d {
	reverse_proxy 127.0.0.1:1 {
		transport applink {
			consumer_key k
			private_key_file %s
			mode 2lo
		}
	}
}
`, frontPort, bad)
	load := testkit.NewRequest(t, http.MethodPost, fmt.Sprintf("http://localhost:%d/load", transportAdminPort), "text/caddyfile", cfg)
	resp, body := testkit.Do(t, http.DefaultClient, load)
	if resp.StatusCode == 200 || !strings.Contains(body, "private_key_file: "+bad) {
		t.Errorf("load: %d %s", resp.StatusCode, body)
	}
}

// TestJSONInlinesHTTPTransport: the HTTP transport's fields live next to
// ours in the module's JSON, and unknown fields are refused by Caddy.
func TestJSONInlinesHTTPTransport(t *testing.T) {
	raw := `{"consumer_key":"k","mode":"2lo","dial_timeout":5000000000,"tls":{"server_name":"jira"}}`
	mod, err := caddy.GetModule("http.reverse_proxy.transport.applink")
	if err != nil {
		t.Fatal(err)
	}
	tr := mod.New().(*Transport)
	if err := json.Unmarshal([]byte(raw), tr); err != nil {
		t.Fatal(err)
	}
	if tr.ConsumerKey != "k" || tr.TLS == nil || tr.TLS.ServerName != "jira" || tr.DialTimeout == 0 {
		t.Errorf("decoded %+v", tr)
	}
	out, _ := json.Marshal(tr)
	if !strings.Contains(string(out), `"dial_timeout":5000000000`) || !strings.Contains(string(out), `"consumer_key":"k"`) {
		t.Errorf("encoded %s", out)
	}
}

func TestProblemLabel(t *testing.T) {
	for in, want := range map[string]string{
		"":                      "unspecified",
		"signature_invalid":     "signature_invalid",
		"consumer_key_refused":  "consumer_key_refused",
		"token_not_authorized":  "token_not_authorized",
		"alice":                 "other",
		strings.Repeat("x", 99): "other",
	} {
		if got := problemLabel(in); got != want {
			t.Errorf("problemLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRoundTripDoesNotModifyRequest: RoundTrip signs a clone; the request
// Caddy passed in keeps its headers and URL.
func TestRoundTripDoesNotModifyRequest(t *testing.T) {
	rec := newTransportRecorder(t, "")
	tr := provisioned(t, &Transport{ConsumerKey: testConsumerKey, PrivateKeyFile: gwKeys().PrivFile, Mode: "impersonation", User: "{http.request.header.X-Test-User}"})
	req := clientRequest(t, "GET", rec.srv.URL+"/x?a=1&oauth_token=z", "", "", "X-Test-User", "alice", "Cookie", "c=1")
	if _, b := roundTrip(t, tr, req); b != "mode=2lo-impersonation user=alice" {
		t.Errorf("remote said %q", b)
	}
	if req.URL.RawQuery != "a=1&oauth_token=z" || req.Header.Get("Cookie") != "c=1" || req.Header.Get("Authorization") != "" {
		t.Errorf("request modified: %s %v", req.URL, req.Header)
	}
}

package caddymodule

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-applink/caddy-applink/internal/store"
	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

// TestCaddyfileAdapt compares testdata/caddyfile_adapt/*.caddyfiletest
// (Caddyfile, "----------", expected JSON) as Caddy's own suite does.
func TestCaddyfileAdapt(t *testing.T) { testkit.AdaptGoldens(t) }

func TestCaddyfileErrors(t *testing.T) {
	testCaddyfileErrors(t, func() caddyfile.Unmarshaler { return new(Handler) }, []caddyfileError{
		{"applink {\n bogus 1\n}", `unknown subdirective "bogus"`},
		{"applink extra", "wrong argument count"},
		{"applink {\n base_url\n}", "base_url needs one argument"},
		{"applink {\n base_url a b\n}", "takes one argument"},
		{"applink {\n legacy_auth allow\n}", "legacy_auth must be block or strip"},
		{"applink {\n anonymous maybe\n}", "anonymous must be pass or reject"},
		{"applink {\n timestamp_window soon\n}", "timestamp_window"},
		{"applink {\n max_form_body lots\n}", "max_form_body"},
		{"applink {\n consumer\n}", "consumer needs its oauth_consumer_key"},
		{"applink {\n consumer k {\n  color blue\n }\n}", `unknown consumer subdirective "color"`},
		{"applink {\n consumer k {\n  impersonation yes\n }\n}", "wrong argument count"},
		{"applink {\n consumer k {\n  public_key_file a\n  public_key b\n  public_key_file c\n }\n}", `consumer "k": a third public key`},
		{"applink {\n consumer k {\n  public_key_file\n }\n}", "public_key_file needs one argument"},
	})
}

// TestTwoPublicKeysParse: a consumer's second key line, of either kind,
// is its second key.
func TestTwoPublicKeysParse(t *testing.T) {
	for input, want := range map[string]ConsumerConfig{
		"public_key_file old.pem\n public_key_file next.pem": {PublicKeyFile: "old.pem", SecondPublicKeyFile: "next.pem"},
		"public_key OLD\n public_key_file next.pem":          {PublicKey: "OLD", SecondPublicKeyFile: "next.pem"},
		"public_key_file old.pem\n public_key NEXT":          {PublicKeyFile: "old.pem", SecondPublicKey: "NEXT"},
		"public_key_file old.pem":                            {PublicKeyFile: "old.pem"},
	} {
		var h Handler
		if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("applink {\n consumer k {\n " + input + "\n }\n}")); err != nil {
			t.Fatalf("%q: %v", input, err)
		}
		got := *h.Consumers[0]
		got.Key = ""
		if got != want {
			t.Errorf("%q: parsed %+v, want %+v", input, got, want)
		}
	}
}

// TestProvisionErrors loads JSON configs into real Caddy (validate only) and
// checks that each mistake is refused with an error naming it.
func TestProvisionErrors(t *testing.T) {
	dir := t.TempDir()
	ecKey, _ := writeECKey(t, dir)
	corrupt := filepath.Join(dir, "corrupt.db")
	if err := os.WriteFile(corrupt, []byte(strings.Repeat("not a bbolt file ", 1024)), 0o600); err != nil {
		t.Fatal(err)
	}
	// A file where the journal's directory goes: the proxy could not
	// journal, so it must not start.
	foreignJournal := filepath.Join(dir, "state.db")
	if err := os.WriteFile(store.JournalPathFor(foreignJournal), []byte("my notes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pub := consumerKeys().PubFile
	other, err := testkit.WriteKeyPair(dir, "other")
	if err != nil {
		t.Fatal(err)
	}
	otherPub := other.PubFile
	t.Setenv("APPLINK_TEST_KEY", pub)
	for _, tc := range []struct {
		handler map[string]any
		want    string
	}{
		{map[string]any{}, "base_url is required"},
		{map[string]any{"base_url": "ftp://x"}, "scheme must be http or https"},
		{map[string]any{"base_url": "https://x/?a=b"}, "want scheme://host"},
		{map[string]any{"base_url": "https://x", "identity_header": "X User"}, "not a valid header name"},
		{map[string]any{"base_url": "https://x", "legacy_auth": "allow"}, "legacy_auth"},
		{map[string]any{"base_url": "https://x", "timestamp_window": int64(2 * 3600 * 1e9)}, "timestamp_window"},
		{map[string]any{"base_url": "https://x", "consumers": []any{map[string]any{"key": "a", "public_key_file": "/nonexistent/k.pem"}}}, "/nonexistent/k.pem"},
		{map[string]any{"base_url": "https://x", "consumers": []any{map[string]any{"key": "a", "public_key_file": ecKey}}}, "not RSA"},
		{map[string]any{"base_url": "https://x", "consumers": []any{map[string]any{"key": "a", "public_key": "bm90IGEga2V5"}}}, "public_key"},
		{map[string]any{"base_url": "https://x", "consumers": []any{map[string]any{"key": "a"}}}, "needs public_key"},
		// A second key, during a rotation: each mistake names the consumer and the file.
		{map[string]any{"base_url": "https://x", "consumers": []any{map[string]any{"key": "a", "public_key_file": pub, "second_public_key_file": "/nonexistent/next.pem"}}}, `consumer "a": second_public_key_file: open /nonexistent/next.pem`},
		{map[string]any{"base_url": "https://x", "consumers": []any{map[string]any{"key": "a", "public_key_file": pub, "second_public_key_file": ecKey}}}, `consumer "a": second_public_key_file: ` + ecKey + `: key is *ecdsa.PublicKey, not RSA`},
		{map[string]any{"base_url": "https://x", "consumers": []any{map[string]any{"key": "a", "public_key_file": pub, "second_public_key_file": pub}}}, "two public keys are the same key"},
		{map[string]any{"base_url": "https://x", "consumers": []any{map[string]any{"key": "a", "secret": "s", "second_public_key_file": pub}}}, "needs a first public key"},
		{map[string]any{"base_url": "https://x", "consumers": []any{map[string]any{"key": "a", "public_key_file": pub, "second_public_key": "x", "second_public_key_file": pub}}}, "set second_public_key or second_public_key_file, not both"},
		{map[string]any{"base_url": "https://x", "consumers": []any{map[string]any{"key": "a", "public_key_file": pub, "second_public_key_file": otherPub, "two_legged": "svc"}}}, ""},
		{map[string]any{"base_url": "https://x", "consumers": []any{
			map[string]any{"key": "a", "secret": "s"}, map[string]any{"key": "a", "secret": "t"}}}, "configured twice"},
		{map[string]any{"base_url": "https://x", "state": map[string]any{"backend": "file", "path": corrupt}}, corrupt},
		{map[string]any{"base_url": "https://x", "state": map[string]any{"backend": "file", "path": foreignJournal}}, "nonce journal " + store.JournalPathFor(foreignJournal)},
		{map[string]any{"base_url": "https://x", "state": map[string]any{"backend": "redis", "url": "redis://127.0.0.1:1/0"}}, "127.0.0.1:1"},
		{map[string]any{"base_url": "https://x", "state": map[string]any{"backend": "tape"}}, "state must be file, redis or memory"},
		{map[string]any{"base_url": "https://x", "consumers": []any{map[string]any{"key": "bot", "secret": "{env.APPLINK_TEST_UNSET_SECRET}"}}}, "secret {env.APPLINK_TEST_UNSET_SECRET} is empty"},
		{map[string]any{"base_url": "https://x", "forward_oauth": true, "consumers": []any{map[string]any{"key": "a", "secret": "s",
			"impersonation_policy": map[string]any{"map": []string{"lowercase"}}}}}, "impersonation map has no effect with forward_oauth"},
		{map[string]any{"base_url": "https://x", "consumers": []any{map[string]any{"key": "a", "secret": "s",
			"impersonation_policy": map[string]any{"map": []string{"uppercase"}}}}}, `impersonation map "uppercase"`},
		{map[string]any{"base_url": "https://x", "forward_oauth": true, "login": map[string]any{"source": "header", "header": "X-User"}}, "login has no effect with forward_oauth"},
		// {env.*} placeholders resolve: this one is valid.
		{map[string]any{"base_url": "https://x", "consumers": []any{map[string]any{"key": "a", "public_key_file": "{env.APPLINK_TEST_KEY}", "two_legged": "svc"}}}, ""},
	} {
		tc.handler["handler"] = "applink"
		cfg := map[string]any{
			"admin": map[string]any{"disabled": true},
			"apps": map[string]any{"http": map[string]any{"servers": map[string]any{"s": map[string]any{
				"listen": []string{"127.0.0.1:0"},
				"routes": []any{map[string]any{"handle": []any{tc.handler}}},
			}}}},
		}
		raw, _ := json.Marshal(cfg)
		var c caddy.Config
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatal(err)
		}
		checkProvisionError(t, tc.handler, caddy.Validate(&c), tc.want)
	}
}

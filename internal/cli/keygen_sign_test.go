package cli

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/rsakey"
)

func TestCommandsRegistered(t *testing.T) {
	names := map[string]bool{}
	for _, c := range Commands() {
		names[c.Name] = true
		if c.Short == "" || c.Long == "" || c.Usage == "" || c.CobraFunc == nil {
			t.Errorf("%s: incomplete command", c.Name)
		}
	}
	for _, n := range []string{"keygen", "sign", "check", "dance", "health"} {
		if !names[n] {
			t.Errorf("command %s missing", n)
		}
	}
}

func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "sub", "applink")
	code, stdout, stderr := run(t, keygenCommand(), "", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	privPath, pubPath := out+".pem", out+".pub.pem"
	for path, mode := range map[string]os.FileMode{privPath: 0o600, pubPath: 0o644} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), mode)
		}
	}
	privPEM, _ := os.ReadFile(privPath)
	if b, _ := pem.Decode(privPEM); b == nil || b.Type != "PRIVATE KEY" {
		t.Errorf("private key is not PKCS#8 PEM:\n%s", privPEM)
	}
	priv, err := rsakey.LoadPrivate(privPath)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := rsakey.LoadPublic(pubPath)
	if err != nil || !pub.Equal(&priv.PublicKey) || priv.N.BitLen() != 2048 {
		t.Errorf("public key does not match the private one (%v), %d bits", err, priv.N.BitLen())
	}
	info, _ := rsakey.ConsumerInfoString(pub)
	if stdout != info+"\n" {
		t.Errorf("stdout %q, want the consumer-info key string", stdout)
	}
	if !strings.Contains(stderr, privPath) || !strings.Contains(stderr, "0600") || !strings.Contains(stderr, "fingerprint "+rsakey.Fingerprint(pub)+"\n") {
		t.Errorf("stderr %q", stderr)
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 2 {
		t.Errorf("left temporary files: %v", entries)
	}

	// No overwrite without --force; the existing key is kept.
	code, _, stderr = run(t, keygenCommand(), "", "--out", out+".pem")
	if code != 1 || !strings.Contains(stderr, "exists") {
		t.Errorf("second run: exit %d, %q", code, stderr)
	}
	if again, _ := os.ReadFile(privPath); string(again) != string(privPEM) {
		t.Error("existing key overwritten without --force")
	}

	// --force replaces both, and the private file is 0600 even if it was
	// made world-readable meanwhile.
	_ = os.Chmod(privPath, 0o644)
	code, stdout2, stderr := run(t, keygenCommand(), "", "--out", out, "--force", "--bits", "3072")
	if code != 0 {
		t.Fatalf("--force: exit %d %s", code, stderr)
	}
	if fi, _ := os.Stat(privPath); fi.Mode().Perm() != 0o600 {
		t.Errorf("after --force the private key has mode %v", fi.Mode().Perm())
	}
	if k, err := rsakey.LoadPrivate(privPath); err != nil || k.N.BitLen() != 3072 || stdout2 == stdout {
		t.Errorf("--force --bits 3072: %v", err)
	}

	for _, args := range [][]string{{}, {"--out", filepath.Join(dir, "x"), "--bits", "1024"}, {"--out", filepath.Join(dir, "x"), "extra"}} {
		if code, _, _ := run(t, keygenCommand(), "", args...); code != 1 {
			t.Errorf("keygen %q: exit %d, want 1", args, code)
		}
	}
}

func TestSign(t *testing.T) {
	vs := newVerifierServer(t)
	key := ourKeyFile()
	data := filepath.Join(t.TempDir(), "form.txt")
	_ = os.WriteFile(data, []byte("from=file&x=a+b"), 0o600)

	for _, c := range []struct {
		name, stdin string
		args        []string
		code        int
		stdout      []string // substrings
		stderr      []string
	}{
		{name: "2lo", args: []string{vs.srv.URL + "/rest/api/2/myself?expand=a&expand=b&q=a+b"},
			stdout: []string{"user=svc-cli"}, stderr: []string{"HTTP/1.1 200 OK"}},
		{name: "impersonation, -i, headers, base string", args: []string{"-i", "-H", "X-A: 1", "-H", "Authorization: Basic eDp5", "--as", "alice", "--print-base-string", vs.srv.URL + "/rest/x?os_username=admin"},
			stdout: []string{"HTTP/1.1 200 OK\r\n", "X-Mode: 2lo-impersonation\r\n", "\r\n\r\nuser=alice"},
			stderr: []string{"GET&http%3A%2F%2F127.0.0.1", "xoauth_requestor_id%3Dalice"}},
		{name: "POST form -d", args: []string{"-d", "a=1&b=%C3%A9+x&oauth_token=evil", "--as", "bob", vs.srv.URL + "/rest/x"},
			stdout: []string{"user=bob body=a=1&b=%C3%A9+x"}},
		{name: "-d @file", args: []string{"-d", "@" + data, vs.srv.URL + "/rest/x"}, stdout: []string{"user=svc-cli body=from=file&x=a+b"}},
		{name: "-d @- with -X", stdin: "a=1", args: []string{"-X", "post", "-d", "@-", vs.srv.URL + "/rest/x"}, stdout: []string{"user=svc-cli body=a=1"}},
		{name: "JSON body", args: []string{"-H", "Content-Type: application/json", "-d", `{"a":1}`, "--as", "carol", vs.srv.URL + "/rest/api/2/issue"},
			stdout: []string{`user=carol body={"a":1}`}},
		{name: "remote base URL with context path", args: []string{"--remote-base-url", vs.srv.URL + "/jira", vs.srv.URL + "/rest/x"},
			code: 1, stderr: []string{"401 Unauthorized", "oauth_problem signature_invalid"}},
		{name: "wrong key", args: []string{"--key", otherKeyFile(), vs.srv.URL + "/rest/x"}, code: 1,
			stdout: []string{"oauth_problem=signature_invalid"}, stderr: []string{"oauth_problem signature_invalid: the signature does not verify", "applink check"}},
		{name: "3lo token (this provider has no tokens)", args: []string{"--token", "t0k", vs.srv.URL + "/rest/x"}, code: 1,
			stderr: []string{"oauth_problem token_rejected"}},
		{name: "--as and --token", args: []string{"--as", "a", "--token", "t", vs.srv.URL}, code: 1, stderr: []string{"exclude each other"}},
		{name: "--token-secret alone", args: []string{"--token-secret", "s", vs.srv.URL}, code: 1, stderr: []string{"needs --token"}},
		{name: "relative URL", args: []string{"/rest/x"}, code: 1, stderr: []string{"absolute http(s) URL"}},
		{name: "bad header", args: []string{"-H", "nocolon", vs.srv.URL}, code: 1, stderr: []string{`want "Name: value"`}},
		{name: "missing key file", args: []string{"--key", filepath.Join(t.TempDir(), "none.pem"), vs.srv.URL}, code: 1, stderr: []string{"none.pem"}},
		{name: "unreachable", args: []string{"http://127.0.0.1:1/x"}, code: 1, stderr: []string{"connection refused"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"--consumer-key", testConsumer, "--key", key}
			args = append(args, c.args...)
			code, stdout, stderr := run(t, signCommand(), c.stdin, args...)
			if code != c.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, stdout, stderr)
			}
			for _, s := range c.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout %q lacks %q", stdout, s)
				}
			}
			for _, s := range c.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr %q lacks %q", stderr, s)
				}
			}
		})
	}
	for _, seen := range vs.seen {
		if strings.Contains(seen, "oauth_token=evil") {
			t.Errorf("client identity parameter reached the remote: %s", seen)
		}
	}
}

// TestSignPrintsBaseStringTheRemoteChecks: --print-base-string shows
// exactly the base string a verifier reconstructs.
func TestSignPrintsBaseStringTheRemoteChecks(t *testing.T) {
	var theirs string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, params, _ := oauth1.ParseAuthorizationHeader(r.Header.Get("Authorization"))
		q, _ := oauth1.ParseForm(r.URL.RawQuery)
		var all []oauth1.Param
		for _, p := range append(params, q...) {
			if p.Key != "oauth_signature" {
				all = append(all, p)
			}
		}
		theirs = oauth1.BaseString(r.Method, "https://jira.example.com/jira"+r.URL.EscapedPath(), all)
	}))
	defer srv.Close()
	_, _, stderr := run(t, signCommand(), "", "--consumer-key", testConsumer, "--key", ourKeyFile(), "--print-base-string",
		"--remote-base-url", "https://jira.example.com/jira", srv.URL+"/rest/api/2/search?jql=a+b&expand=x&expand=y")
	lines := strings.Split(stderr, "\n")
	if theirs == "" || lines[0] != theirs {
		t.Errorf("printed %q\n remote  %q", lines[0], theirs)
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://elsewhere.example.com/login", http.StatusFound)
	}))
	defer srv.Close()
	code, stdout, _ := run(t, signCommand(), "", "-i", "--consumer-key", testConsumer, "--key", ourKeyFile(), srv.URL+"/x")
	if code != 0 || !strings.Contains(stdout, "302 Found") || !strings.Contains(stdout, "Location: https://elsewhere.example.com/login") {
		t.Errorf("exit %d %q", code, stdout)
	}
}

package main

import (
	"context"
	"crypto/rsa"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	dghubble "github.com/dghubble/oauth1"

	"github.com/caddy-applink/caddy-applink/internal/rsakey"
	"github.com/caddy-applink/caddy-applink/internal/store"
	"github.com/caddy-applink/caddy-applink/internal/testkit"
	"github.com/caddy-applink/caddy-applink/internal/testproc"
)

var tokenTestCaddyfile = `{
	admin localhost:2022
	auto_https off
	servers {
		trusted_proxies static 127.0.0.1/32
	}
}

http://localhost:8087 {
	applink {
		base_url http://localhost:8087
		login header X-Remote-User
		state file %s
		consumer demo:applink {
			name "Demo app"
			public_key_file %s
		}
	}
	reverse_proxy 127.0.0.1:8088
}
` + productStandIn(8088)

// TestTokensOutliveCrashAndRevokeFromCLI: a dghubble/oauth1 client does the
// 3LO dance against the real binary; the proxy is killed with SIGKILL and
// started again, and the token still works; `applink tokens revoke` takes
// effect on the next request.
func TestTokensOutliveCrashAndRevokeFromCLI(t *testing.T) {
	f := newStateFixture(t, tokenTestCaddyfile)
	f.writeConfig()
	bin, dir, cfgFile, key := f.bin, f.dir, f.cfgFile, f.key
	proc := startBinary(t, bin, dir, cfgFile, "http://localhost:8087/")
	config := &dghubble.Config{
		ConsumerKey: "demo:applink",
		CallbackURL: "oob",
		Signer:      &dghubble.RSASigner{PrivateKey: key},
		Endpoint: dghubble.Endpoint{
			RequestTokenURL: "http://localhost:8087/plugins/servlet/oauth/request-token",
			AuthorizeURL:    "http://localhost:8087/plugins/servlet/oauth/authorize",
			AccessTokenURL:  "http://localhost:8087/plugins/servlet/oauth/access-token",
		},
	}
	accessToken, accessSecret := threeLegged(t, config, "alice")
	client := config.Client(context.Background(), dghubble.NewToken(accessToken, accessSecret))
	if body := get(t, client, "http://localhost:8087/rest/api/2/myself", nil); body != "user=alice" {
		t.Fatalf("3LO request reached the product as %q", body)
	}

	// Crash and restart: the token is still there.
	proc.Kill()
	proc = startBinary(t, bin, dir, cfgFile, "http://localhost:8087/")
	if body := get(t, client, "http://localhost:8087/rest/api/2/myself", nil); body != "user=alice" {
		t.Fatalf("after a crash and restart: %q", body)
	}

	// A torn nonce journal costs no token either.
	proc.Stop(syscall.SIGTERM, 10*time.Second)
	<-proc.Done()
	segments, _ := filepath.Glob(filepath.Join(store.JournalPathFor(f.state), "seg-*"))
	for _, seg := range segments {
		if err := os.WriteFile(seg, []byte("torn"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if len(segments) == 0 {
		t.Fatal("no journal segment to tear")
	}
	startBinary(t, bin, dir, cfgFile, "http://localhost:8087/")
	if body := get(t, client, "http://localhost:8087/rest/api/2/myself", nil); body != "user=alice" {
		t.Fatalf("after a restart on a torn journal: %q", body)
	}

	out, err := exec.Command(bin, "tokens", "list", "--address", "localhost:2022").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "alice") || !strings.Contains(string(out), "demo:applink") {
		t.Fatalf("tokens list: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "tokens", "revoke", "--user", "alice", "--address", "localhost:2022").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "revoked 1 token") {
		t.Fatalf("tokens revoke: %v\n%s", err, out)
	}
	resp, err := client.Get("http://localhost:8087/rest/api/2/myself")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `oauth_problem="token_rejected"`) {
		t.Errorf("after revocation: %d %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	// An empty revoke is refused rather than revoking everything.
	if out, err := exec.Command(bin, "tokens", "revoke", "--address", "localhost:2022").CombinedOutput(); err == nil {
		t.Errorf("empty revoke succeeded: %s", out)
	}
}

// productStandIn is a site of a Caddyfile on 127.0.0.1:port, the product
// behind the proxy: it answers with the identity it got.
func productStandIn(port int) string {
	return fmt.Sprintf("\nhttp://:%d {\n\tbind 127.0.0.1\n\trespond \"user={http.request.header.X-Forwarded-User}\"\n}\n", port)
}

// stateFixture is what the tests of a proxy with a state file share: the
// binary, a directory for the Caddyfile and the state file, and the demo
// consumer's private key.
type stateFixture struct {
	t                           *testing.T
	bin, dir, cfgFile, state    string
	template, demoPublicKeyFile string
	key                         *rsa.PrivateKey
}

func newStateFixture(t *testing.T, template string) *stateFixture {
	root, _ := filepath.Abs("../..")
	dir := t.TempDir()
	key, err := rsakey.LoadPrivate(filepath.Join(root, "examples/keys/demo-consumer.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return &stateFixture{t: t, bin: buildBinary(t), dir: dir, cfgFile: filepath.Join(dir, "Caddyfile"),
		state: filepath.Join(dir, "state.db"), template: template,
		demoPublicKeyFile: filepath.Join(root, "examples/keys/demo-consumer.pub.pem"), key: key}
}

// writeConfig writes the Caddyfile: the template with the state file, the
// demo consumer's public key file and extra filled in.
func (f *stateFixture) writeConfig(extra ...any) {
	cfg := fmt.Sprintf(f.template, append([]any{f.state, f.demoPublicKeyFile}, extra...)...)
	if err := os.WriteFile(f.cfgFile, []byte(cfg), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// startBinary runs `applink run` on cfg in dir, its data directory too,
// until the test ends (or it is killed).
func startBinary(t *testing.T, bin, dir, cfg, url string) *testproc.Proc {
	t.Helper()
	return startApplink(t, bin, dir, dir, cfg, url)
}

// approveOOB plays the user at the approval page (through the trusted SSO
// header) and returns the verification code shown for an "oob" callback.
func approveOOB(t *testing.T, authURL, user string) string {
	t.Helper()
	a, err := testkit.Approve(nil, authURL, user, true)
	if err != nil {
		t.Fatal(err)
	}
	if a.Verifier == "" {
		t.Fatalf("no verifier on the page: %d %s", a.Status, a.Result)
	}
	return a.Verifier
}

// threeLegged runs the 1.0a dance with config (an "oob" callback), user
// approving, and returns the access token and its secret.
func threeLegged(t *testing.T, config *dghubble.Config, user string) (string, string) {
	t.Helper()
	reqToken, reqSecret, err := config.RequestToken()
	if err != nil {
		t.Fatalf("request token: %v", err)
	}
	authURL, _ := config.AuthorizationURL(reqToken)
	verifier := approveOOB(t, authURL.String(), user)
	token, secret, err := config.AccessToken(reqToken, reqSecret, verifier)
	if err != nil {
		t.Fatalf("access token: %v", err)
	}
	return token, secret
}

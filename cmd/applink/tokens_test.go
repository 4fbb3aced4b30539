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
	admin {{admin}}
	auto_https off
	servers {
		trusted_proxies static 127.0.0.1/32
	}
}

{{base}} {
	applink {
		base_url {{base}}
		login header X-Remote-User
		state file %s
		consumer demo:applink {
			name "Demo app"
			public_key_file %s
		}
	}
	reverse_proxy {{upstream}}
}
` + productStandIn

// TestTokensOutliveCrashAndRevokeFromCLI: a dghubble/oauth1 client does the
// 3LO dance against the real binary; the proxy is killed with SIGKILL and
// started again, and the token still works; `applink tokens revoke` takes
// effect on the next request.
func TestTokensOutliveCrashAndRevokeFromCLI(t *testing.T) {
	f := newStateFixture(t, tokenTestCaddyfile)
	f.writeConfig()
	bin, dir, cfgFile, key := f.bin, f.dir, f.cfgFile, f.key
	proc := startBinary(t, bin, dir, cfgFile, f.base+"/")
	config := &dghubble.Config{
		ConsumerKey: "demo:applink",
		CallbackURL: "oob",
		Signer:      &dghubble.RSASigner{PrivateKey: key},
		Endpoint: dghubble.Endpoint{
			RequestTokenURL: f.base + "/plugins/servlet/oauth/request-token",
			AuthorizeURL:    f.base + "/plugins/servlet/oauth/authorize",
			AccessTokenURL:  f.base + "/plugins/servlet/oauth/access-token",
		},
	}
	accessToken, accessSecret := threeLegged(t, config, "alice")
	client := config.Client(context.Background(), dghubble.NewToken(accessToken, accessSecret))
	if body := get(t, client, f.base+"/rest/api/2/myself", nil); body != "user=alice" {
		t.Fatalf("3LO request reached the product as %q", body)
	}

	// Crash and restart: the token is still there.
	proc.Kill()
	proc = startBinary(t, bin, dir, cfgFile, f.base+"/")
	if body := get(t, client, f.base+"/rest/api/2/myself", nil); body != "user=alice" {
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
	startBinary(t, bin, dir, cfgFile, f.base+"/")
	if body := get(t, client, f.base+"/rest/api/2/myself", nil); body != "user=alice" {
		t.Fatalf("after a restart on a torn journal: %q", body)
	}

	out, err := exec.Command(bin, "tokens", "list", "--address", f.admin).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "alice") || !strings.Contains(string(out), "demo:applink") {
		t.Fatalf("tokens list: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "tokens", "revoke", "--user", "alice", "--address", f.admin).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "revoked 1 token") {
		t.Fatalf("tokens revoke: %v\n%s", err, out)
	}
	resp, err := client.Get(f.base + "/rest/api/2/myself")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `oauth_problem="token_rejected"`) {
		t.Errorf("after revocation: %d %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	// An empty revoke is refused rather than revoking everything.
	if out, err := exec.Command(bin, "tokens", "revoke", "--address", f.admin).CombinedOutput(); err == nil {
		t.Errorf("empty revoke succeeded: %s", out)
	}
}

// productStandIn is a site of a Caddyfile on {{upstream}} (127.0.0.1 and
// its port), for any Host, the product behind the proxy: it answers with
// the identity it got.
const productStandIn = "\nhttp://:{{upstream_port}} {\n\tbind 127.0.0.1\n\trespond \"user={http.request.header.X-Forwarded-User}\"\n}\n"

// stateFixture is what the tests of a proxy with a state file share: the
// binary, a directory for the Caddyfile and the state file, the demo
// consumer's private key, and free ports: the admin endpoint, the proxy's
// site (base) and the product behind it (upstream).
type stateFixture struct {
	t                           *testing.T
	bin, dir, cfgFile, state    string
	template, demoPublicKeyFile string
	key                         *rsa.PrivateKey
	fixturePorts
	extra []any // of the last writeConfig
}

// fixturePorts are the addresses a fixture's template takes: {{admin}}
// (host:port, or "off"), {{base}} (http://localhost:port) and {{upstream}}
// (127.0.0.1:port; its port alone is {{upstream_port}}).
type fixturePorts struct {
	admin, base, upstream string
}

// newFixturePorts is a set of free ones.
func newFixturePorts(t *testing.T) fixturePorts {
	p := freePorts(t, 3)
	return fixturePorts{admin: fmt.Sprintf("localhost:%d", p[0]), base: fmt.Sprintf("http://localhost:%d", p[1]),
		upstream: fmt.Sprintf("127.0.0.1:%d", p[2])}
}

// fill puts the addresses into a template.
func (p fixturePorts) fill(template string) string {
	_, port, _ := strings.Cut(p.upstream, ":")
	return strings.NewReplacer("{{admin}}", p.admin, "{{base}}", p.base, "{{upstream}}", p.upstream,
		"{{upstream_port}}", port).Replace(template)
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
		demoPublicKeyFile: filepath.Join(root, "examples/keys/demo-consumer.pub.pem"), key: key,
		fixturePorts: newFixturePorts(t)}
}

// writeConfig writes the Caddyfile: the template with the fixture's
// ports, the state file, the demo consumer's public key file and extra
// filled in.
func (f *stateFixture) writeConfig(extra ...any) {
	f.extra = extra
	if err := os.WriteFile(f.cfgFile, []byte(f.config(f.fixturePorts)), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// config is the Caddyfile of the last writeConfig on other ports.
func (f *stateFixture) config(p fixturePorts) string {
	return fmt.Sprintf(p.fill(f.template), append([]any{f.state, f.demoPublicKeyFile}, f.extra...)...)
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

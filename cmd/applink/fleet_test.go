package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dghubble "github.com/dghubble/oauth1"

	"github.com/caddy-applink/caddy-applink/internal/rsakey"
	"github.com/caddy-applink/caddy-applink/internal/testpeer"
	"github.com/caddy-applink/caddy-applink/internal/testproc"
)

const fleetCaddyfile = `{
	admin localhost:%d
	auto_https off
	servers {
		trusted_proxies static 127.0.0.1/32
	}
}

http://localhost:%d {
	applink {
		base_url http://jira.example.com
		login header X-Remote-User
		state redis redis://127.0.0.1:%d/0
		consumer demo:applink {
			public_key_file %s
			two_legged svc-demo
		}
	}
	reverse_proxy 127.0.0.1:8077
}
`

var fleetUpstream = `{
	admin off
	auto_https off
}
` + productStandIn(8077)

// startRedis runs a real redis-server on port until the test ends.
func startRedis(t *testing.T, port int) *testproc.Proc {
	t.Helper()
	p, _, err := testproc.StartRedis("redis-server", port, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

// TestFleetSharesStateThroughRedis: two proxy processes share one real
// Redis. A replay sent to the other instance gets nonce_used; a token
// issued by one works on the other; a revocation on one is seen by the
// other; Redis stopped gives 503 with Retry-After, never a pass, and Redis
// back heals without a restart.
func TestFleetSharesStateThroughRedis(t *testing.T) {
	_, err := exec.LookPath("redis-server")
	testpeer.Require(t, "redis-server", err)
	bin := buildBinary(t)
	root, _ := filepath.Abs("../..")
	dir := t.TempDir()
	rport, err := testproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	redis := startRedis(t, rport)
	pub := filepath.Join(root, "examples/keys/demo-consumer.pub.pem")

	up := filepath.Join(dir, "upstream.caddyfile")
	_ = os.WriteFile(up, []byte(fleetUpstream), 0o644)
	startBinary(t, bin, dir, up, "http://127.0.0.1:8077/")
	urls := [2]string{"http://localhost:8075", "http://localhost:8076"}
	for i, port := range []int{8075, 8076} {
		cfg := filepath.Join(dir, fmt.Sprintf("node%d.caddyfile", i))
		_ = os.WriteFile(cfg, []byte(fmt.Sprintf(fleetCaddyfile, 2025+i, port, rport, pub)), 0o644)
		startBinary(t, bin, filepath.Join(dir), cfg, urls[i]+"/")
	}

	key, err := rsakey.LoadPrivate(filepath.Join(root, "examples/keys/demo-consumer.pem"))
	if err != nil {
		t.Fatal(err)
	}
	// Requests signed for the public base URL, sent to either node.
	signFor := func(token, secret string) *http.Client {
		cfg := &dghubble.Config{ConsumerKey: "demo:applink", Signer: &dghubble.RSASigner{PrivateKey: key}}
		return cfg.Client(context.Background(), dghubble.NewToken(token, secret))
	}
	// dghubble signs the URL it sends to; rewrite the host after signing so
	// the signature covers http://jira.example.com (the base_url).
	send := func(node int, c *http.Client, path string) (*http.Response, string) {
		t.Helper()
		c.Transport.(*dghubble.Transport).Base = &rehost{to: strings.TrimPrefix(urls[node], "http://")}
		resp, err := c.Get("http://jira.example.com" + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	// A replay on the other node.
	rec := &recordingTransport{base: &rehost{to: "localhost:8075"}}
	c := signFor("", "")
	c.Transport.(*dghubble.Transport).Base = rec
	resp, err := c.Get("http://jira.example.com/rest/api/2/myself")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("node A: %v %v", resp, err)
	}
	resp.Body.Close()
	replay, _ := http.NewRequest("GET", urls[1]+"/rest/api/2/myself", nil)
	replay.Host = "localhost:8076"
	replay.Header.Set("Authorization", rec.last.Header.Get("Authorization"))
	resp, err = http.DefaultClient.Do(replay)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `oauth_problem="nonce_used"`) {
		t.Errorf("replay on node B: %d %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}

	// A 3LO token issued by node A works on node B.
	config := &dghubble.Config{ConsumerKey: "demo:applink", CallbackURL: "oob", Signer: &dghubble.RSASigner{PrivateKey: key},
		HTTPClient: &http.Client{Transport: &rehost{to: "localhost:8075"}},
		Endpoint: dghubble.Endpoint{
			RequestTokenURL: "http://jira.example.com/plugins/servlet/oauth/request-token",
			AuthorizeURL:    "http://localhost:8075/plugins/servlet/oauth/authorize",
			AccessTokenURL:  "http://jira.example.com/plugins/servlet/oauth/access-token",
		}}
	at, as := threeLegged(t, config, "alice")
	if _, body := send(1, signFor(at, as), "/rest/api/2/myself"); body != "user=alice" {
		t.Errorf("A's token on node B: %q", body)
	}
	// Revoked on A, refused by B on the next request.
	if out, err := exec.Command(bin, "tokens", "revoke", "--user", "alice", "--address", "localhost:2025").CombinedOutput(); err != nil {
		t.Fatalf("revoke on A: %v %s", err, out)
	}
	if resp, _ := send(1, signFor(at, as), "/rest/api/2/myself"); resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "token_rejected") {
		t.Errorf("revoked token on node B: %d %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}

	// Redis stops: refused with 503 and Retry-After, never passed.
	redis.Kill()
	resp, body := send(0, signFor("", ""), "/rest/api/2/myself")
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || strings.Contains(body, "user=") {
		t.Errorf("Redis down: %d Retry-After=%q body %q", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if r, err := http.Get("http://localhost:2025/applink/ready"); err != nil || r.StatusCode != 503 {
		t.Errorf("readiness with Redis down: %v %v", r, err)
	}
	// Redis back on the same port: served again, no restart.
	startRedis(t, rport)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, body := send(0, signFor("", ""), "/rest/api/2/myself")
		if resp.StatusCode == 200 && body == "user=svc-demo" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not healed after Redis came back: %d %q", resp.StatusCode, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// rehost sends requests to another address while keeping the URL (and so
// the signature) of the public name.
type rehost struct{ to string }

func (h *rehost) RoundTrip(r *http.Request) (*http.Response, error) {
	r2 := r.Clone(r.Context())
	r2.URL.Host = h.to
	r2.Host = h.to
	return http.DefaultTransport.RoundTrip(r2)
}

type recordingTransport struct {
	base http.RoundTripper
	last *http.Request
}

func (t *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.last = r
	return t.base.RoundTrip(r)
}

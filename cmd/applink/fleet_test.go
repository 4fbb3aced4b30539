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
	admin %s
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
	reverse_proxy %s
}
`

var fleetUpstream = `{
	admin off
	auto_https off
}
` + productStandIn

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

	// Free ports: the product, and each node's admin endpoint and site.
	ports := freePorts(t, 5)
	upstream := fmt.Sprintf("127.0.0.1:%d", ports[0])
	admins := [2]string{fmt.Sprintf("localhost:%d", ports[1]), fmt.Sprintf("localhost:%d", ports[2])}
	hosts := [2]string{fmt.Sprintf("localhost:%d", ports[3]), fmt.Sprintf("localhost:%d", ports[4])}
	urls := [2]string{"http://" + hosts[0], "http://" + hosts[1]}
	up := filepath.Join(dir, "upstream.caddyfile")
	_ = os.WriteFile(up, []byte(fixturePorts{upstream: upstream}.fill(fleetUpstream)), 0o644)
	startBinary(t, bin, dir, up, "http://"+upstream+"/")
	for i := range urls {
		cfg := filepath.Join(dir, fmt.Sprintf("node%d.caddyfile", i))
		_ = os.WriteFile(cfg, []byte(fmt.Sprintf(fleetCaddyfile, admins[i], ports[3+i], rport, pub, upstream)), 0o644)
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
	rec := &recordingTransport{base: &rehost{to: hosts[0]}}
	c := signFor("", "")
	c.Transport.(*dghubble.Transport).Base = rec
	resp, err := c.Get("http://jira.example.com/rest/api/2/myself")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("node A: %v %v", resp, err)
	}
	resp.Body.Close()
	replay, _ := http.NewRequest("GET", urls[1]+"/rest/api/2/myself", nil)
	replay.Host = hosts[1]
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
		HTTPClient: &http.Client{Transport: &rehost{to: hosts[0]}},
		Endpoint: dghubble.Endpoint{
			RequestTokenURL: "http://jira.example.com/plugins/servlet/oauth/request-token",
			AuthorizeURL:    urls[0] + "/plugins/servlet/oauth/authorize",
			AccessTokenURL:  "http://jira.example.com/plugins/servlet/oauth/access-token",
		}}
	at, as := threeLegged(t, config, "alice")
	if _, body := send(1, signFor(at, as), "/rest/api/2/myself"); body != "user=alice" {
		t.Errorf("A's token on node B: %q", body)
	}
	// Revoked on A, refused by B on the next request.
	if out, err := exec.Command(bin, "tokens", "revoke", "--user", "alice", "--address", admins[0]).CombinedOutput(); err != nil {
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
	if r, err := http.Get("http://" + admins[0] + "/applink/ready"); err != nil || r.StatusCode != 503 {
		t.Errorf("readiness with Redis down: %v %v", r, err)
	}
	if out, err := exec.Command(bin, "health", "--address", admins[0]).CombinedOutput(); err == nil || !strings.Contains(string(out), fmt.Sprintf("not ready: redis 127.0.0.1:%d", rport)) {
		t.Errorf("applink health with Redis down: %v %s", err, out)
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

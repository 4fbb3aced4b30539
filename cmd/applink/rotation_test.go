package main

import (
	"context"
	"crypto/rsa"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dghubble "github.com/dghubble/oauth1"

	"github.com/caddy-applink/caddy-applink/internal/rsakey"
	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

// rotationCaddyfile is stateCaddyfile whose consumer takes a second key
// line (the last %s).
var rotationCaddyfile = `{
	admin {{admin}}
	auto_https off
}

{{base}} {
	applink {
		base_url {{base}}
		state file %s
		consumer demo:applink {
			public_key_file %s
			%s
			impersonation
		}
	}
	reverse_proxy {{upstream}}
}
` + productStandIn

// TestKeyRotationRefusesNobody runs the incoming runbook of
// docs/key-rotation.md against the real binary while a linked app signs
// without pause: `applink keygen` makes the next key; the consumer takes
// it as a second public_key_file (reload); the app switches to signing
// with it; the old key is removed (reload). No request is refused, and
// the metric and the log name the key that verified.
func TestKeyRotationRefusesNobody(t *testing.T) {
	f := newStateFixture(t, rotationCaddyfile)
	next := filepath.Join(f.dir, "next")
	if out, err := exec.Command(f.bin, "keygen", "--out", next).CombinedOutput(); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	nextKey, err := rsakey.LoadPrivate(next + ".pem")
	if err != nil {
		t.Fatal(err)
	}
	oldFP, nextFP := rsakey.Fingerprint(&f.key.PublicKey), rsakey.Fingerprint(&nextKey.PublicKey)

	f.writeConfig("")
	_, logs := launchApplink(t, f.bin, f.dir, f.dir, f.cfgFile, f.base+"/")
	time.Sleep(1100 * time.Millisecond) // the start second (state file's journal is new)

	pooled := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	ctx := context.WithValue(context.Background(), dghubble.HTTPClient, pooled)
	signingWith := func(k *rsa.PrivateKey) *http.Client {
		return (&dghubble.Config{ConsumerKey: "demo:applink", Signer: &dghubble.RSASigner{PrivateKey: k}}).Client(ctx, dghubble.NewToken("", ""))
	}
	var client atomic.Pointer[http.Client]
	client.Store(signingWith(f.key))

	var sent, refused atomic.Int64
	var firstRefusal atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				url := fmt.Sprintf("%s/rest/api/2/myself?xoauth_requestor_id=u%d", f.base, w)
				c := client.Load()
				resp, err := c.Get(url)
				if testkit.ResetWhileReloading(err) {
					resp, err = c.Get(url) // never sent: see ResetWhileReloading
				}
				sent.Add(1)
				if err != nil {
					refused.Add(1)
					firstRefusal.CompareAndSwap(nil, err.Error())
					continue
				}
				if resp.StatusCode != http.StatusOK {
					refused.Add(1)
					firstRefusal.CompareAndSwap(nil, fmt.Sprintf("%d %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate")))
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}(w)
	}
	pause := func() { time.Sleep(500 * time.Millisecond) }
	pause()
	// 1. The consumer accepts both keys.
	f.writeConfig("public_key_file " + next + ".pub.pem")
	if err := f.reload(); err != nil {
		t.Fatal(err)
	}
	pause()
	// 2. The linked app signs with its new key.
	client.Store(signingWith(nextKey))
	pause()
	metrics := scrapeMetrics(t, f.admin)
	// 3. The old key is removed.
	f.demoPublicKeyFile = next + ".pub.pem"
	f.writeConfig("")
	if err := f.reload(); err != nil {
		t.Fatal(err)
	}
	pause()
	close(stop)
	wg.Wait()

	if sent.Load() < 30 {
		t.Fatalf("only %d requests sent", sent.Load())
	}
	if n := refused.Load(); n != 0 {
		t.Errorf("%d of %d requests refused during the rotation; first: %v", n, sent.Load(), firstRefusal.Load())
	}
	for _, fp := range []string{oldFP, nextFP} {
		re := regexp.MustCompile(`caddy_applink_public_key_verified_total\{consumer="demo:applink",key="` + fp + `"\} ([0-9]+)`)
		if m := re.FindStringSubmatch(metrics); m == nil || m[1] == "0" {
			t.Errorf("no verification counted for key %s:\n%s", fp, grepLines(metrics, "public_key_verified"))
		}
	}
	if !strings.Contains(logs.String(), `"public key in use"`) || !strings.Contains(logs.String(), nextFP) {
		t.Errorf("the log does not say the new key %s came into use:\n%s", nextFP, grepLines(logs.String(), "public key"))
	}
	// After the rotation the old key no longer verifies.
	resp, err := signingWith(f.key).Get(f.base + "/rest/api/2/myself?xoauth_requestor_id=u")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "signature_invalid") {
		t.Errorf("the removed key: %d %s; want 401 signature_invalid", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	t.Logf("%d requests across the rotation (two reloads), none refused", sent.Load())
}

// scrapeMetrics reads the admin endpoint's /metrics.
func scrapeMetrics(t *testing.T, admin string) string {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// grepLines is the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestOutgoingKeyRotationRefusesNobody: a gateway signs towards a remote
// that holds one public key for it, as an Atlassian product does. With the
// next key as next_private_key_file, the remote's administrator swaps the
// public key while requests run, and no request is refused: the one the
// remote refuses is signed again with the next key, which the transport
// then signs with first.
func TestOutgoingKeyRotationRefusesNobody(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	root, _ := filepath.Abs("../..")
	current := filepath.Join(root, "examples/keys/demo-gateway")
	next := filepath.Join(dir, "gateway-next")
	if out, err := exec.Command(bin, "keygen", "--out", next).CombinedOutput(); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	p := freePorts(t, 5)
	remoteAdmin, remotePort, gatewayAdmin, gatewayPort, productPort := p[0], p[1], p[2], p[3], p[4]
	remoteCfg := filepath.Join(dir, "remote.Caddyfile")
	writeRemote := func(pubFile string) {
		cfg := fmt.Sprintf(`{
	admin localhost:%d
	auto_https off
}
http://localhost:%d {
	applink {
		base_url http://localhost:%d
		state memory
		consumer gateway:test {
			public_key_file %s
			impersonation
		}
	}
	reverse_proxy 127.0.0.1:%d
}
http://:%d {
	bind 127.0.0.1
	respond "user={http.request.header.X-Forwarded-User}"
}
`, remoteAdmin, remotePort, remotePort, pubFile, productPort, productPort)
		if err := os.WriteFile(remoteCfg, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeRemote(current + ".pub.pem")
	gatewayCfg := filepath.Join(dir, "gateway.Caddyfile")
	if err := os.WriteFile(gatewayCfg, []byte(fmt.Sprintf(`{
	admin localhost:%d
	auto_https off
}
http://localhost:%d {
	reverse_proxy localhost:%d {
		transport applink {
			consumer_key gateway:test
			private_key_file %s.pem
			next_private_key_file %s.pem
			mode impersonation
			user {http.request.header.X-User}
		}
	}
}
`, gatewayAdmin, gatewayPort, remotePort, current, next)), 0o644); err != nil {
		t.Fatal(err)
	}
	remoteHome, gatewayHome := filepath.Join(dir, "remote"), filepath.Join(dir, "gateway")
	launchApplink(t, bin, dir, remoteHome, remoteCfg, fmt.Sprintf("http://localhost:%d/", remotePort))
	_, gatewayLog := launchApplink(t, bin, dir, gatewayHome, gatewayCfg, fmt.Sprintf("http://localhost:%d/", gatewayPort))
	time.Sleep(1100 * time.Millisecond) // the remote's memory store refuses its start second

	var sent, refused atomic.Int64
	var firstRefusal atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("GET", fmt.Sprintf("http://localhost:%d/rest/api/2/myself", gatewayPort), nil)
				req.Header.Set("X-User", fmt.Sprintf("u%d", w))
				resp, err := client.Do(req)
				sent.Add(1)
				if err != nil {
					refused.Add(1)
					firstRefusal.CompareAndSwap(nil, err.Error())
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || string(body) != fmt.Sprintf("user=u%d", w) {
					refused.Add(1)
					firstRefusal.CompareAndSwap(nil, fmt.Sprintf("%d %q %s", resp.StatusCode, body, resp.Header.Get("WWW-Authenticate")))
				}
			}
		}(w)
	}
	time.Sleep(500 * time.Millisecond)
	// The remote's administrator replaces the public key of the link.
	writeRemote(next + ".pub.pem")
	if out, err := exec.Command(bin, "reload", "--config", remoteCfg, "--adapter", "caddyfile", "--address", fmt.Sprintf("localhost:%d", remoteAdmin)).CombinedOutput(); err != nil {
		t.Fatalf("reload of the remote: %v\n%s", err, out)
	}
	time.Sleep(700 * time.Millisecond)
	close(stop)
	wg.Wait()

	if sent.Load() < 30 {
		t.Fatalf("only %d requests sent", sent.Load())
	}
	if n := refused.Load(); n != 0 {
		t.Errorf("%d of %d requests refused across the remote's key swap; first: %v", n, sent.Load(), firstRefusal.Load())
	}
	nextKey, err := rsakey.LoadPrivate(next + ".pem")
	if err != nil {
		t.Fatal(err)
	}
	if log := gatewayLog.String(); !strings.Contains(log, "remote accepts the other private key") || !strings.Contains(log, rsakey.Fingerprint(&nextKey.PublicKey)) {
		t.Errorf("the gateway's log does not say it moved to the next key:\n%s", grepLines(log, "key"))
	}
	t.Logf("%d requests across the remote's key swap, none refused", sent.Load())
}

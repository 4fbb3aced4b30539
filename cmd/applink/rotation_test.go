package main

import (
	"context"
	"crypto/rsa"
	"fmt"
	"io"
	"net/http"
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

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dghubble "github.com/dghubble/oauth1"

	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

// reload runs `applink reload` on the fixture's Caddyfile, through the
// fixture's admin address.
func (f *stateFixture) reload() error {
	out, err := exec.Command(f.bin, "reload", "--config", f.cfgFile, "--adapter", "caddyfile", "--address", f.admin).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w\n%s", err, out)
	}
	return nil
}

// stateCaddyfile is a proxy with a state file, for the reload,
// crash-replay and window tests, on the fixture's ports; the last %s takes
// more applink options.
var stateCaddyfile = `{
	admin {{admin}}
	auto_https off
}

{{base}} {
	applink {
		base_url {{base}}
		state file %s
		consumer demo:applink {
			public_key_file %s
			two_legged svc-demo
			impersonation
		}
		%s
	}
	reverse_proxy {{upstream}}
}
` + productStandIn

// TestReloadUnderLoad: `applink reload` three times while signed requests
// run; no request fails, and the bbolt state file is never opened twice (a
// second open would wait on the file lock and fail the reload).
func TestReloadUnderLoad(t *testing.T) {
	f := newStateFixture(t, stateCaddyfile)
	write := func(extra string) { f.writeConfig(extra) }
	write("")
	bin, cfgFile, key := f.bin, f.cfgFile, f.key
	startBinary(t, bin, f.dir, cfgFile, f.base+"/")
	// A pooled keep-alive client, as linked apps use: every worker keeps its
	// connection. (New TCP connections that arrive in the instant Caddy
	// hands its listener to the new config can be reset by the kernel; that
	// is Caddy's reload, not this module, and clients retry them.)
	pooled := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	ctx := context.WithValue(context.Background(), dghubble.HTTPClient, pooled)
	client := (&dghubble.Config{ConsumerKey: "demo:applink", Signer: &dghubble.RSASigner{PrivateKey: key}}).
		Client(ctx, dghubble.NewToken("", ""))

	var sent, failed, retried atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				url := fmt.Sprintf("%s/rest/api/2/myself?xoauth_requestor_id=u%d-%d", f.base, w, i)
				resp, err := client.Get(url)
				if testkit.ResetWhileReloading(err) {
					retried.Add(1)
					resp, err = client.Get(url) // never sent: see ResetWhileReloading
				}
				sent.Add(1)
				if err != nil {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
					continue
				}
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("%d %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate")))
				}
				// Drain, so the connection is reused as real clients do.
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}(w)
	}
	for i, extra := range []string{"timestamp_window 4m", "timestamp_window 5m", "max_form_body 2MiB"} {
		time.Sleep(400 * time.Millisecond)
		write(extra)
		start := time.Now()
		if err := f.reload(); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		if d := time.Since(start); d > 1500*time.Millisecond {
			t.Errorf("reload %d took %s: waiting on the state file lock?", i, d)
		}
	}
	time.Sleep(400 * time.Millisecond)
	close(stop)
	wg.Wait()
	if sent.Load() < 20 {
		t.Fatalf("only %d requests sent", sent.Load())
	}
	if n := failed.Load(); n != 0 {
		t.Errorf("%d of %d requests failed during reloads; first: %v", n, sent.Load(), firstFailure.Load())
	}
	t.Logf("%d requests, 3 reloads, %d failures, %d sent again after a connection reset before it was accepted", sent.Load(), failed.Load(), retried.Load())
}

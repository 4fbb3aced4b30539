//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

type span struct{ from, to time.Time }

var verifierCode = regexp.MustCompile(`<code id="verifier">([^<]+)</code>`)

// obtainAccessToken runs the 1.0a dance from Go with an "oob" callback:
// request token, approval by user behind the SSO, the verifier read off
// the page, access token.
func obtainAccessToken(t *testing.T, user string) url.Values {
	t.Helper()
	c := newClient(false)
	status, problem, rt := tokenCall(t, c, requestTokenPath, "", oauth1.Param{Key: "oauth_callback", Value: "oob"})
	if status != http.StatusOK || rt.Get("oauth_token") == "" || rt.Get("oauth_callback_confirmed") != "true" {
		t.Fatalf("request token: %d %s %v", status, problem, rt)
	}
	loc, page := approveAs(t, proxyBase+authorizePath+"?oauth_token="+url.QueryEscape(rt.Get("oauth_token")), user)
	m := verifierCode.FindStringSubmatch(page)
	if loc != nil || m == nil {
		t.Fatalf("oob approval: redirect %v, page:\n%s", loc, page)
	}
	status, problem, at := tokenCall(t, c, accessTokenPath, rt.Get("oauth_token"), oauth1.Param{Key: "oauth_verifier", Value: m[1]})
	if status != http.StatusOK || at.Get("oauth_token") == "" {
		t.Fatalf("access token: %d %s %v", status, problem, at)
	}
	return at
}

// reload loads cfg as a config reload: it must finish within the load
// timeout (a reload that waits for the state file's lock would not).
func reload(t *testing.T, rec *recorder, cfg proxyConfig) time.Duration {
	t.Helper()
	start := time.Now()
	testkit.LoadCaddy(t, adminPort, 10*time.Second, cfg.caddyfile(rec))
	return time.Since(start)
}

// use3LO makes one 3LO request with token and checks it reached the
// product as user.
func use3LO(t *testing.T, rec *recorder, c *http.Client, token, user, name string) {
	t.Helper()
	mark := rec.Mark()
	resp, body := do(t, c, signed(t, http.MethodGet, "/rest/api/2/myself?case="+name, "", token))
	if resp.StatusCode != http.StatusOK || body != "user="+user {
		t.Fatalf("%s: 3LO request as %s: %d %s %q", name, user, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
	}
	if r := find(rec, mark, name); len(r) == 1 {
		checkUpstream(t, r[0], user)
	} else {
		t.Errorf("%s: reached the product %d times", name, len(r))
	}
}

// TestTokensSurviveReload: with `state file`, access tokens outlive config
// reloads (the open bbolt file is shared, never opened twice, so a reload
// does not wait for its own lock), requests in flight during reloads all
// succeed as the right user, the nonce store survives a reload (a replay
// still fails), and after the proxy is stopped (the file closed and its
// lock released) and started again, the tokens still work, from the file,
// while a request signed before the stop is refused.
func TestTokensSurviveReload(t *testing.T) {
	rec := newRecorder(t)
	state := filepath.Join(t.TempDir(), "state.db")
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	// Equivalent configs: each variant adds a subdirective set to its default.
	variants := []string{"", "timestamp_window 5m", "request_token_ttl 10m", "max_form_body 1MiB"}
	config := func(i int) proxyConfig {
		return proxyConfig{
			Login:   "login header X-Remote-User",
			State:   "state file " + state,
			Applink: variants[i%len(variants)],
			LogFile: logFile,
		}
	}
	loadProxy(t, rec, config(0))
	alice := obtainAccessToken(t, "alice")
	bob := obtainAccessToken(t, "bob")
	c := newClient(false)
	use3LO(t, rec, c, alice.Get("oauth_token"), "alice", "before-reload")

	t.Run("reload", func(t *testing.T) {
		signedBefore := signed(t, http.MethodGet, "/rest/api/2/myself?case=replayed-across-reload", "", alice.Get("oauth_token"))
		if resp, _ := do(t, c, signedBefore); resp.StatusCode != http.StatusOK {
			t.Fatalf("original request: %d", resp.StatusCode)
		}
		took := reload(t, rec, config(1))
		t.Logf("reload took %s", took)
		use3LO(t, rec, c, alice.Get("oauth_token"), "alice", "after-reload")
		use3LO(t, rec, c, bob.Get("oauth_token"), "bob", "after-reload-bob")
		replay, _ := http.NewRequest(http.MethodGet, signedBefore.URL.String(), nil)
		replay.Header = signedBefore.Header.Clone()
		if resp, _ := do(t, c, replay); resp.StatusCode != http.StatusUnauthorized || problemOf(resp) != "nonce_used" {
			t.Errorf("replay after a reload: %d %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		// New tokens can still be issued after the reload.
		carol := obtainAccessToken(t, "carol")
		use3LO(t, rec, c, carol.Get("oauth_token"), "carol", "issued-after-reload")
	})

	t.Run("reloads while requests run", func(t *testing.T) {
		type failure struct {
			user string
			at   time.Time
			what string
		}
		var (
			mu       sync.Mutex
			failures []failure
			done     = map[string][]span{} // per user: each iteration, signing included
			inFlight = map[string]int{}    // per user: round trips overlapping a reload
			retried  = map[string]int{}    // per user: connections reset before they were accepted
			stop     = make(chan struct{})
			windows  []span // the reloads
			wg       sync.WaitGroup
		)
		loop := func(user, token string) {
			defer wg.Done()
			client := newClient(false)
			for i := 0; i < 5000; i++ { // bounded; normally stopped long before
				select {
				case <-stop:
					return
				default:
				}
				what := ""
				iterStart := time.Now()
				var sent time.Time
				req, err := signRequest(http.MethodGet, fmt.Sprintf("/rest/api/2/myself?case=loop-%s&i=%d", user, i), "", token)
				if err == nil {
					var resp *http.Response
					sent = time.Now()
					resp, err = client.Do(req)
					if testkit.ResetWhileReloading(err) {
						mu.Lock()
						retried[user]++
						mu.Unlock()
						resp, err = client.Do(req) // never sent: see ResetWhileReloading
					}
					if err == nil {
						body, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						if resp.StatusCode != http.StatusOK || string(body) != "user="+user {
							what = fmt.Sprintf("%d %s %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
						}
					}
				}
				if err != nil {
					what = err.Error()
				}
				mu.Lock()
				if what != "" {
					failures = append(failures, failure{user, time.Now(), what})
				}
				end := time.Now()
				done[user] = append(done[user], span{iterStart, end})
				for _, w := range windows {
					if !sent.IsZero() && sent.Before(w.to) && end.After(w.from) {
						inFlight[user]++
					}
				}
				mu.Unlock()
			}
		}
		wg.Add(2)
		go loop("alice", alice.Get("oauth_token"))
		go loop("bob", bob.Get("oauth_token"))
		time.Sleep(200 * time.Millisecond)
		for i := 2; i <= 7; i++ {
			from := time.Now()
			reload(t, rec, config(i))
			mu.Lock()
			windows = append(windows, span{from, time.Now()})
			mu.Unlock()
			time.Sleep(100 * time.Millisecond)
		}
		close(stop)
		wg.Wait()
		for _, f := range failures {
			t.Errorf("request as %s failed at %s: %s", f.user, f.at.Format("15:04:05.000"), f.what)
		}
		for user, spans := range done {
			t.Logf("%s: %d requests, %d of them in flight during one of %d reloads, %d sent again after a connection reset before it was accepted", user, len(spans), inFlight[user], len(windows), retried[user])
			for i, w := range windows {
				overlap := false
				for _, s := range spans {
					overlap = overlap || (s.from.Before(w.to) && s.to.After(w.from))
				}
				if !overlap {
					t.Errorf("the requests of %s stopped during reload %d (%s)", user, i+1, w.to.Sub(w.from))
				}
			}
		}
		if len(done) != 2 {
			t.Errorf("loops ran for %d users, want 2", len(done))
		}
	})

	t.Run("stop and start", func(t *testing.T) {
		signedBefore := signed(t, http.MethodGet, "/rest/api/2/myself?case=signed-before-stop", "", alice.Get("oauth_token"))
		reload(t, rec, proxyConfig{Down: true, LogFile: logFile})
		if resp, body := do(t, c, signed(t, http.MethodGet, "/rest/api/2/myself", "", alice.Get("oauth_token"))); resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("with the proxy down: %d %q", resp.StatusCode, body)
		}
		// The state file is closed and unlocked: another process could open it.
		db, err := bolt.Open(state, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
		if err != nil {
			t.Fatalf("state file still locked after the proxy stopped: %v", err)
		}
		_ = db.Close()
		// A stolen state file alone does not give the tokens away.
		raw, err := os.ReadFile(state)
		if err != nil {
			t.Fatal(err)
		}
		for _, who := range []url.Values{alice, bob} {
			for _, k := range []string{"oauth_token", "oauth_token_secret", "oauth_session_handle"} {
				if v := who.Get(k); v == "" || bytes.Contains(raw, []byte(v)) {
					t.Errorf("the state file holds %s %q in clear", k, v)
				}
			}
		}

		reload(t, rec, config(0))
		// A new memory nonce store, and the journal beside the state file
		// read back: a request signed before the stop passes once, and
		// its replay is refused.
		mark := rec.Mark()
		if resp, body := do(t, c, signedBefore); resp.StatusCode != http.StatusOK {
			t.Errorf("request signed before the stop, sent after the start: %d %q %s", resp.StatusCode, body, resp.Header.Get("WWW-Authenticate"))
		}
		if resp, _ := do(t, c, signedBefore); resp.StatusCode != http.StatusUnauthorized || problemOf(resp) != "nonce_used" {
			t.Errorf("its replay: %d %s; want 401 nonce_used", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		if got := find(rec, mark, "signed-before-stop"); len(got) != 1 || got[0].Header.Get("X-Forwarded-User") != "alice" {
			t.Errorf("the request signed before the stop reached the product %d times, want once as alice", len(got))
		}
		use3LO(t, rec, c, alice.Get("oauth_token"), "alice", "after-restart")
		use3LO(t, rec, c, bob.Get("oauth_token"), "bob", "after-restart-bob")
		// Renewal with the session handle still works from the file.
		status, problem, renewed := tokenCall(t, c, accessTokenPath, alice.Get("oauth_token"),
			oauth1.Param{Key: "oauth_session_handle", Value: alice.Get("oauth_session_handle")})
		if status != http.StatusOK || renewed.Get("oauth_token") == "" {
			t.Fatalf("renewal after restart: %d %s", status, problem)
		}
		use3LO(t, rec, c, renewed.Get("oauth_token"), "alice", "renewed-after-restart")
		if resp, _ := do(t, c, signed(t, http.MethodGet, "/rest/api/2/myself?case=old-after-renewal", "", alice.Get("oauth_token"))); resp.StatusCode != http.StatusUnauthorized || problemOf(resp) != "token_rejected" {
			t.Errorf("the renewed token still works: %d %s", resp.StatusCode, problemOf(resp))
		}
	})
}

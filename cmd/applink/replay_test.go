package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/signer"
	"github.com/caddy-applink/caddy-applink/internal/store"
)

// TestReplayAfterCrashRefused: a client whose clock runs two minutes ahead
// sends a signed request; the proxy is killed with SIGKILL and started
// again, and the same request, replayed, is refused with nonce_used. Without
// the journal beside the state file, the restarted proxy would have
// forgotten the nonce while the timestamp was still acceptable.
func TestReplayAfterCrashRefused(t *testing.T) {
	f := newStateFixture(t, stateCaddyfile)
	f.writeConfig("")
	bin, dir, cfgFile, state := f.bin, f.dir, f.cfgFile, f.state
	ahead, err := signer.New(signer.Config{ConsumerKey: "demo:applink", PrivateKey: f.key, RemoteBaseURL: f.base,
		Clock: func() time.Time { return time.Now().Add(2 * time.Minute) }})
	if err != nil {
		t.Fatal(err)
	}
	signed := func(path string) *http.Request {
		req, _ := http.NewRequest("GET", f.base+path, nil)
		if err := ahead.Sign(req, signer.Mode2LO, "", nil); err != nil {
			t.Fatal(err)
		}
		return req
	}

	proc := startBinary(t, bin, dir, cfgFile, f.base+"/")
	req := signed("/rest/api/2/myself")
	if code, body, _ := resend(t, req); code != 200 || body != "user=svc-demo" {
		t.Fatalf("request stamped 2 minutes ahead: %d %q", code, body)
	}
	if code, _, auth := resend(t, req); code != 401 || !strings.Contains(auth, `oauth_problem="nonce_used"`) {
		t.Fatalf("replay before the crash: %d %s", code, auth)
	}

	proc.Kill()
	startBinary(t, bin, dir, cfgFile, f.base+"/")

	if code, body, auth := resend(t, req); code != 401 || !strings.Contains(auth, `oauth_problem="nonce_used"`) {
		t.Fatalf("replay after a crash and restart: %d %q %s; want 401 nonce_used", code, body, auth)
	}
	// The restarted proxy still serves fresh requests, ahead or not.
	if code, body, _ := resend(t, signed("/rest/api/2/myself")); code != 200 || body != "user=svc-demo" {
		t.Errorf("fresh request after the restart: %d %q", code, body)
	}

	// The journal holds digests, not nonce keys (which hold access tokens
	// in 3LO).
	segments, err := filepath.Glob(filepath.Join(store.JournalPathFor(state), "seg-*"))
	if err != nil || len(segments) == 0 {
		t.Fatalf("no journal segments beside the state file: %v", err)
	}
	nonce := oauthParam(req.Header.Get("Authorization"), "oauth_nonce")
	for _, seg := range segments {
		data, err := os.ReadFile(seg)
		if err != nil {
			t.Fatal(err)
		}
		if nonce == "" || bytes.Contains(data, []byte(nonce)) {
			t.Errorf("%s holds the nonce %q in clear (or no nonce was found)", seg, nonce)
		}
	}
}

// resend sends a copy of a signed request (so that it can be sent again)
// and returns the status, the body and WWW-Authenticate.
func resend(t *testing.T, req *http.Request) (int, string, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req.Clone(req.Context()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header.Get("WWW-Authenticate")
}

// oauthParam returns a parameter of an OAuth Authorization header, still
// percent-encoded.
func oauthParam(header, name string) string {
	for _, p := range strings.Split(strings.TrimPrefix(header, "OAuth "), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if k == name {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// TestLengthenedWindowRefusesForgottenNonces: a reload that lengthens
// timestamp_window must not let through the replay of a request whose
// nonce was kept for the old window only. Under a 2-s window the proxy keeps
// a nonce 3 s after its stamp. Request 1 is replayed after that, request 2
// before; then `applink reload` lengthens the window to a minute, under
// which both stamps are acceptable. Request 1's nonce is gone, so its stamp
// is refused, as after a restart; request 2's nonce is kept for the new
// window. Without either, its replay would pass.
func TestLengthenedWindowRefusesForgottenNonces(t *testing.T) {
	f := newStateFixture(t, stateCaddyfile)
	f.writeConfig("timestamp_window 2s")
	startBinary(t, f.bin, f.dir, f.cfgFile, f.base+"/")
	sg, err := signer.New(signer.Config{ConsumerKey: "demo:applink", PrivateKey: f.key, RemoteBaseURL: f.base})
	if err != nil {
		t.Fatal(err)
	}
	send := func(req *http.Request) (int, string) {
		t.Helper()
		code, _, auth := resend(t, req)
		return code, auth
	}
	signed := func() (*http.Request, time.Time) {
		req, _ := http.NewRequest("GET", f.base+"/rest/api/2/myself", nil)
		if err := sg.Sign(req, signer.Mode2LO, "", nil); err != nil {
			t.Fatal(err)
		}
		ts, err := strconv.ParseInt(oauthParam(req.Header.Get("Authorization"), "oauth_timestamp"), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if code, auth := send(req); code != 200 {
			t.Fatalf("first send: %d %s", code, auth)
		}
		return req, time.Unix(ts, 0)
	}

	first, _ := signed()
	time.Sleep(3500 * time.Millisecond) // its nonce is forgotten: stamp + 3 s has passed
	second, stamped := signed()
	f.writeConfig("timestamp_window 1m")
	if err := f.reload(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if time.Since(stamped) >= 3*time.Second {
		t.Fatalf("the reload took until %s after the second request's stamp: its nonce was gone before it", time.Since(stamped))
	}
	if code, auth := send(first); code != 400 || !strings.Contains(auth, `oauth_problem="timestamp_refused"`) {
		t.Errorf("replay of a request whose nonce the old window forgot: %d %s; want 400 timestamp_refused", code, auth)
	}
	time.Sleep(time.Until(stamped.Add(4 * time.Second))) // the old window would have forgotten it
	if code, auth := send(second); code != 401 || !strings.Contains(auth, `oauth_problem="nonce_used"`) {
		t.Errorf("replay of a request held when the window grew: %d %s; want 401 nonce_used", code, auth)
	}
	signed() // a fresh request still passes
}

package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/signer"
	"github.com/caddy-applink/caddy-applink/internal/store"
)

// restartFixture runs the real binary on a state file and signs 2LO
// requests with clocks of its choosing.
type restartFixture struct {
	*stateFixture
}

func newRestartFixture(t *testing.T, extra string) *restartFixture {
	f := &restartFixture{stateFixture: newStateFixture(t, stateCaddyfile)}
	f.writeConfig(extra)
	return f
}

func (f *restartFixture) start() (stop func(graceful bool), logs func() string) {
	p, l := launchApplink(f.t, f.bin, f.dir, f.dir, f.cfgFile, f.base+"/")
	return func(graceful bool) {
		if graceful {
			p.Stop(syscall.SIGTERM, 10*time.Second)
		} else {
			p.Kill()
		}
		<-p.Done()
	}, l.String
}

// signedAt returns a signed request stamped by a clock that reads at.
func (f *restartFixture) signedAt(at time.Time) *http.Request {
	f.t.Helper()
	sg, err := signer.New(signer.Config{ConsumerKey: "demo:applink", PrivateKey: f.key, RemoteBaseURL: f.base,
		Clock: func() time.Time { return at }})
	if err != nil {
		f.t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", f.base+"/rest/api/2/myself", nil)
	if err := sg.Sign(req, signer.Mode2LO, "", nil); err != nil {
		f.t.Fatal(err)
	}
	return req
}

func (f *restartFixture) expectOK(what string, req *http.Request) {
	f.t.Helper()
	if code, body, auth := resend(f.t, req); code != 200 || body != "user=svc-demo" {
		f.t.Errorf("%s: %d %q %s; want 200", what, code, body, auth)
	}
}

func (f *restartFixture) expectProblem(what string, req *http.Request, status int, problem string) string {
	f.t.Helper()
	code, body, auth := resend(f.t, req)
	if code != status || !strings.Contains(auth, `oauth_problem="`+problem+`"`) {
		f.t.Errorf("%s: %d %q %s; want %d %s", what, code, body, auth, status, problem)
	}
	return auth
}

// TestRestartsRefuseNobody drives the real binary on the default state
// file: a first start, a graceful restart and a kill -9 each refuse no
// request inside the window for being stamped before the start, and every
// replay of a request accepted before the restart is still refused.
func TestRestartsRefuseNobody(t *testing.T) {
	f := newRestartFixture(t, "")

	// A first start: a request stamped in the second it starts in.
	launched := time.Now()
	stop, _ := f.start()
	f.expectOK("first start, stamped in its start second", f.signedAt(launched))
	accepted := f.signedAt(time.Now())
	f.expectOK("before the graceful restart", accepted)

	// Signed just before a graceful restart, sent just after it.
	inFlight := f.signedAt(time.Now())
	stop(true)
	stop, _ = f.start()
	f.expectOK("signed before a graceful restart, sent after it", inFlight)
	f.expectOK("a client 30 s behind, right after the restart", f.signedAt(time.Now().Add(-30*time.Second)))
	f.expectProblem("replay across a graceful restart", accepted, 401, "nonce_used")
	f.expectProblem("replay of the in-flight request", inFlight, 401, "nonce_used")

	// kill -9.
	beforeCrash := f.signedAt(time.Now().Add(-10 * time.Second))
	f.expectOK("before the crash", beforeCrash)
	signedBeforeCrash := f.signedAt(time.Now())
	stop(false)
	stop, _ = f.start()
	f.expectOK("signed before a kill -9, sent after it", signedBeforeCrash)
	f.expectOK("a client 30 s behind, right after the crash", f.signedAt(time.Now().Add(-30*time.Second)))
	f.expectProblem("replay across a kill -9", beforeCrash, 401, "nonce_used")
	f.expectProblem("replay, once more, of a request accepted before two restarts", accepted, 401, "nonce_used")
	stop(true)
}

// TestRestartWithATornJournal: a segment of the journal is torn (or any
// file there that is not one): the proxy starts, logs which file and why,
// refuses, with a reason that says it restarted, what was stamped before
// it, serves what is stamped after, and leaves the state file and the
// torn file in place.
func TestRestartWithATornJournal(t *testing.T) {
	f := newRestartFixture(t, "")
	stop, _ := f.start()
	accepted := f.signedAt(time.Now())
	f.expectOK("before the restart", accepted)
	stop(true)

	segments, _ := filepath.Glob(filepath.Join(store.JournalPathFor(f.state), "seg-*"))
	if len(segments) == 0 {
		t.Fatal("no journal segment after a run")
	}
	if err := os.WriteFile(segments[0], []byte("applink nonce j"), 0o600); err != nil {
		t.Fatal(err)
	}
	stateBefore, err := os.Stat(f.state)
	if err != nil {
		t.Fatal(err)
	}

	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1100 * time.Millisecond))) // a new second
	stop, logs := f.start()
	auth := f.expectProblem("stamped 30 s before a start with a torn journal", f.signedAt(time.Now().Add(-30*time.Second)), 400, "timestamp_refused")
	if !strings.Contains(auth, "restarted") {
		t.Errorf("the refusal does not say the proxy restarted: %s", auth)
	}
	// A replay of a request from before: refused, whatever the reason.
	if code, _, _ := resend(t, accepted); code == 200 {
		t.Error("a replay passed after the journal was torn")
	}
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1100 * time.Millisecond)))
	f.expectOK("stamped after the start", f.signedAt(time.Now()))
	if l := logs(); !strings.Contains(l, "nonce journal not trusted whole") || !strings.Contains(l, segments[0]) || !strings.Contains(l, "torn") {
		t.Errorf("the log does not name the torn segment and why:\n%s", l)
	}
	if _, err := os.Stat(segments[0] + ".ignored"); err != nil {
		t.Errorf("the torn segment was not set aside: %v", err)
	}
	if fi, err := os.Stat(f.state); err != nil || fi.Size() < stateBefore.Size() {
		t.Errorf("the state file shrank or went: %v", err)
	}
	stop(true)
}

// TestMemoryStateFloorSaysRestarted: with state memory nothing survives a
// restart, so what was stamped before the start is refused, and the
// refusal says why.
func TestMemoryStateFloorSaysRestarted(t *testing.T) {
	f := &restartFixture{stateFixture: newStateFixture(t, strings.Replace(stateCaddyfile, "state file %s", "state memory # %s", 1))}
	f.writeConfig("")
	stop, _ := f.start()
	auth := f.expectProblem("stamped 20 s before a start with state memory", f.signedAt(time.Now().Add(-20*time.Second)), 400, "timestamp_refused")
	if !strings.Contains(auth, "restarted") {
		t.Errorf("the refusal does not say the proxy restarted: %s", auth)
	}
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1100 * time.Millisecond)))
	f.expectOK("stamped after the start", f.signedAt(time.Now()))
	stop(true)
}

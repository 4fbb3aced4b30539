// Package testpeer decides what a test does when a real peer it drives
// (python-oauthlib, slapd, redis-server, Chromium) is missing. Tests only.
package testpeer

import (
	"os"
	"sync"
	"testing"
)

// Require does nothing when err is nil. Otherwise it skips t, or fails it
// when APPLINK_REQUIRE_INTEROP=1: CI installs every peer and must not skip
// silently. pkg names the Debian package that provides the peer.
func Require(t testing.TB, pkg string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("APPLINK_REQUIRE_INTEROP") == "1" {
		t.Fatalf("%s is required (apt-get install %s): %v", pkg, pkg, err)
	}
	t.Skipf("%s not available (apt-get install %s; APPLINK_REQUIRE_INTEROP=1 makes this fatal): %v", pkg, pkg, err)
}

// Once holds a peer that one test binary starts on first use and shares:
// Get starts it at most once, Started reports it for stopping in TestMain.
type Once[S any] struct {
	once    sync.Once
	mu      sync.Mutex
	srv     S
	started bool
	err     error
}

// Get returns the peer, calling start on the first call only; a failed
// start is remembered and returned to every caller.
func (o *Once[S]) Get(start func() (S, error)) (S, error) {
	o.once.Do(func() {
		srv, err := start()
		o.mu.Lock()
		o.srv, o.started, o.err = srv, err == nil, err
		o.mu.Unlock()
	})
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.srv, o.err
}

// Started returns the peer if Get started it.
func (o *Once[S]) Started() (S, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.srv, o.started
}

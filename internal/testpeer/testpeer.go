// Package testpeer decides what a test does when a real peer it drives
// (python-oauthlib, slapd, redis-server, Chromium) is missing. Tests only.
package testpeer

import (
	"os"
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

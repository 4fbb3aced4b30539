//go:build linux

// Package e2e runs caddy-applink the way its users meet it: a real Caddy
// (in-process, through caddytest) in front of a recording upstream, driven
// by real clients: Debian's python3-requests-oauthlib for the linked
// application's side of the 3-legged dance, headless Chromium (through
// chromedriver's W3C WebDriver API) for the user's side, and a real slapd
// for the LDAP login form; and in front of a real Tomcat whose servlet
// says what Tomcat and net.oauth make of each request (the Tomcat oracle,
// tomcat_test.go).
//
// The external programs are Debian packages (chromium, chromium-driver,
// slapd, python3-requests-oauthlib, libtomcat9-java, default-jdk-headless).
// Tests that need a missing one skip, unless APPLINK_REQUIRE_INTEROP=1
// makes that a failure (as in CI).
package e2e

import (
	"testing"

	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

// TestMain gives the test process a Caddy data directory of its own (the
// default bbolt state file lives there, and another process may hold the
// lock on the real one), and stops slapd and Tomcat at the end.
func TestMain(m *testing.M) { testkit.RunWithOwnDataDir(m, slapdSrv.Stop, tomcatSrv.Stop) }

//go:build linux

// Package e2e runs caddy-applink the way its users meet it: a real Caddy
// (in-process, through caddytest) in front of a recording upstream, driven
// by real clients: Debian's python3-requests-oauthlib for the linked
// application's side of the 3-legged dance, headless Chromium (through
// chromedriver's W3C WebDriver API) for the user's side, and a real slapd
// for the LDAP login form.
//
// The external programs are Debian packages (chromium, chromium-driver,
// slapd, python3-requests-oauthlib). Tests that need a missing one skip,
// unless APPLINK_REQUIRE_INTEROP=1 makes that a failure (as in CI).
package e2e

import (
	"testing"

	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

// TestMain gives the test process a Caddy data directory of its own (the
// default bbolt state file lives there, and another process may hold the
// lock on the real one), and stops slapd at the end.
func TestMain(m *testing.M) { testkit.RunWithOwnDataDir(m, slapdSrv.Stop) }

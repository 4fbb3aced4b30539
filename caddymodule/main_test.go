package caddymodule

import (
	"regexp"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

// TestMain gives the test process a data directory of its own: the default
// bbolt state file lives there, and another process (a second test binary,
// a running applink) may hold the lock on the real one.
func TestMain(m *testing.M) { testkit.RunWithOwnDataDir(m) }

// waitForNonceFloor waits, after a config with an applink handler has
// loaded, until requests stamped now pass the floor of its in-memory nonce
// store: the store refuses stamps before the second after it was created.
// It lives as long as some loaded config uses it, and the tests in between
// load configs without applink, so each load may have made a new one.
func waitForNonceFloor() {
	noncePool.Range(func(_, v any) bool {
		floor := v.(memoryNonces).Since().Truncate(time.Second).Add(time.Second)
		time.Sleep(time.Until(floor))
		return true
	})
}

// doubledPrefix matches an error that names its module although Caddy
// already does ("provision http.handlers.applink: applink: ...").
var doubledPrefix = regexp.MustCompile(`(^|: )applink[ _a-z]*: `)

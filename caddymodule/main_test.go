package caddymodule

import (
	"testing"

	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

// TestMain gives the test process a data directory of its own: the default
// bbolt state file lives there, and another process (a second test binary,
// a running applink) may hold the lock on the real one.
func TestMain(m *testing.M) { testkit.RunWithOwnDataDir(m) }

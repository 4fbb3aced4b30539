package cli

import (
	"testing"

	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

// TestMain gives the test process a Caddy data directory of its own: the
// default bbolt state file (of the applink handler, and of mode 3lo
// without a state directive) lives there, and another process may hold
// the lock on the real one.
func TestMain(m *testing.M) { testkit.RunWithOwnDataDir(m) }

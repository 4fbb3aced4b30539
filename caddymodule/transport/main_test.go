package transport

import (
	"os"
	"testing"
)

// TestMain gives the test process a Caddy data directory of its own: the
// default bbolt state file (of the applink handler, and of mode 3lo
// without a state directive) lives there, and another process may hold
// the lock on the real one.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "applink-transport-data")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_DATA_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

package caddymodule

import (
	"os"
	"testing"
)

// TestMain gives the test process a data directory of its own: the default
// bbolt state file lives there, and another process (a second test binary,
// a running applink) may hold the lock on the real one.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "applink-data")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_DATA_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

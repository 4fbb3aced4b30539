// Package testkit holds the test scaffolding the Caddy-module packages
// share. Tests only.
package testkit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"
)

// ownDataDir is the data directory of RunWithOwnDataDir, "" outside it.
var ownDataDir string

// RunWithOwnDataDir runs the tests with data and config directories of
// their own and exits: the default bbolt state file lives in the data
// directory, and another process (a second test binary, a running applink)
// may hold the lock on the real one; Caddy autosaves every config it loads
// in the config directory, which must not be the user's. Use it as
// TestMain; atExit runs after the tests (to stop what they started).
func RunWithOwnDataDir(m *testing.M, atExit ...func()) {
	dir, err := os.MkdirTemp("", "applink-data")
	if err != nil {
		panic(err)
	}
	ownDataDir = dir
	os.Setenv("XDG_DATA_HOME", dir)
	os.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	code := m.Run()
	for _, f := range atExit {
		f()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// AdaptGoldens compares testdata/caddyfile_adapt/*.caddyfiletest
// (Caddyfile, "----------", expected JSON), as Caddy's own suite does.
func AdaptGoldens(t *testing.T) {
	files, err := filepath.Glob("testdata/caddyfile_adapt/*.caddyfiletest")
	if err != nil || len(files) == 0 {
		t.Fatalf("no adapt tests: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(string(data), "----------")
			if len(parts) != 2 {
				t.Fatalf("%s: want a Caddyfile, a ---------- line and the JSON", f)
			}
			if !caddytest.CompareAdapt(t, f, strings.TrimSpace(parts[0])+"\n", "caddyfile", strings.TrimSpace(parts[1])) {
				t.Error("adapted JSON differs")
			}
		})
	}
}

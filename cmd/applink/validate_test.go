package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestValidateThenReload: the routine of every Caddy operator, next to a
// running instance on the same config and state file. `applink validate`
// passes without touching the state file the instance holds, the instance
// keeps serving, and `applink reload` applies the config. A second
// instance on the same state file still fails to start, naming the lock;
// a corrupt state file still fails validation, naming the file.
func TestValidateThenReload(t *testing.T) {
	f := newRestartFixture(t, "")
	stop, _ := f.start()
	defer stop(true)

	validate := func(cfg string) (string, error) {
		cmd := exec.Command(f.bin, "validate", "--config", cfg, "--adapter", "caddyfile")
		cmd.Dir = f.dir
		cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+f.dir, "XDG_CONFIG_HOME="+f.dir)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	started := time.Now()
	if out, err := validate(f.cfgFile); err != nil || !strings.Contains(out, "Valid configuration") {
		t.Fatalf("validate next to the running instance: %v\n%s", err, out)
	}
	t.Logf("validate took %s", time.Since(started).Round(time.Millisecond))
	f.expectOK("after validate", f.signedAt(time.Now()))
	f.writeConfig("timestamp_window 4m")
	if out, err := validate(f.cfgFile); err != nil {
		t.Fatalf("validate of the changed config: %v\n%s", err, out)
	}
	if err := f.reload(); err != nil {
		t.Fatalf("reload after validate: %v", err)
	}
	f.expectOK("after the reload", f.signedAt(time.Now()))
	// The new window is in force: 4m30s behind is now refused.
	f.expectProblem("stamped 4m30s behind, under the reloaded 4-minute window", f.signedAt(time.Now().Add(-270*time.Second)), 400, "timestamp_refused")

	// A second instance on the same state file (its own ports) must not
	// start.
	ports := newFixturePorts(t)
	ports.admin = "off"
	second := f.config(ports)
	secondFile := filepath.Join(f.dir, "Caddyfile.second")
	if err := os.WriteFile(secondFile, []byte(second), 0o644); err != nil {
		t.Fatal(err)
	}
	run := exec.Command(f.bin, "run", "--config", secondFile, "--adapter", "caddyfile")
	run.Env = append(os.Environ(), "XDG_DATA_HOME="+f.dir, "XDG_CONFIG_HOME="+f.dir)
	done := make(chan []byte, 1)
	go func() { out, _ := run.CombinedOutput(); done <- out }()
	select {
	case out := <-done:
		if run.ProcessState.Success() || !strings.Contains(string(out), "locked by another process") || !strings.Contains(string(out), f.state) {
			t.Errorf("a second instance on the same state file: exit %v\n%s", run.ProcessState, out)
		}
	case <-time.After(20 * time.Second):
		_ = run.Process.Kill()
		t.Fatal("a second instance on the same state file started")
	}

	// A corrupt state file still fails validation, naming it.
	corrupt := filepath.Join(f.dir, "corrupt.db")
	if err := os.WriteFile(corrupt, []byte(strings.Repeat("not a bbolt file ", 1024)), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(readFile(t, f.cfgFile), "state file "+f.state, "state file "+corrupt, 1)
	badFile := filepath.Join(f.dir, "Caddyfile.corrupt")
	if err := os.WriteFile(badFile, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := validate(badFile); err == nil || !strings.Contains(out, corrupt) {
		t.Errorf("validate with a corrupt state file: %v\n%s", err, out)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/caddy-applink/caddy-applink/internal/testproc"
)

// The tests of this package run the real binary on free ports and with
// data and config directories of their own, so that they can run beside
// the demo, an example, another test binary or a developer's applink.

// freePorts returns n distinct TCP ports free on 127.0.0.1 right now.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for len(ports) < n {
		p, err := testproc.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	return ports
}

// applinkCmd is the binary run with args in dir, with data and config
// directories of its own (a new temporary one).
func applinkCmd(t *testing.T, bin, dir string, args ...string) *exec.Cmd {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+home, "XDG_CONFIG_HOME="+home)
	return cmd
}

// loopbackPort is a port of a loopback or wildcard listener in a
// Caddyfile: localhost:N, 127.0.0.1:N, [::1]:N, http://:N, or :N alone.
var loopbackPort = regexp.MustCompile(`(localhost|127\.0\.0\.1|\[::1\]|//|^|\s):(\d{2,5})\b`)

// shiftedConfig is a copy of a repository Caddyfile (the demo's, an
// example's) whose loopback ports are free ones: the same config, as a
// test can run it beside the original.
type shiftedConfig struct {
	t     *testing.T
	file  string      // the copy, to pass as --config (run in the repository root)
	ports map[int]int // each port of the original to the copy's
}

// shiftPorts copies config (relative to root), and the files it imports
// from its directory, into a directory of the test's, with every loopback
// port replaced by a free one, the same in every file.
func shiftPorts(t *testing.T, root, config string) *shiftedConfig {
	t.Helper()
	s := &shiftedConfig{t: t, ports: map[int]int{}}
	dir := t.TempDir()
	var copyFile func(name string)
	copied := map[string]bool{}
	copyFile = func(name string) {
		if copied[name] {
			return
		}
		copied[name] = true
		data, err := os.ReadFile(filepath.Join(root, filepath.Dir(config), name))
		if err != nil {
			t.Fatal(err)
		}
		text := loopbackPort.ReplaceAllStringFunc(string(data), func(m string) string {
			sub := loopbackPort.FindStringSubmatch(m)
			old, _ := strconv.Atoi(sub[2])
			if old < 1024 {
				return m
			}
			if _, ok := s.ports[old]; !ok {
				s.ports[old] = freePorts(t, 1)[0]
			}
			return sub[1] + ":" + strconv.Itoa(s.ports[old])
		})
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`(?m)^\s*import\s+(\S+)`).FindAllStringSubmatch(text, -1) {
			if _, err := os.Stat(filepath.Join(root, filepath.Dir(config), m[1])); err == nil {
				copyFile(m[1])
			}
		}
	}
	copyFile(filepath.Base(config))
	s.file = filepath.Join(dir, filepath.Base(config))
	return s
}

// port is the copy's port for the original's; the test stops if the
// original has no such port (it changed: so must the test).
func (s *shiftedConfig) port(old int) int {
	s.t.Helper()
	p, ok := s.ports[old]
	if !ok {
		s.t.Fatalf("%s has no port %d (its ports: %v)", s.file, old, s.ports)
	}
	return p
}

// url is http://localhost:<the copy's port for old><path>.
func (s *shiftedConfig) url(old int, path string) string {
	s.t.Helper()
	return fmt.Sprintf("http://localhost:%d%s", s.port(old), path)
}

// TestShiftPorts: every loopback port moves, consistently, and nothing
// else does.
func TestShiftPorts(t *testing.T) {
	root := t.TempDir()
	cfg := `{
	admin {$APPLINK_ADMIN:localhost:2020}
}
{$SITE:http://localhost:8090} {
	applink {
		base_url {$BASE:http://localhost:8090}
		consumer bamboo:93f2 {
			public_key_file {$KEYS:examples/keys}/demo-consumer.pub.pem
		}
		timestamp_window 5m
	}
	reverse_proxy 127.0.0.1:8091
}
import stand-in.caddyfile
import some-snippet
`
	standIn := "http://:8091 {\n\tbind 127.0.0.1\n\trespond \"x\" 200\n}\nhttps://jira.example.com:8443 {\n}\n:80 {\n}\n"
	if err := os.MkdirAll(filepath.Join(root, "ex"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"Caddyfile": cfg, "stand-in.caddyfile": standIn} {
		if err := os.WriteFile(filepath.Join(root, "ex", name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := shiftPorts(t, root, "ex/Caddyfile")
	if len(s.ports) != 3 {
		t.Errorf("ports %v: want 2020, 8090 and 8091", s.ports)
	}
	got, _ := os.ReadFile(s.file)
	want := strings.NewReplacer("localhost:2020", fmt.Sprintf("localhost:%d", s.port(2020)),
		"localhost:8090", fmt.Sprintf("localhost:%d", s.port(8090)), "127.0.0.1:8091", fmt.Sprintf("127.0.0.1:%d", s.port(8091))).Replace(cfg)
	if string(got) != want {
		t.Errorf("shifted:\n%s\nwant:\n%s", got, want)
	}
	got, err := os.ReadFile(filepath.Join(filepath.Dir(s.file), "stand-in.caddyfile"))
	if err != nil || !strings.Contains(string(got), fmt.Sprintf("http://:%d {", s.port(8091))) ||
		!strings.Contains(string(got), "jira.example.com:8443") || !strings.Contains(string(got), "\n:80 {") {
		t.Errorf("the imported file, shifted: %v\n%s", err, got)
	}
}

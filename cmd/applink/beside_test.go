package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/testproc"
)

// These tests run the demo and an example as a user does, on their own
// fixed ports, so that they show what the other tests no longer do: take
// those ports or a user's directories. They skip when the ports are taken
// already (the demo is running here: the very situation they build).

// configPorts is every loopback or wildcard port of a repository Caddyfile
// and the files it imports from its directory.
func configPorts(t *testing.T, root, config string) []int {
	t.Helper()
	s := shiftPorts(t, root, config)
	var ports []int
	for p := range s.ports {
		ports = append(ports, p)
	}
	slices.Sort(ports)
	return ports
}

// skipIfTaken skips t when a port cannot be listened on, on every
// interface (as Caddy listens for a site).
func skipIfTaken(t *testing.T, what string, ports []int) {
	t.Helper()
	for _, p := range ports {
		l, err := net.Listen("tcp", ":"+strconv.Itoa(p))
		if err != nil {
			t.Skipf("port %d of %s is taken here (is it running?): %v", p, what, err)
		}
		l.Close()
	}
}

// runAsUser runs `applink run --config config` in the repository root with
// home as its data and config directory, as a user who runs it by hand,
// until the test ends. It returns once url answers, or with the process's
// log if it exited first.
func runAsUser(t *testing.T, bin, root, home, config, url string) (started bool, log string) {
	t.Helper()
	p, logs := spawnApplink(t, bin, root, home, config, "CADDY_ADMIN=")
	if err := p.Await(20*time.Second, func() bool { return testproc.Answers(url) }); err != nil {
		p.Stop(syscall.SIGINT, 10*time.Second)
		return false, fmt.Sprintf("%v\n%s", err, logs.String())
	}
	time.Sleep(1100 * time.Millisecond) // the in-memory nonce store's start second
	return true, ""
}

// TestTestsBesideTheDemo runs the README's first command, the demo on its
// own ports (8080, 8081, admin 2019), and while it runs the proxies the
// tests start for themselves: the demo's config on free ports and a proxy
// on a state file. Each answers, and each one's health check is its own.
func TestTestsBesideTheDemo(t *testing.T) {
	root, _ := filepath.Abs("../..")
	skipIfTaken(t, "the demo", configPorts(t, root, "Caddyfile.example"))
	bin := buildBinary(t)
	user := t.TempDir() // the user's own data and config directories

	if ok, log := runAsUser(t, bin, root, user, "Caddyfile.example", "http://localhost:8080/"); !ok {
		t.Fatalf("the demo did not start:\n%s", log)
	}
	ownDemo := shiftPorts(t, root, "Caddyfile.example")
	runProxy(t, bin, root, ownDemo.file, ownDemo.url(8080, "/"))
	f := newRestartFixture(t, "")
	stop, _ := f.start()
	defer stop(true)

	client := demoClient(t, root, "demo:applink")
	for _, url := range []string{"http://localhost:8080/rest/api/2/myself", ownDemo.url(8080, "/rest/api/2/myself")} {
		if body := get(t, client, url, nil); !strings.Contains(body, `"user":"svc-demo"`) {
			t.Errorf("%s: %s", url, body)
		}
	}
	f.expectOK("the tests' state-file proxy beside the demo", f.signedAt(time.Now()))

	// `applink health` as the image runs it finds the demo's admin
	// endpoint; with --address, each test proxy's.
	health := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"health"}, args...)...)
		cmd.Env = append(os.Environ(), "CADDY_ADMIN=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("applink health %v: %v %s", args, err, out)
		}
		return string(out)
	}
	health()
	if seen := adminServes(t, "localhost:2019"); len(seen) != 1 {
		t.Errorf("the demo's admin endpoint answers for others too: %v", seen)
	}
	health("--address", fmt.Sprintf("localhost:%d", ownDemo.port(2019)))
	health("--address", f.admin)
	// The user's config directory holds the demo's autosaved config, and
	// nothing of the tests' proxies.
	autosave, err := os.ReadFile(filepath.Join(user, "caddy", "autosave.json"))
	if err != nil || !strings.Contains(string(autosave), `":8080"`) {
		t.Errorf("the demo's autosaved config is not in its config directory: %v\n%s", err, autosave)
	}
	for _, p := range []string{strconv.Itoa(ownDemo.port(8080)), strings.TrimPrefix(f.base, "http://localhost:")} {
		if strings.Contains(string(autosave), p) {
			t.Errorf("a test proxy (port %s) wrote into the demo's config directory:\n%s", p, autosave)
		}
	}
}

// exampleCommand is the config an example's Caddyfile says to run it with.
func exampleCommand(t *testing.T, root, example string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, example))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`go run \./cmd/applink run --config (\S+)`).FindSubmatch(data)
	if m == nil {
		t.Fatalf("%s does not say how to run it", example)
	}
	return string(m[1])
}

// TestExampleBesideTheDemo runs the Jira example as its Caddyfile says,
// on its own ports, beside the demo, both as one user would: with the
// same data directory. Both must serve. Where they cannot today, because
// they want the same admin endpoint or the same default state file, the
// test says so and skips: that is the examples' to fix, not the tests'.
func TestExampleBesideTheDemo(t *testing.T) {
	root, _ := filepath.Abs("../..")
	example := exampleCommand(t, root, "examples/jira/Caddyfile")
	demoPorts, exPorts := configPorts(t, root, "Caddyfile.example"), configPorts(t, root, example)
	skipIfTaken(t, "the demo", demoPorts)
	skipIfTaken(t, example, exPorts)
	bin := buildBinary(t)
	user := t.TempDir()

	if ok, log := runAsUser(t, bin, root, user, "Caddyfile.example", "http://localhost:8080/"); !ok {
		t.Fatalf("the demo did not start:\n%s", log)
	}
	// clash is why the example did not start beside the demo, if it is a
	// known reason: a port of the demo's, or the state file's lock.
	clash := func(log string) string {
		for _, p := range demoPorts {
			if strings.Contains(log, fmt.Sprintf(":%d: bind: address already in use", p)) {
				return fmt.Sprintf("both listen on port %d", p)
			}
		}
		if strings.Contains(log, "locked by another process") {
			return "both use the default state file of the data directory, whose lock the demo holds"
		}
		t.Fatalf("%s did not start beside the demo:\n%s", example, log)
		return ""
	}
	ok, log := runAsUser(t, bin, root, user, example, "http://localhost:8090/")
	var clashes []string
	if !ok {
		// Why, and what else: the same once more with a data directory of
		// its own.
		clashes = append(clashes, clash(log))
		if ok, log = runAsUser(t, bin, root, t.TempDir(), example, "http://localhost:8090/"); !ok {
			if c := clash(log); c != clashes[0] {
				clashes = append(clashes, c+" (with data directories of their own)")
			}
			t.Skipf("known: %s cannot run beside the demo (Caddyfile.example) as one user runs them: %s. Ports of the demo %v, of the example %v",
				example, strings.Join(clashes, "; "), demoPorts, exPorts)
		}
	}
	// Both run. Caddy listens with SO_REUSEPORT, so two processes on one
	// admin address both start, and each admin request (reload, stop,
	// tokens, health) reaches either of them.
	demoAdmin, exAdmin := adminOf(t, bin, root, "Caddyfile.example"), adminOf(t, bin, root, example)
	if seen := adminServes(t, demoAdmin); demoAdmin == exAdmin && len(seen) > 1 {
		clashes = append(clashes, fmt.Sprintf("both serve the admin endpoint %s: each admin request (applink reload, stop, tokens, health) reaches one of them at random (of %d requests, %v)", demoAdmin, adminTries, seen))
	}
	bamboo := demoClient(t, root, "bamboo:93f2")
	if body := get(t, bamboo, "http://localhost:8090/rest/api/2/myself", nil); !strings.Contains(body, `"name":"svc-bamboo"`) {
		t.Errorf("the example beside the demo: %s", body)
	}
	if body := get(t, demoClient(t, root, "demo:applink"), "http://localhost:8080/rest/api/2/myself", nil); !strings.Contains(body, `"user":"svc-demo"`) {
		t.Errorf("the demo beside the example: %s", body)
	}
	if len(clashes) > 0 {
		t.Skipf("known: %s and the demo (Caddyfile.example) do not run side by side as one user runs them: %s. Ports of the demo %v, of the example %v",
			example, strings.Join(clashes, "; "), demoPorts, exPorts)
	}
}

// adminOf is the admin address of a config, as `applink adapt` reads it.
func adminOf(t *testing.T, bin, root, config string) string {
	t.Helper()
	out, err := applinkCmd(t, bin, root, "adapt", "--config", config, "--adapter", "caddyfile").Output()
	if err != nil {
		t.Fatalf("adapt %s: %v", config, err)
	}
	var cfg struct {
		Admin struct {
			Listen string `json:"listen"`
		} `json:"admin"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatalf("adapt %s: %v\n%s", config, err, out)
	}
	if cfg.Admin.Listen == "" {
		return "localhost:2019"
	}
	return cfg.Admin.Listen
}

const adminTries = 20

// adminServes is which configs the admin endpoint at addr answers with,
// over adminTries requests, each on a new connection: the listen addresses
// of their servers.
func adminServes(t *testing.T, addr string) []string {
	t.Helper()
	seen := map[string]bool{}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	for range adminTries {
		resp, err := client.Get("http://" + addr + "/config/apps/http/servers")
		if err != nil {
			t.Fatal(err)
		}
		var servers map[string]struct {
			Listen []string `json:"listen"`
		}
		err = json.NewDecoder(resp.Body).Decode(&servers)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		var listen []string
		for _, s := range servers {
			listen = append(listen, s.Listen...)
		}
		slices.Sort(listen)
		seen[strings.Join(listen, " ")] = true
	}
	var out []string
	for k := range seen {
		out = append(out, "["+k+"]")
	}
	slices.Sort(out)
	return out
}

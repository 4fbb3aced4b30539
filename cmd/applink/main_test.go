package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	dghubble "github.com/dghubble/oauth1"

	"github.com/caddy-applink/caddy-applink/internal/rsakey"
	"github.com/caddy-applink/caddy-applink/internal/testproc"
)

// buildBinary compiles the real applink binary for the test.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "applink")
	if err := testproc.BuildApplink(bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestReadmeQuickStart runs the README's first command (the proxy on the
// embedded demo config) as a user would and talks to it as a linked app;
// on free ports (a copy of the config with its ports moved), so that it
// runs beside the demo itself.
func TestReadmeQuickStart(t *testing.T) {
	bin := buildBinary(t)
	root, _ := filepath.Abs("../..")

	out, err := applinkCmd(t, bin, root, "list-modules").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "http.handlers.applink") {
		t.Fatalf("list-modules: %v\n%s", err, out)
	}
	if out, err := applinkCmd(t, bin, root, "version").CombinedOutput(); err != nil || len(out) == 0 {
		t.Fatalf("version: %v %s", err, out)
	}
	if out, err := applinkCmd(t, bin, root, "validate", "--config", "Caddyfile.example").CombinedOutput(); err != nil {
		t.Fatalf("validate Caddyfile.example: %v\n%s", err, out)
	}

	demo := shiftPorts(t, root, "Caddyfile.example")
	stop := runProxy(t, bin, root, demo.file, demo.url(8080, "/"))
	defer stop()
	client := demoClient(t, root, "demo:applink")
	for url, want := range map[string]string{
		demo.url(8080, "/rest/api/2/myself"):                         `"user":"svc-demo"`,
		demo.url(8080, "/rest/api/2/myself?xoauth_requestor_id=ann"): `"user":"ann"`,
	} {
		body := get(t, client, url, nil)
		if !strings.Contains(body, want) {
			t.Errorf("%s: upstream answered %q, want %s", url, body, want)
		}
	}
	// An anonymous client claiming to be admin reaches the product as nobody.
	body := get(t, http.DefaultClient, demo.url(8080, "/rest/api/2/myself"), http.Header{"X-Forwarded-User": {"admin"}})
	if !strings.Contains(body, `"user":""`) {
		t.Errorf("spoofed identity reached the product: %s", body)
	}
	// The demo's admin endpoint answers the image's health check.
	if out, err := applinkCmd(t, bin, root, "health", "--address", fmt.Sprintf("localhost:%d", demo.port(2019))).CombinedOutput(); err != nil || string(out) != "ready\n" {
		t.Errorf("applink health: %v %q", err, out)
	}
}

// TestExamplesRun starts each example as its Caddyfile says (its demo, on
// free ports: a copy of its config with its ports moved) and sends it the
// requests its README shows.
func TestExamplesRun(t *testing.T) {
	bin := buildBinary(t)
	root, _ := filepath.Abs("../..")
	t.Setenv("RELEASE_BOT_SECRET", "demo-secret")

	jiraEx := shiftPorts(t, root, exampleCommand(t, root, "examples/jira/Caddyfile"))
	stop := runProxy(t, bin, root, jiraEx.file, jiraEx.url(8090, "/"))
	bamboo := demoClient(t, root, "bamboo:93f2")
	confluence := demoClient(t, root, "confluence:7c1e")
	for _, tc := range []struct {
		c         *http.Client
		url, want string
	}{
		{bamboo, jiraEx.url(8090, "/rest/api/2/myself"), `"name":"svc-bamboo"`},
		{bamboo, jiraEx.url(8090, "/rest/api/2/myself?xoauth_requestor_id=alice"), `"name":"alice"`},
		{confluence, jiraEx.url(8090, "/rest/api/2/search?jql=project%3DABC"), `"name":"svc-confluence-reader"`},
	} {
		if body := get(t, tc.c, tc.url, nil); !strings.Contains(body, tc.want) {
			t.Errorf("jira example %s: %s, want %s", tc.url, body, tc.want)
		}
	}
	stop()

	bambooEx := shiftPorts(t, root, exampleCommand(t, root, "examples/bamboo/Caddyfile"))
	stop = runProxy(t, bin, root, bambooEx.file, bambooEx.url(8085, "/"))
	defer stop()
	defer func() {
		// The gateway example, driven with the CLI as its README shows.
		stop()
		gw := shiftPorts(t, root, exampleCommand(t, root, "examples/gateway/Caddyfile"))
		stopGW := runProxy(t, bin, root, gw.file, gw.url(8095, "/"))
		defer stopGW()
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"--consumer-key", "bamboo:93f2"}, `"name":"svc-bamboo"`},
			{[]string{"--consumer-key", "bamboo:93f2", "--as", "alice"}, `"name":"alice"`},
			{[]string{"--consumer-key", "confluence:7c1e", "--as", "alice"}, `permission_denied`},
		} {
			args := append([]string{"sign", "-i", "--key", "examples/keys/demo-consumer.pem"}, tc.args...)
			out, _ := applinkCmd(t, bin, root, append(args, gw.url(8095, "/rest/api/2/myself"))...).CombinedOutput()
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("gateway example, applink %v: %s, want %s", args, out, tc.want)
			}
		}
	}()
	jira := demoClient(t, root, "jira:6c5e1d0a")
	if body := get(t, jira, bambooEx.url(8085, "/rest/api/latest/currentUser?xoauth_requestor_id=alice"), nil); !strings.Contains(body, `"name":"alice"`) {
		t.Errorf("bamboo example, Jira impersonating: %s", body)
	}
	bot := (&dghubble.Config{ConsumerKey: "release-bot", ConsumerSecret: "demo-secret"}).
		Client(context.Background(), dghubble.NewToken("", ""))
	if body := get(t, bot, bambooEx.url(8085, "/rest/api/latest/currentUser"), nil); !strings.Contains(body, `"name":"svc-release"`) {
		t.Errorf("bamboo example, HMAC bot: %s", body)
	}
}

// runProxy starts `applink run --config config` in dir (the repository's
// root) with data and config directories of its own and waits until url
// answers. The returned func stops it (also run at cleanup).
func runProxy(t *testing.T, bin, dir, config, url string) func() {
	t.Helper()
	p := startApplink(t, bin, dir, t.TempDir(), config, url)
	return func() { p.Stop(syscall.SIGINT, 10*time.Second) }
}

// startApplink runs `applink run --config cfg` in dir, with home as its data
// and config directory, until the test ends (interrupted then, killed after
// 10s; its log shown if the test failed), and waits until url answers and
// the nonce store's first second has passed.
func startApplink(t *testing.T, bin, dir, home, cfg, url string) *testproc.Proc {
	t.Helper()
	p, _ := launchApplink(t, bin, dir, home, cfg, url)
	// The in-memory nonce store refuses the second it started in.
	time.Sleep(1100 * time.Millisecond)
	return p
}

// launchApplink is startApplink without the wait for the start second to
// pass, and with the process's log.
func launchApplink(t *testing.T, bin, dir, home, cfg, url string) (*testproc.Proc, *testproc.LogBuffer) {
	t.Helper()
	p, logs := spawnApplink(t, bin, dir, home, cfg)
	if err := p.Await(20*time.Second, func() bool { return testproc.Answers(url) }); err != nil {
		t.Fatalf("%s: %v\n%s", url, err, logs.String())
	}
	return p, logs
}

// spawnApplink starts `applink run --config cfg` in dir, with home as its
// data and config directories and env added to its environment. It is
// stopped when the test ends, and its log shown if the test failed.
func spawnApplink(t *testing.T, bin, dir, home, cfg string, env ...string) (*testproc.Proc, *testproc.LogBuffer) {
	t.Helper()
	run := exec.Command(bin, "run", "--config", cfg, "--adapter", "caddyfile")
	run.Dir = dir
	run.Env = append(append(os.Environ(), "XDG_DATA_HOME="+home, "XDG_CONFIG_HOME="+home), env...)
	logs := &testproc.LogBuffer{}
	run.Stdout, run.Stderr = logs, logs
	p, err := testproc.Start(run)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Stop(syscall.SIGINT, 10*time.Second)
		if t.Failed() {
			t.Logf("%s log:\n%s", cfg, logs.String())
		}
	})
	return p, logs
}

// demoClient is a dghubble/oauth1 2LO client signing with the demo key.
func demoClient(t *testing.T, root, consumer string) *http.Client {
	t.Helper()
	key, err := rsakey.LoadPrivate(filepath.Join(root, "examples/keys/demo-consumer.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return (&dghubble.Config{ConsumerKey: consumer, Signer: &dghubble.RSASigner{PrivateKey: key}}).
		Client(context.Background(), dghubble.NewToken("", ""))
}

func get(t *testing.T, c *http.Client, url string, h http.Header) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d %s %s", url, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), b)
	}
	return string(b)
}

package cli

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/testproc"
)

// health runs `applink health` with args as the binary would, and checks
// that a failure says why on one line of standard error and nothing else.
func health(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	code, out, errOut := run(t, healthCommand(), "", args...)
	if code != 0 && (strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "applink health: ")) {
		t.Errorf("health %v failed without a one-line reason on stderr: %q", args, errOut)
	}
	return code, out, errOut
}

// readyServer answers ReadyPath as the admin endpoint does, with status
// and body; every other path 404.
func readyServer(status int, body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != ReadyPath || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	})
}

func TestHealthAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		status     int
		code       int
		want       string // in stdout when 0, stderr otherwise
	}{
		{"ready", `{"ready":true,"stores":{"file /x/state.db":"ok"}}`, 200, 0, "ready\n"},
		{"ready, no store", `{"ready":true,"stores":{}}`, 200, 0, "ready\n"},
		{"a store down", `{"ready":false,"stores":{"redis 127.0.0.1:6379 db 0":"dial tcp 127.0.0.1:6379: connect: connection refused","file /x":"ok"}}`, 503, 1,
			"applink health: not ready: redis 127.0.0.1:6379 db 0: dial tcp 127.0.0.1:6379: connect: connection refused\n"},
		{"two stores down, in order", `{"ready":false,"stores":{"b":"down\nhard","a":"gone"}}`, 503, 1, "applink health: not ready: a: gone; b: down hard\n"},
		{"503 without a reason", `{"ready":false,"stores":{}}`, 503, 1, "applink health: not ready (HTTP 503)\n"},
		{"200 that says not ready", `{"ready":false,"stores":{"a":"gone"}}`, 200, 1, "not ready: a: gone"},
		{"not a readiness report", `{"error":"not found"}`, 404, 1, "answered HTTP 404 to /applink/ready, not a readiness report"},
		{"not JSON", "<html>\n<h1>hello</h1>", 200, 1, "not a readiness report: <html> <h1>hello</h1>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(readyServer(tc.status, tc.body))
			defer srv.Close()
			code, out, errOut := health(t, "--address", strings.TrimPrefix(srv.URL, "http://"))
			got := out
			if tc.code != 0 {
				got = errOut
			}
			if code != tc.code || !strings.Contains(got, tc.want) || (tc.code == 0 && errOut != "") {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d and %q", code, out, errOut, tc.code, tc.want)
			}
		})
	}
}

func TestHealthUnreachable(t *testing.T) {
	port, err := testproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	code, _, errOut := health(t, "--address", addr)
	if code != 1 || !strings.Contains(errOut, "admin endpoint "+addr+" unreachable") || !strings.Contains(errOut, "refused") {
		t.Errorf("nothing listening: exit %d, %q", code, errOut)
	}
	if strings.Contains(errOut, `Get "`) {
		t.Errorf("the reason repeats Go's request prefix: %q", errOut)
	}

	// A peer that accepts and never answers: the timeout ends it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	started := time.Now()
	code, _, errOut = health(t, "--address", l.Addr().String(), "--timeout", "300ms")
	if code != 1 || !strings.Contains(errOut, "unreachable") || time.Since(started) > 5*time.Second {
		t.Errorf("a silent peer: exit %d after %s, %q", code, time.Since(started), errOut)
	}

	for _, bad := range []string{"http://localhost:2019", "localhost:2019/x"} {
		if code, _, errOut := health(t, "--address", bad); code != 1 || !strings.Contains(errOut, "want host:port or unix/<path>") {
			t.Errorf("--address %s: exit %d, %q", bad, code, errOut)
		}
	}
	if code, _, _ := run(t, healthCommand(), "", "extra-arg"); code == 0 {
		t.Error("an argument was accepted")
	}
}

// TestHealthAddressDefaults: without --address, CADDY_ADMIN (as Caddy's
// own default), else localhost:2019.
func TestHealthAddressDefaults(t *testing.T) {
	srv := httptest.NewServer(readyServer(200, `{"ready":true}`))
	defer srv.Close()
	t.Setenv("CADDY_ADMIN", strings.TrimPrefix(srv.URL, "http://"))
	if code, out, errOut := health(t); code != 0 || out != "ready\n" {
		t.Errorf("with CADDY_ADMIN: exit %d %q %q", code, out, errOut)
	}
	if a := adminAddress("localhost:1"); a != "localhost:1" {
		t.Errorf("--address loses to CADDY_ADMIN: %s", a)
	}
	t.Setenv("CADDY_ADMIN", "")
	if a := adminAddress(""); a != DefaultAdminAddress {
		t.Errorf("without --address and CADDY_ADMIN: %s, want %s", a, DefaultAdminAddress)
	}
}

// TestHealthUnixSocket: an admin endpoint on a socket, as Caddy writes
// its address (with an optional file mode).
func TestHealthUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "admin.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "127.0.0.1" {
			http.Error(w, "host not allowed: "+r.Host, http.StatusForbidden)
			return
		}
		readyServer(200, `{"ready":true}`).ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(l) }()
	defer srv.Shutdown(context.Background())
	for _, addr := range []string{"unix/" + sock, "unix/" + sock + "|0600"} {
		if code, out, errOut := health(t, "--address", addr); code != 0 || out != "ready\n" {
			t.Errorf("%s: exit %d %q %q", addr, code, out, errOut)
		}
	}
}

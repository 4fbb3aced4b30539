//go:build linux

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-applink/caddy-applink/internal/cli"
	"github.com/caddy-applink/caddy-applink/internal/testkit"
	"github.com/caddy-applink/caddy-applink/internal/testpeer"
	"github.com/caddy-applink/caddy-applink/internal/testproc"
)

// TestHealthOfARealProxy runs `applink health` against this package's
// in-process Caddy: ready on a state file;
// on a real Redis, ready, then not ready (naming the store) once Redis is
// stopped; ready again after a reload back to the file.
func TestHealthOfARealProxy(t *testing.T) {
	keys, err := testkit.WriteKeyPair(t.TempDir(), "health")
	if err != nil {
		t.Fatal(err)
	}
	stateFile := filepath.Join(t.TempDir(), "state.db")
	config := func(state string) string {
		return caddyGlobals(testkit.NoGrace) + fmt.Sprintf(`
http://localhost:%d {
	applink {
		base_url http://localhost:%d
		state %s
		consumer health:test {
			public_key_file %s
			two_legged svc-health
		}
	}
	respond "ok"
}
`, httpPort, httpPort, state, keys.PubFile)
	}
	check := func(what string, wantCode int, want string) {
		t.Helper()
		var out, errOut bytes.Buffer
		code := cli.Execute(context.Background(), subcommand(t, "health"), []string{"--address", fmt.Sprintf("localhost:%d", adminPort)}, strings.NewReader(""), &out, &errOut)
		got := out.String()
		if wantCode != 0 {
			got = errOut.String()
		}
		if code != wantCode || !strings.Contains(got, want) || strings.Count(out.String()+errOut.String(), "\n") != 1 {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %d and %q", what, code, out.String(), errOut.String(), wantCode, want)
		}
	}

	loadCaddy(t, config("file "+stateFile))
	check("on a state file", 0, "ready\n")

	_, err = exec.LookPath("redis-server")
	testpeer.Require(t, "redis-server", err)
	redis, redisPort, err := testproc.StartRedis("redis-server", 0, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer redis.Kill()
	loadCaddy(t, config(fmt.Sprintf("redis redis://127.0.0.1:%d/0", redisPort)))
	check("on a Redis that answers", 0, "ready\n")
	redis.Kill()
	check("on a Redis that was stopped", 1, fmt.Sprintf("applink health: not ready: redis 127.0.0.1:%d db 0: ", redisPort))

	loadCaddy(t, config("file "+stateFile))
	check("back on the state file", 0, "ready\n")
}

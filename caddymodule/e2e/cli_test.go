//go:build linux

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"

	"github.com/caddy-applink/caddy-applink/internal/cli"
	"github.com/caddy-applink/caddy-applink/internal/rsakey"
)

// cliConsumer is the consumer key the subcommands sign with (e2e's app key).
const cliConsumer = "caddy-applink:cli"

// runCommand executes an applink subcommand as the binary would and
// returns its exit status and output.
func runCommand(t *testing.T, name string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Execute(context.Background(), subcommand(t, name), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// subcommand is the applink subcommand called name.
func subcommand(t *testing.T, name string) cli.Command {
	t.Helper()
	for _, c := range cli.Commands() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no subcommand %q", name)
	return cli.Command{}
}

// proxyKeyFile writes a second key pair, the proxy's own (published by
// applink_publish), and returns the private key's file.
func proxyKeyFile(t *testing.T) string {
	k, err := rsakey.Generate(2048)
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := rsakey.EncodePrivatePEM(k)
	f := filepath.Join(t.TempDir(), "proxy.pem")
	if err := os.WriteFile(f, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestAgainstOwnProvider: sign and check against caddy-applink itself
// (applink_publish + applink in front of a stand-in product), as an admin
// would try a new link.
func TestCLIAgainstOwnProvider(t *testing.T) {
	testKeys(t)
	proxyKey := proxyKeyFile(t)
	base := fmt.Sprintf("http://localhost:%d", httpPort)
	tester := caddytest.NewTester(t).WithDefaultOverrides(caddytest.Config{AdminPort: adminPort, LoadRequestTimeout: 20 * time.Second})
	tester.InitServer(fmt.Sprintf(`{
	skip_install_trust
	admin localhost:%[1]d
	http_port %[2]d
	https_port %[3]d
	grace_period 1ns
}

http://localhost:%[2]d {
	applink_publish {
		base_url %[4]s
		consumer_key proxy:1
		private_key_file %[7]s
		name "Proxy"
	}
	applink {
		base_url %[4]s
		consumer %[6]s {
			public_key_file %[5]s
			two_legged svc-cli
			impersonation
		}
		anonymous reject
	}
	respond "user={http.request.header.X-Forwarded-User}"
}
`, adminPort, httpPort, httpsPort, base, pubFile(), cliConsumer, proxyKey), "caddyfile")
	if t.Failed() {
		t.FailNow()
	}
	// applink's nonce store refuses the second it was created in.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))

	ours := []string{"--consumer-key", cliConsumer, "--key", privFile()}
	code, out, errOut := runCommand(t, "check", append(ours, base)...)
	if code != 0 || !strings.Contains(out, "[ok] Proxy (generic 1.0.0") || !strings.Contains(out, "key proxy:1") || !strings.Contains(out, "Result: the link works") {
		t.Errorf("check: exit %d\n%s%s", code, out, errOut)
	}

	code, out, _ = runCommand(t, "check", append(ours, "--as", "alice", "--path", "/rest/api/2/myself", base)...)
	if code != 0 {
		t.Errorf("check --as: exit %d\n%s", code, out)
	}
	code, stdout, stderr := runCommand(t, "sign", append(ours, "--as", "alice", base+"/rest/api/2/myself?expand=a&expand=b")...)
	if code != 0 || stdout != "user=alice" {
		t.Errorf("sign --as alice: exit %d %q %s", code, stdout, stderr)
	}
	code, stdout, _ = runCommand(t, "sign", append(ours, "-d", "a=1&b=x+y", base+"/rest/x?q=%20")...)
	if code != 0 || stdout != "user=svc-cli" {
		t.Errorf("sign POST form: exit %d %q", code, stdout)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--consumer-key", cliConsumer, "--key", proxyKey, base}, "oauth_problem=signature_invalid"},
		{[]string{"--consumer-key", "stranger", "--key", privFile(), base}, "oauth_problem=consumer_key_unknown"},
		{append(ours, "--remote-base-url", "https://localhost", base), "oauth_problem=signature_invalid"},
	} {
		code, out, _ := runCommand(t, "check", c.args...)
		if code != 1 || !strings.Contains(out, c.want) {
			t.Errorf("check %q: exit %d\n%s", c.args, code, out)
		}
	}
}

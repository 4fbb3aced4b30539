//go:build linux

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/caddy-applink/caddy-applink/internal/cli"
	"github.com/caddy-applink/caddy-applink/internal/testkit"
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
	k, err := testkit.WriteKeyPair(t.TempDir(), "proxy")
	if err != nil {
		t.Fatal(err)
	}
	return k.PrivFile
}

// TestAgainstOwnProvider: sign and check against caddy-applink itself
// (applink_publish + applink in front of a stand-in product), as an admin
// would try a new link.
func TestCLIAgainstOwnProvider(t *testing.T) {
	proxyKey := proxyKeyFile(t)
	base := proxyBase
	loadCaddy(t, caddyGlobals(testkit.NoGrace)+fmt.Sprintf(`
%[1]s {
	applink_publish {
		base_url %[1]s
		consumer_key proxy:1
		private_key_file %[4]s
		name "Proxy"
	}
	applink {
		base_url %[1]s
		consumer %[3]s {
			public_key_file %[2]s
			two_legged svc-cli
			impersonation
		}
		anonymous reject
	}
	respond "user={http.request.header.X-Forwarded-User}"
}
`, base, pubFile(), cliConsumer, proxyKey))
	// applink's nonce store refuses the second it was created in.
	testkit.WaitNextSecond()

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

package cli

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"

	_ "github.com/caddy-applink/caddy-applink/caddymodule"
)

// This package's in-process Caddy (the other packages' tests use 2997-2999
// and 9080-9281).
const (
	adminPort = 2996
	httpPort  = 9380
	httpsPort = 9743
)

// TestAgainstOwnProvider: sign and check against caddy-applink itself
// (applink_publish + applink in front of a stand-in product), as an admin
// would try a new link.
func TestAgainstOwnProvider(t *testing.T) {
	testKeys(t)
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
		private_key_file %[5]s/other.pem
		name "Proxy"
	}
	applink {
		base_url %[4]s
		consumer %[6]s {
			public_key_file %[5]s/ours.pub.pem
			two_legged svc-cli
			impersonation
		}
		anonymous reject
	}
	respond "user={http.request.header.X-Forwarded-User}"
}
`, adminPort, httpPort, httpsPort, base, keyDir, testConsumer), "caddyfile")
	if t.Failed() {
		t.FailNow()
	}
	// applink's nonce store refuses the second it was created in.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))

	ours := []string{"--consumer-key", testConsumer, "--key", ourKeyFile()}
	code, out, errOut := run(t, checkCommand(), "", append(ours, base)...)
	if code != 0 || !strings.Contains(out, "[ok] Proxy (generic 1.0.0") || !strings.Contains(out, "key proxy:1") || !strings.Contains(out, "Result: the link works") {
		t.Errorf("check: exit %d\n%s%s", code, out, errOut)
	}

	code, out, _ = run(t, checkCommand(), "", append(ours, "--as", "alice", "--path", "/rest/api/2/myself", base)...)
	if code != 0 {
		t.Errorf("check --as: exit %d\n%s", code, out)
	}
	code, stdout, stderr := run(t, signCommand(), "", append(ours, "--as", "alice", base+"/rest/api/2/myself?expand=a&expand=b")...)
	if code != 0 || stdout != "user=alice" {
		t.Errorf("sign --as alice: exit %d %q %s", code, stdout, stderr)
	}
	code, stdout, _ = run(t, signCommand(), "", append(ours, "-d", "a=1&b=x+y", base+"/rest/x?q=%20")...)
	if code != 0 || stdout != "user=svc-cli" {
		t.Errorf("sign POST form: exit %d %q", code, stdout)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--consumer-key", testConsumer, "--key", otherKeyFile(), base}, "oauth_problem=signature_invalid"},
		{[]string{"--consumer-key", "stranger", "--key", ourKeyFile(), base}, "oauth_problem=consumer_key_unknown"},
		{append(ours, "--remote-base-url", "https://localhost", base), "oauth_problem=signature_invalid"},
	} {
		code, out, _ := run(t, checkCommand(), "", c.args...)
		if code != 1 || !strings.Contains(out, c.want) {
			t.Errorf("check %q: exit %d\n%s", c.args, code, out)
		}
	}
}

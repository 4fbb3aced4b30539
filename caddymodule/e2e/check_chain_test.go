//go:build linux

package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/caddy-applink/caddy-applink/internal/testkit"
	"github.com/caddy-applink/caddy-applink/internal/testproc"
)

// TestCheckThroughAGateway: `applink check` against a gateway (applink_publish
// and applink in front of reverse_proxy with transport applink, as
// examples/gateway) whose own link to the
// product is broken (it signs with a key the product does not hold). The
// check's signature is fine: the report must blame the gateway's hop, not
// our key. With the gateway's right key, the link works end to end.
func TestCheckThroughAGateway(t *testing.T) {
	port, err := testproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	product := "http://localhost:" + strconv.Itoa(port)
	gatewayKey, err := testkit.WriteKeyPair(t.TempDir(), "gateway")
	if err != nil {
		t.Fatal(err)
	}
	wrongKey := proxyKeyFile(t)
	config := func(outgoingKey string) string {
		return caddyGlobals(testkit.NoGrace) + fmt.Sprintf(`
%[1]s {
	applink_publish {
		base_url %[1]s
		consumer_key gateway:1
		private_key_file %[8]s
		name "Gateway"
	}
	applink {
		base_url %[1]s
		consumer %[3]s {
			public_key_file %[2]s
			two_legged svc-cli
			impersonation
		}
	}
	reverse_proxy localhost:%[7]d {
		transport applink {
			consumer_key gateway:1
			private_key_file %[5]s
			remote_base_url %[6]s
			mode impersonation
			user {http.auth.user.id}
		}
	}
}
%[6]s {
	applink {
		base_url %[6]s
		consumer gateway:1 {
			public_key_file %[4]s
			impersonation
		}
	}
	respond "user={http.request.header.X-Forwarded-User}"
}
`, proxyBase, pubFile(), cliConsumer, gatewayKey.PubFile, outgoingKey, product, port, gatewayKey.PrivFile)
	}
	ours := []string{"--consumer-key", cliConsumer, "--key", privFile(), "--as", "alice", "--path", "/rest/api/2/myself", proxyBase}

	loadCaddy(t, config(wrongKey))
	code, out, _ := runCommand(t, "check", ours...)
	host := strings.TrimPrefix(product, "http://")
	for _, want := range []string{"oauth_problem=signature_invalid, from " + host + ", behind the proxy", "The fault is in the proxy's link to " + host, "Result: the link does NOT work."} {
		if !strings.Contains(out, want) {
			t.Errorf("broken second hop: output lacks %q:\n%s", want, out)
		}
	}
	if code != 1 || strings.Contains(out, "Our base string") {
		t.Errorf("broken second hop: exit %d, or it diagnosed our own signature:\n%s", code, out)
	}

	loadCaddy(t, config(gatewayKey.PrivFile))
	code, out, _ = runCommand(t, "check", ours...)
	if code != 0 || !strings.Contains(out, "[ok] the remote ran the request as alice") || !strings.Contains(out, "Result: the link works") {
		t.Errorf("working chain: exit %d\n%s", code, out)
	}
}

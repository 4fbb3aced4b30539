package caddymodule

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/rsakey"
	"github.com/caddy-applink/caddy-applink/internal/signer"
	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

// TestGatewayExample runs examples/gateway/demo.Caddyfile, the production
// file and its stand-in Jira (in this package's in-process Caddy, on its
// admin port and free ports, so that it collides with nothing) and sends it what its README shows: linked apps signed with
// their own keys reach the stand-in Jira as the user the gateway mapped,
// re-signed with the gateway's key; anonymous callers do not; the gateway's
// identity is published anonymously.
func TestGatewayExample(t *testing.T) {
	root, _ := filepath.Abs("..")
	prod, err := os.ReadFile(filepath.Join(root, "examples/gateway/Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	demo, err := os.ReadFile(filepath.Join(root, "examples/gateway/demo.Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	// The admin API loads text, not a file: the import is done here.
	cfg := strings.Replace(string(demo), "import Caddyfile\n", string(prod), 1)
	if cfg == string(demo) {
		t.Fatal("demo.Caddyfile no longer imports the production Caddyfile")
	}
	keys := filepath.Join(root, "examples/keys")
	cfg = strings.ReplaceAll(cfg, "examples/keys/", keys+"/")
	// The example's ports, moved to free ones: nothing here takes a fixed
	// port, which the demo or another test may hold.
	ports := testkit.FreePorts(3)
	cfg = strings.NewReplacer(":8095", fmt.Sprintf(":%d", ports[0]), ":8096", fmt.Sprintf(":%d", ports[1]), ":8097", fmt.Sprintf(":%d", ports[2])).Replace(cfg)
	gateway := fmt.Sprintf("http://localhost:%d", ports[0])
	t.Setenv("APPLINK_ADMIN", fmt.Sprintf("localhost:%d", transportAdminPort))
	t.Setenv("APPLINK_STATE_FILE", filepath.Join(t.TempDir(), "state.db"))
	tester := testkit.LoadCaddy(t, transportAdminPort, 20*time.Second, cfg)
	waitForNonceFloor()

	appKey, err := rsakey.LoadPrivate(filepath.Join(keys, "demo-consumer.pem"))
	if err != nil {
		t.Fatal(err)
	}
	client := func(consumer string) *signer.Signer {
		s, err := signer.New(signer.Config{ConsumerKey: consumer, PrivateKey: appKey, RemoteBaseURL: gateway})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, c := range []struct {
		consumer, user, target, want string
	}{
		{"bamboo:93f2", "", "/rest/api/2/myself", `{"name":"svc-bamboo","uri":"/rest/api/2/myself"}`},
		{"bamboo:93f2", "alice", "/rest/api/2/myself?expand=groups", `{"name":"alice","uri":"/rest/api/2/myself?expand=groups"}`},
		{"confluence:7c1e", "", "/rest/api/2/search?jql=project%3DABC", `{"name":"svc-confluence-reader","uri":"/rest/api/2/search?jql=project%3DABC"}`},
	} {
		req := testkit.NewRequest(t, "GET", gateway+c.target, "", "")
		mode := signer.Mode2LO
		if c.user != "" {
			mode = signer.ModeImpersonation
		}
		if err := client(c.consumer).Sign(req, mode, c.user, nil); err != nil {
			t.Fatal(err)
		}
		resp, body := do(t, tester, req)
		if resp.StatusCode != 200 || strings.TrimSpace(body) != c.want {
			t.Errorf("%s as %q: %d %s %q, want %s", c.consumer, c.user, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body, c.want)
		}
	}

	// Confluence may not impersonate; anonymous callers are refused.
	req := testkit.NewRequest(t, "GET", gateway+"/rest/api/2/myself", "", "")
	if err := client("confluence:7c1e").Sign(req, signer.ModeImpersonation, "admin", nil); err != nil {
		t.Fatal(err)
	}
	if resp, body := do(t, tester, req); resp.StatusCode != 401 || strings.Contains(body, "admin") {
		t.Errorf("confluence impersonating: %d %q", resp.StatusCode, body)
	}
	if resp, body := do(t, tester, testkit.NewRequest(t, "GET", gateway+"/rest/api/2/myself", "", "", "X-Forwarded-User", "admin")); resp.StatusCode != 401 {
		t.Errorf("anonymous: %d %q", resp.StatusCode, body)
	}

	// The gateway's identity, for Jira's link wizard, anonymously.
	resp, body := do(t, tester, testkit.NewRequest(t, "GET", gateway+"/plugins/servlet/oauth/consumer-info", "", ""))
	var ci struct {
		Key       string `xml:"key"`
		PublicKey string `xml:"publicKey"`
	}
	if resp.StatusCode != 200 || xml.Unmarshal([]byte(body), &ci) != nil || ci.Key != "gateway:0f3a" {
		t.Fatalf("consumer-info: %d %q", resp.StatusCode, body)
	}
	pub, err := rsakey.ParsePublic([]byte(ci.PublicKey))
	gwPub, err2 := rsakey.LoadPublic(filepath.Join(keys, "demo-gateway.pub.pem"))
	if err != nil || err2 != nil || !pub.Equal(gwPub) {
		t.Errorf("consumer-info key is not the gateway's: %v %v", err, err2)
	}
	if resp, body := do(t, tester, testkit.NewRequest(t, "GET", gateway+"/rest/applinks/1.0/manifest", "", "")); resp.StatusCode != 200 || !strings.Contains(body, "<url>"+gateway+"</url>") {
		t.Errorf("manifest: %d %q", resp.StatusCode, body)
	}
}

//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-applink/caddy-applink/internal/signer"
	"github.com/caddy-applink/caddy-applink/internal/testkit"
	"github.com/caddy-applink/caddy-applink/internal/testoracle"
)

// TestForwardOAuthToAnIndependentVerifier: with forward_oauth, an OAuth
// verifier no one here wrote (python-oauthlib, playing the product's
// net.oauth behind Tomcat) accepts what the proxy forwards, 2LO,
// impersonation and a 3LO token the proxy never issued, while a replay and
// a forged signature never reach it.
func TestForwardOAuthToAnIndependentVerifier(t *testing.T) {
	const consumer, token = "confluence:passthrough", "token-the-product-issued"
	oracle := testoracle.Start(t, testoracle.Options{PublicKeyFile: pubFile(), ConsumerKey: consumer, Token: token, Origin: proxyBase})
	tester := loadCaddy(t, caddyGlobals(testkit.NoGrace)+fmt.Sprintf(`
%[1]s {
	applink {
		base_url %[1]s
		consumer %[2]s {
			public_key_file %[3]s
			two_legged svc-confluence
			impersonation
		}
		forward_oauth
	}
	reverse_proxy %[4]s
}
`, proxyBase, consumer, pubFile(), oracle.Addr()))
	sg, err := signer.New(signer.Config{ConsumerKey: consumer, PrivateKey: appKeys().Key, RemoteBaseURL: proxyBase})
	if err != nil {
		t.Fatal(err)
	}
	type verdict struct {
		OK     bool   `json:"ok"`
		Mode   string `json:"mode"`
		User   string `json:"user"`
		Reason string `json:"reason"`
	}
	send := func(req *http.Request) (*http.Response, *verdict) {
		t.Helper()
		resp, err := tester.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var v verdict
		if resp.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &v) != nil {
			return resp, nil // not the verifier's answer: the proxy's
		}
		return resp, &v
	}
	for _, tc := range []struct {
		name     string
		mode     signer.Mode
		user     string
		tok      *signer.Token
		target   string
		wantMode string
		wantUser string
	}{
		{"2LO", signer.Mode2LO, "", nil, "/rest/api/2/myself", "2lo", ""},
		{"impersonation", signer.ModeImpersonation, "alice", nil, "/rest/api/2/search?jql=project%3DABC", "impersonation", "alice"},
		{"3LO", signer.Mode3LO, "", &signer.Token{Token: token}, "/rest/api/2/myself", "3lo", ""},
	} {
		req, _ := http.NewRequest("GET", proxyBase+tc.target, nil)
		if err := sg.Sign(req, tc.mode, tc.user, tc.tok); err != nil {
			t.Fatal(err)
		}
		replay := req.Clone(req.Context())
		resp, v := send(req)
		if resp.StatusCode != 200 || v == nil || !v.OK || v.Mode != tc.wantMode || v.User != tc.wantUser {
			t.Errorf("%s: %d %+v; want the independent verifier to accept it as %s %q", tc.name, resp.StatusCode, v, tc.wantMode, tc.wantUser)
		}
		// Replayed: the proxy refuses it; the verifier, which would refuse
		// it too, never sees it.
		resp, v = send(replay)
		if resp.StatusCode != 401 || v != nil || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `oauth_problem="nonce_used"`) {
			t.Errorf("%s replayed: %d %+v %s; want the proxy's 401 nonce_used", tc.name, resp.StatusCode, v, resp.Header.Get("WWW-Authenticate"))
		}
	}
	// A forged signature is refused by the proxy, never forwarded.
	req, _ := http.NewRequest("GET", proxyBase+"/rest/api/2/myself", nil)
	if err := sg.Sign(req, signer.Mode2LO, "", nil); err != nil {
		t.Fatal(err)
	}
	auth := req.Header.Get("Authorization")
	i := strings.Index(auth, `oauth_signature="`) + len(`oauth_signature="`)
	c := byte('A')
	if auth[i] == 'A' {
		c = 'B'
	}
	req.Header.Set("Authorization", auth[:i]+string(c)+auth[i+1:])
	if resp, v := send(req); resp.StatusCode != 401 || v != nil {
		t.Errorf("forged signature: %d %+v; want the proxy's 401", resp.StatusCode, v)
	}
}

package caddymodule

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
)

// TestForwardOAuth drives passthrough: verified requests reach the product
// with their OAuth exactly as signed, plus the identity header; what the
// proxy refuses today it still refuses; the product's token endpoints are
// forwarded, not served; the proxy still strips spoofable credentials.
func TestForwardOAuth(t *testing.T) {
	rec := newRecorder(t)
	tester := startProxy(t, rec, "forward_oauth", "")

	// 2LO with impersonation, a form body: everything the product needs to
	// verify again arrives as sent.
	spec := signSpec{Method: "POST", Target: "/rest/api/2/issue?xoauth_requestor_id=alice&os_username=admin", Form: "a=1&b=x+y"}
	req := spec.build(t)
	sentAuth := req.Header.Get("Authorization")
	mark := rec.Mark()
	resp, body := do(t, tester, req)
	if resp.StatusCode != 200 {
		t.Fatalf("impersonation: %d %s %s", resp.StatusCode, body, resp.Header.Get("WWW-Authenticate"))
	}
	got := rec.Since(mark)
	if len(got) != 1 {
		t.Fatalf("the product got %d requests, want 1", len(got))
	}
	up := got[0]
	if a := up.Header.Values("Authorization"); len(a) != 1 || a[0] != sentAuth {
		t.Errorf("Authorization upstream %q, want it as sent", a)
	}
	if up.URI != "/rest/api/2/issue?xoauth_requestor_id=alice" {
		t.Errorf("upstream target %q: want the signed query, with only os_username removed", up.URI)
	}
	if up.Body != "a=1&b=x+y" {
		t.Errorf("upstream body %q", up.Body)
	}
	if u := up.Header.Values("X-Forwarded-User"); len(u) != 1 || u[0] != "alice" {
		t.Errorf("identity header %q, want alice", u)
	}

	// A replay never reaches the product; a bad signature neither.
	mark = rec.Mark()
	if resp, _ := do(t, tester, spec.build(t)); resp.StatusCode != 200 {
		t.Fatalf("a second request: %d", resp.StatusCode)
	}
	again := rec.Since(mark)
	replay, _ := http.NewRequest(again[0].Method, proxyBase+again[0].URI, strings.NewReader(again[0].Body))
	replay.Header.Set("Authorization", again[0].Header.Get("Authorization"))
	replay.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	mark = rec.Mark()
	if resp, _ := do(t, tester, replay); resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), oauth1.NonceUsed) {
		t.Errorf("replay: %d %s, want 401 nonce_used", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	bad := "AAAA"
	if resp, _ := do(t, tester, signSpec{Target: "/rest/a", Signature: &bad}.build(t)); resp.StatusCode != 401 {
		t.Errorf("bad signature: %d, want 401", resp.StatusCode)
	}
	if n := len(rec.Since(mark)); n != 0 {
		t.Errorf("the product got %d refused requests", n)
	}

	// 3LO: a token the proxy never issued goes to the product with no
	// identity; the consumer's signature is still checked here.
	tok := "product-issued-token"
	mark = rec.Mark()
	if resp, body := do(t, tester, signSpec{Target: "/rest/api/2/myself", Token: &tok}.build(t)); resp.StatusCode != 200 {
		t.Fatalf("3LO: %d %s %s", resp.StatusCode, body, resp.Header.Get("WWW-Authenticate"))
	}
	if up := rec.Since(mark); len(up) != 1 || up[0].Header.Get("X-Forwarded-User") != "" || !strings.Contains(up[0].Header.Get("Authorization"), "oauth_token=\""+tok+"\"") {
		t.Errorf("3LO upstream: %+v; want the token intact and no identity header", up)
	}
	if resp, _ := do(t, tester, signSpec{Target: "/rest/api/2/myself", Token: &tok, Signature: &bad}.build(t)); resp.StatusCode != 401 {
		t.Errorf("3LO with a bad consumer signature: %d, want 401", resp.StatusCode)
	}
	// HMAC-SHA1 3LO cannot be checked without the product's token secret.
	resp, _ = do(t, tester, signSpec{Consumer: hmacKey, Secret: hmacSecret, TokenSecret: "x", Target: "/rest/a", Token: &tok}.build(t))
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "RSA-SHA1") {
		t.Errorf("HMAC 3LO: %d %s, want 401 naming RSA-SHA1", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	// Plain 2LO for a consumer without two_legged is still refused.
	if resp, _ := do(t, tester, signSpec{Consumer: impOnlyKey, Target: "/rest/a"}.build(t)); resp.StatusCode != 401 {
		t.Errorf("2LO without two_legged: %d, want 401", resp.StatusCode)
	}

	// The product's token endpoints: verified as such, forwarded, no user.
	cb := "oob"
	mark = rec.Mark()
	rt := signSpec{Method: "POST", Target: "/plugins/servlet/oauth/request-token", NoToken: true,
		Extra: []oauth1.Param{{Key: "oauth_callback", Value: cb}}}.build(t)
	if resp, body := do(t, tester, rt); resp.StatusCode != 200 {
		t.Fatalf("request-token: %d %s %s", resp.StatusCode, body, resp.Header.Get("WWW-Authenticate"))
	}
	if up := rec.Since(mark); len(up) != 1 || up[0].Header.Get("X-Forwarded-User") != "" || !strings.Contains(up[0].Header.Get("Authorization"), "oauth_callback") {
		t.Errorf("request-token upstream: %+v; want it forwarded as signed, with no user", up)
	}
	mark = rec.Mark()
	resp, _ = do(t, tester, signSpec{Method: "POST", Target: "/plugins/servlet/oauth/request-token", NoToken: true, Signature: &bad}.build(t))
	if resp.StatusCode != 401 || len(rec.Since(mark)) != 0 {
		t.Errorf("mis-signed request-token: %d; want 401, never forwarded", resp.StatusCode)
	}
	// The approval page is the product's: a browser reaches it.
	mark = rec.Mark()
	resp, _ = do(t, tester, mustRequest(t, "GET", proxyBase+"/plugins/servlet/oauth/authorize?oauth_token="+url.QueryEscape(tok)))
	if resp.StatusCode != 200 || len(rec.Since(mark)) != 1 {
		t.Errorf("authorize page: %d; want it forwarded to the product", resp.StatusCode)
	}
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

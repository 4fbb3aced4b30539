package caddymodule

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	dghubble "github.com/dghubble/oauth1"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
)

const placeholderEcho = `request_header X-Applink-Mode "{applink.mode}"
	request_header X-Applink-Consumer "{applink.consumer}"
	request_header X-Auth-User "{http.auth.user.id}"`

func TestAuthenticatedRequestsReachUpstreamAsExactlyOneUser(t *testing.T) {
	rec := newRecorder(t)
	tester := startProxy(t, rec, "", placeholderEcho)

	cases := []struct {
		name               string
		spec               signSpec
		user, mode, consum string
	}{
		{"2LO header", signSpec{Target: "/rest/api/2/issue/ABC-1?expand=names&expand=schema"}, "svc-bamboo", "2lo", rsaKey},
		{"2LO query", signSpec{Target: "/rest/api/2/search?jql=project%20%3D%20ABC+AND+x", Loc: oauth1.InQuery}, "svc-bamboo", "2lo", rsaKey},
		{"2LO form with charset", signSpec{Method: "POST", Target: "/rest/x", Form: "a=1+2&b=%2B&c=", FormType: "application/x-www-form-urlencoded; charset=UTF-8", Loc: oauth1.InForm}, "svc-bamboo", "2lo", rsaKey},
		{"2LO without oauth_token (oauthlib style)", signSpec{Target: "/rest/y", Omit: "oauth_token"}, "svc-bamboo", "2lo", rsaKey},
		{"impersonation in query", signSpec{Target: "/rest/api/2/myself?xoauth_requestor_id=alice"}, "alice", "2lo-impersonation", rsaKey},
		{"impersonation unicode user", signSpec{Target: "/rest/api/2/myself?xoauth_requestor_id=j%C3%BCrgen"}, "jürgen", "2lo-impersonation", rsaKey},
		{"impersonation in form", signSpec{Method: "POST", Target: "/rest/z", Form: "xoauth_requestor_id=bob&summary=hello+world"}, "bob", "2lo-impersonation", rsaKey},
		{"impersonation with deprecated user_id", signSpec{Target: "/rest/z?user_id=carol"}, "carol", "2lo-impersonation", rsaKey},
		{"impersonation-only consumer", signSpec{Consumer: impOnlyKey, Target: "/rest/z?xoauth_requestor_id=dave"}, "dave", "2lo-impersonation", impOnlyKey},
		{"base64 DER consumer key", signSpec{Consumer: noImpKey, Target: "/rest/w"}, "svc-confluence", "2lo", noImpKey},
		{"HMAC-SHA1 consumer", signSpec{Consumer: hmacKey, Secret: hmacSecret, Target: "/rest/h?x=1"}, "svc-ci", "2lo", hmacKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.spec.build(t)
			req.Header.Set("X-Forwarded-User", "admin")
			req.Header["X_Forwarded_User"] = []string{"admin"}
			req.Header.Set("Cookie", "JSESSIONID=stolen")
			before := rec.Count.Load()
			resp, body := do(t, tester, req)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, %s; body %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
			}
			if rec.Count.Load() != before+1 {
				t.Fatal("upstream not reached exactly once")
			}
			got := rec.Last(t)
			if ids := identityHeaders(got); len(ids) != 1 || ids[0] != "X-Forwarded-User="+tc.user {
				t.Errorf("identity headers upstream = %v, want exactly X-Forwarded-User=%s", ids, tc.user)
			}
			if got.Header.Get("X-Applink-Mode") != tc.mode || got.Header.Get("X-Applink-Consumer") != tc.consum ||
				got.Header.Get("X-Auth-User") != tc.user {
				t.Errorf("placeholders: mode=%q consumer=%q user=%q", got.Header.Get("X-Applink-Mode"),
					got.Header.Get("X-Applink-Consumer"), got.Header.Get("X-Auth-User"))
			}
			if a := got.Header.Get("Authorization"); a != "" {
				t.Errorf("Authorization reached upstream: %q", a)
			}
			if c := got.Header.Get("Cookie"); c != "" {
				t.Errorf("Cookie reached upstream with a verified identity: %q", c)
			}
			for _, leak := range []string{"oauth_", "xoauth_requestor_id", "user_id"} {
				if strings.Contains(got.URI, leak) || strings.Contains(got.Body, leak) {
					t.Errorf("%s reached upstream: uri %q body %q", leak, got.URI, got.Body)
				}
			}
		})
	}
}

func TestNonOAuthPartsReachUpstreamByteForByte(t *testing.T) {
	rec := newRecorder(t)
	tester := startProxy(t, rec, "", "")

	// The query keeps its exact encoding; the form body keeps every byte
	// but the OAuth pairs.
	req := signSpec{Method: "POST", Target: "/rest/q?a=%7e&b=x+y&b=z&empty=&flag", Loc: oauth1.InForm,
		Form: "summary=caf%C3%A9+%26+more&x=%2b&list=1&list=2"}.build(t)
	resp, body := do(t, tester, req)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d %s %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
	}
	got := rec.Last(t)
	if got.URI != "/rest/q?a=%7e&b=x+y&b=z&empty=&flag" {
		t.Errorf("upstream URI %q", got.URI)
	}
	if got.Body != "summary=caf%C3%A9+%26+more&x=%2b&list=1&list=2" {
		t.Errorf("upstream body %q", got.Body)
	}
	if got.Header.Get("Content-Length") != strconv.Itoa(len(got.Body)) {
		t.Errorf("Content-Length %q", got.Header.Get("Content-Length"))
	}

	// An anonymous form POST is forwarded untouched.
	raw := "os_username=admin&title=a%20b&os_password=pw&z=%E2%82%AC"
	req, _ = http.NewRequest("POST", proxyBase+"/secure/Dashboard.jspa", strings.NewReader(raw))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8")
	resp, _ = do(t, tester, req)
	if resp.StatusCode != 200 {
		t.Fatalf("anonymous POST status %d", resp.StatusCode)
	}
	if got := rec.Last(t); got.Body != "title=a%20b&z=%E2%82%AC" {
		t.Errorf("anonymous body upstream %q; want Seraph login params removed, the rest intact", got.Body)
	}

	// A JSON body is not read or changed.
	json := `{"fields":{"summary":"oauth_token=x"}}`
	req = signSpec{Method: "POST", Target: "/rest/api/2/issue"}.build(t)
	req.Body = nopCloser(json)
	req.ContentLength = int64(len(json))
	req.Header.Set("Content-Type", "application/json")
	resp, _ = do(t, tester, req)
	if resp.StatusCode != 200 || rec.Last(t).Body != json {
		t.Errorf("JSON body: status %d, upstream body %q", resp.StatusCode, rec.Last(t).Body)
	}
}

func TestReplayIsRefusedAndNeverForwarded(t *testing.T) {
	rec := newRecorder(t)
	tester := startProxy(t, rec, "", "")
	req := signSpec{Target: "/rest/api/2/myself?xoauth_requestor_id=alice"}.build(t)
	auth := req.Header.Get("Authorization")
	resp, _ := do(t, tester, req)
	if resp.StatusCode != 200 {
		t.Fatalf("first send: %d %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	n := rec.Count.Load()
	replay, _ := http.NewRequest("GET", req.URL.String(), nil)
	replay.Header.Set("Authorization", auth)
	resp, body := do(t, tester, replay)
	if resp.StatusCode != 401 || problemOf(resp) != oauth1.NonceUsed {
		t.Fatalf("replay: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if !strings.Contains(body, "oauth_problem=nonce_used") {
		t.Errorf("body %q lacks the problem", body)
	}
	if rec.Count.Load() != n {
		t.Error("replay reached the upstream")
	}
}

func TestDghubbleClientInterop(t *testing.T) {
	rec := newRecorder(t)
	tester := startProxy(t, rec, "", "")
	cfg := &dghubble.Config{ConsumerKey: rsaKey, Signer: &dghubble.RSASigner{PrivateKey: consumerKeys().Key}}
	ctx := context.WithValue(context.Background(), dghubble.HTTPClient, tester.Client)
	client := cfg.Client(ctx, dghubble.NewToken("", ""))

	for _, tc := range []struct{ url, user string }{
		{proxyBase + "/rest/api/2/issue/ABC-1?fields=summary,status", "svc-bamboo"},
		{proxyBase + "/rest/api/2/myself?xoauth_requestor_id=erin", "erin"},
		{proxyBase + "/rest/api/2/search?jql=text%20~%20%22a%2Bb%22", "svc-bamboo"},
	} {
		resp, err := client.Get(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", tc.url, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		if ids := identityHeaders(rec.Last(t)); len(ids) != 1 || ids[0] != "X-Forwarded-User="+tc.user {
			t.Errorf("%s: upstream identity %v", tc.url, ids)
		}
	}

	// A dghubble client with a key the consumer does not have.
	bad := (&dghubble.Config{ConsumerKey: rsaKey, Signer: &dghubble.RSASigner{PrivateKey: strangerKeys().Key}}).Client(ctx, dghubble.NewToken("", ""))
	n := rec.Count.Load()
	resp, err := bad.Get(proxyBase + "/rest/api/2/myself")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || problemOf(resp) != oauth1.SignatureInvalid || rec.Count.Load() != n {
		t.Errorf("wrong key: %d %q, forwarded=%v", resp.StatusCode, problemOf(resp), rec.Count.Load() != n)
	}
}

type stringReadCloser struct{ *strings.Reader }

func (stringReadCloser) Close() error { return nil }

func nopCloser(s string) stringReadCloser { return stringReadCloser{strings.NewReader(s)} }

// TestFormBodiesAreSignedOnlyForPOST: as Tomcat (and so Atlassian, and our
// own signer) reads them, only POST form bodies are signed parameters.
func TestFormBodiesAreSignedOnlyForPOST(t *testing.T) {
	rec := newRecorder(t)
	tester := startProxy(t, rec, "debug_base_string", "")
	// Signed without the body: passes; the body's identity and OAuth
	// parameters are stripped all the same.
	req := signSpec{Method: "PUT", Target: "/rest/p"}.build(t)
	body := "title=x&xoauth_requestor_id=admin&oauth_token=zzz"
	req.Body, req.ContentLength = nopCloser(body), int64(len(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, _ := do(t, tester, req)
	if resp.StatusCode != 200 {
		t.Fatalf("PUT form signed without its body: %d %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if got := rec.Last(t); got.Body != "title=x" || got.Header.Get("X-Forwarded-User") != "svc-bamboo" {
		t.Errorf("upstream got body %q as %q", got.Body, got.Header.Get("X-Forwarded-User"))
	}
	// Signed with the body (RFC 5849 style): not what the server sees.
	resp, _ = do(t, tester, signSpec{Method: "PUT", Target: "/rest/p", Form: "title=x"}.build(t))
	if resp.StatusCode != 401 || problemOf(resp) != oauth1.SignatureInvalid {
		t.Errorf("PUT form signed with its body: %d %s", resp.StatusCode, problemOf(resp))
	}
	// debug_base_string: the refusal carries the proxy's base string.
	if wa := resp.Header.Get("WWW-Authenticate"); !strings.Contains(wa, `oauth_signature_base_string="PUT%26http%253A%252F%252Flocalhost%253A`+strconv.Itoa(handlerHTTPPort)+`%252Frest%252Fp%26`) {
		t.Errorf("no base string in %q", wa)
	}
}

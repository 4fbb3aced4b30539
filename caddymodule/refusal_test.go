package caddymodule

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/hygiene"
	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

// TestBadInputGetsItsErrorAndNothingElse drives every bad input of issue 2
// through real Caddy: each gets its status and oauth_problem, a
// WWW-Authenticate challenge and the same parameters as a form body, and the
// upstream never sees it.
func TestBadInputGetsItsErrorAndNothingElse(t *testing.T) {
	rec := newRecorder(t)
	tester := startProxy(t, rec, "max_form_body 1KB", "")
	now := time.Now().Unix()
	bigNonce := strings.Repeat("n", 10*1024)

	cases := []struct {
		name    string
		req     func(t *testing.T) *http.Request
		status  int
		problem string
		param   string // an extra parameter the challenge must carry
	}{
		{"unknown consumer", spec(signSpec{Consumer: "nobody:1", Target: "/rest/a"}), 401, oauth1.ConsumerKeyUnknown, ""},
		{"wrong key", spec(signSpec{Key: strangerKeys().Key, Target: "/rest/a"}), 401, oauth1.SignatureInvalid, ""},
		{"tampered method", spec(signSpec{Method: "DELETE", SignVerb: "GET", Target: "/rest/a"}), 401, oauth1.SignatureInvalid, ""},
		{"tampered host", spec(signSpec{Target: "/rest/a", Base: fmt.Sprintf("http://evil.example:%d", handlerHTTPPort)}), 401, oauth1.SignatureInvalid, ""},
		{"tampered port", spec(signSpec{Target: "/rest/a", Base: fmt.Sprintf("http://localhost:%d", otherPort)}), 401, oauth1.SignatureInvalid, ""},
		{"tampered path", spec(signSpec{Target: "/rest/admin", SignedAs: "/rest/a"}), 401, oauth1.SignatureInvalid, ""},
		{"tampered query value", spec(signSpec{Target: "/rest/a?id=2", SignedAs: "/rest/a?id=1"}), 401, oauth1.SignatureInvalid, ""},
		{"added query param", spec(signSpec{Target: "/rest/a?id=1&admin=true", SignedAs: "/rest/a?id=1"}), 401, oauth1.SignatureInvalid, ""},
		{"dropped repeated value", spec(signSpec{Target: "/rest/a?x=1", SignedAs: "/rest/a?x=1&x=2"}), 401, oauth1.SignatureInvalid, ""},
		{"tampered requestor", spec(signSpec{Target: "/rest/a?xoauth_requestor_id=admin", SignedAs: "/rest/a?xoauth_requestor_id=alice"}), 401, oauth1.SignatureInvalid, ""},
		{"tampered form body", spec(signSpec{Method: "POST", Target: "/rest/a", Form: "x=2", Loc: oauth1.InQuery, SignedAs: "/rest/a?x=1"}), 401, oauth1.SignatureInvalid, ""},
		{"missing oauth_nonce", spec(signSpec{Target: "/rest/a", Omit: "oauth_nonce"}), 400, oauth1.ParameterAbsent, "oauth_parameters_absent"},
		{"missing oauth_signature", spec(signSpec{Target: "/rest/a", Omit: "oauth_signature"}), 400, oauth1.ParameterAbsent, "oauth_parameters_absent"},
		{"missing oauth_timestamp", spec(signSpec{Target: "/rest/a", Omit: "oauth_timestamp"}), 400, oauth1.ParameterAbsent, "oauth_parameters_absent"},
		{"missing oauth_signature_method", spec(signSpec{Target: "/rest/a", Omit: "oauth_signature_method"}), 400, oauth1.ParameterAbsent, "oauth_parameters_absent"},
		{"missing oauth_consumer_key", spec(signSpec{Target: "/rest/a", Omit: "oauth_consumer_key"}), 400, oauth1.ParameterAbsent, "oauth_parameters_absent"},
		{"duplicated oauth_nonce", spec(signSpec{Target: "/rest/a", Extra: []oauth1.Param{{Key: "oauth_nonce", Value: "again"}}}), 400, oauth1.ParameterRejected, "oauth_parameters_rejected"},
		{"split header and query", func(t *testing.T) *http.Request {
			r := signSpec{Target: "/rest/a"}.build(t)
			r.URL.RawQuery = "oauth_nonce=extra"
			return r
		}, 400, oauth1.ParameterRejected, "oauth_parameters_rejected"},
		{"oauth_version 2.0", spec(signSpec{Target: "/rest/a", Omit: "oauth_version", Extra: []oauth1.Param{{Key: "oauth_version", Value: "2.0"}}}), 400, oauth1.VersionRejected, "oauth_acceptable_versions"},
		{"HMAC-SHA1 on an RSA consumer", spec(signSpec{Target: "/rest/a", Secret: "guess"}), 400, oauth1.SignatureMethodRejected, "oauth_acceptable_signature_methods"},
		{"PLAINTEXT", spec(signSpec{Target: "/rest/a", SigMethod: "PLAINTEXT"}), 400, oauth1.SignatureMethodRejected, "oauth_acceptable_signature_methods"},
		{"RSA-SHA256", spec(signSpec{Target: "/rest/a", SigMethod: "RSA-SHA256"}), 400, oauth1.SignatureMethodRejected, "oauth_acceptable_signature_methods"},
		{"timestamp 10 minutes old", spec(signSpec{Target: "/rest/a", Timestamp: strconv.FormatInt(now-600, 10)}), 400, oauth1.TimestampRefused, "oauth_acceptable_timestamps"},
		{"timestamp 10 minutes ahead", spec(signSpec{Target: "/rest/a", Timestamp: strconv.FormatInt(now+600, 10)}), 400, oauth1.TimestampRefused, "oauth_acceptable_timestamps"},
		{"non-numeric timestamp", spec(signSpec{Target: "/rest/a", Timestamp: "yesterday"}), 400, oauth1.ParameterRejected, "oauth_parameters_rejected"},
		{"40-digit timestamp", spec(signSpec{Target: "/rest/a", Timestamp: strings.Repeat("9", 40)}), 400, oauth1.ParameterRejected, "oauth_parameters_rejected"},
		{"empty nonce", spec(signSpec{Target: "/rest/a", Loc: oauth1.InQuery, Nonce: strptr("")}), 400, oauth1.ParameterRejected, "oauth_parameters_rejected"},
		{"10 KB nonce", spec(signSpec{Target: "/rest/a", Nonce: &bigNonce}), 400, oauth1.ParameterRejected, "oauth_parameters_rejected"},
		{"unterminated quote", header(`OAuth oauth_consumer_key="bamboo:93f2, oauth_nonce="1"`), 400, oauth1.ParameterRejected, ""},
		{"bad percent-encoding", header(`OAuth oauth_consumer_key="bamboo%3", oauth_nonce="1"`), 400, oauth1.ParameterRejected, ""},
		{"no commas", header(`OAuth oauth_consumer_key="bamboo:93f2" oauth_nonce="1"`), 400, oauth1.ParameterRejected, ""},
		{"bare OAuth scheme", header(`OAuth`), 400, oauth1.ParameterAbsent, "oauth_parameters_absent"},
		{"invalid base64 signature", func(t *testing.T) *http.Request {
			r := signSpec{Target: "/rest/a"}.build(t)
			a := r.Header.Get("Authorization")
			i := strings.Index(a, `oauth_signature="`)
			r.Header.Set("Authorization", a[:i]+`oauth_signature="%21%21not-base64%21%21"`)
			return r
		}, 401, oauth1.SignatureInvalid, ""},
		{"form body over the limit", func(t *testing.T) *http.Request {
			r, _ := http.NewRequest("POST", proxyBase+"/rest/a", strings.NewReader("a="+strings.Repeat("x", 2048)))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, 413, oauth1.ParameterRejected, ""},
		{"impersonation not allowed", spec(signSpec{Consumer: noImpKey, Target: "/rest/a?xoauth_requestor_id=admin"}), 401, oauth1.PermissionDenied, ""},
		{"2LO not allowed", spec(signSpec{Consumer: impOnlyKey, Target: "/rest/a"}), 401, oauth1.PermissionDenied, ""},
		{"requestor in header only", spec(signSpec{Target: "/rest/a", Extra: []oauth1.Param{{Key: "xoauth_requestor_id", Value: "admin"}}}), 400, oauth1.ParameterRejected, "oauth_parameters_rejected"},
		{"empty requestor", spec(signSpec{Target: "/rest/a?xoauth_requestor_id="}), 400, oauth1.ParameterRejected, "oauth_parameters_rejected"},
		{"requestor with CRLF", spec(signSpec{Target: "/rest/a?xoauth_requestor_id=alice%0D%0AX-Forwarded-User:%20admin"}), 400, oauth1.ParameterRejected, "oauth_parameters_rejected"},
		{"3LO token without a token store", spec(signSpec{Target: "/rest/a", Token: strptr("abc")}), 401, oauth1.TokenRejected, ""},
		{"Trusted-App header", withHeader("X-Seraph-Trusted-App-ID", "jira"), 401, oauth1.PermissionDenied, ""},
		{"Trusted-App header lower case", withHeader("x-seraph-trusted-app-cert", "abc"), 401, oauth1.PermissionDenied, ""},
		{"Basic auth", withHeader("Authorization", "Basic YWRtaW46YWRtaW4="), 401, oauth1.PermissionDenied, ""},
		{"basic auth lower case", withHeader("Authorization", "basic YWRtaW46YWRtaW4="), 401, oauth1.PermissionDenied, ""},
		{"BASIC auth upper case", withHeader("Authorization", "BASIC YWRtaW46YWRtaW4="), 401, oauth1.PermissionDenied, ""},
		{"Basic auth with a valid OAuth query", func(t *testing.T) *http.Request {
			r := signSpec{Target: "/rest/a", Loc: oauth1.InQuery}.build(t)
			r.Header.Set("Authorization", "Basic YWRtaW46YWRtaW4=")
			return r
		}, 401, oauth1.PermissionDenied, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req(t)
			before := rec.Count.Load()
			resp, body := do(t, tester, req)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d (%s)", resp.StatusCode, tc.status, resp.Header.Get("WWW-Authenticate"))
			}
			wa := resp.Header.Get("WWW-Authenticate")
			if !strings.HasPrefix(wa, `OAuth realm="http%3A%2F%2Flocalhost%3A`+strconv.Itoa(handlerHTTPPort)+`"`) {
				t.Errorf("WWW-Authenticate %q lacks the realm", wa)
			}
			if got := problemOf(resp); got != tc.problem {
				t.Errorf("oauth_problem %q, want %q (%s)", got, tc.problem, wa)
			}
			if !strings.HasPrefix(body, "oauth_problem="+tc.problem) {
				t.Errorf("body %q does not carry the problem", body)
			}
			if tc.param != "" && (!strings.Contains(wa, tc.param+`="`) || !strings.Contains(body, tc.param+"=")) {
				t.Errorf("challenge %q / body %q lack %s", wa, body, tc.param)
			}
			if resp.Header.Get("X-Upstream") != "" || rec.Count.Load() != before {
				t.Error("a refused request reached the upstream")
			}
		})
	}
}

func spec(s signSpec) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request { return s.build(t) }
}

func header(auth string) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request {
		r, _ := http.NewRequest("GET", proxyBase+"/rest/a", nil)
		r.Header.Set("Authorization", auth)
		return r
	}
}

func withHeader(name, value string) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request {
		r, _ := http.NewRequest("GET", proxyBase+"/rest/a", nil)
		r.Header[name] = []string{value}
		return r
	}
}

// rawGet sends a GET of target with the header lines given to the proxy
// as bytes, as they are: no client library canonicalises the header
// names. It returns the status.
func rawGet(t *testing.T, target string, headers ...string) int {
	t.Helper()
	status, _ := testkit.SendRaw(t, fmt.Sprintf("127.0.0.1:%d", handlerHTTPPort), testkit.RawRequest(strings.TrimPrefix(proxyBase, "http://"), http.MethodGet, target, headers, "", false))
	return status
}

func TestSpoofedIdentityNeverReachesUpstream(t *testing.T) {
	rec := newRecorder(t)
	startProxy(t, rec, "", "")
	for _, name := range []string{"X-Forwarded-User", "x-forwarded-user", "X_Forwarded_User", "x_forwarded_user", "X-FORWARDED-USER", "X_Forwarded-User"} {
		t.Run(name, func(t *testing.T) {
			status := rawGet(t, "/rest/api/2/myself", name+": admin")
			if status != 200 {
				t.Fatalf("anonymous request: status %d", status)
			}
			if ids := identityHeaders(rec.Last(t)); len(ids) != 0 {
				t.Errorf("identity reached the upstream from an anonymous client: %v", ids)
			}
		})
	}
	// Anonymous requests also lose Seraph's login and the impersonation
	// selectors; everything else of the query stays.
	status := rawGet(t, "/rest/a?os_username=admin&os_password=x&OS_AUTHTYPE=basic&os_cookie=true&keep=1&xoauth_requestor_id=admin&user_id=admin")
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	if got := rec.Last(t).URI; got != "/rest/a?keep=1" {
		t.Errorf("upstream URI %q, want /rest/a?keep=1", got)
	}
}

// Caddy itself drops every header with an underscore before any handler runs
// (GHSA-f59h-q822-g45g), so underscored Trusted-App headers cannot be
// refused, only never forwarded; the handler's own normalisation
// (TestLegacyCredentialNames) covers servers that allow them back in.
func TestUnderscoredTrustedAppHeadersNeverReachUpstream(t *testing.T) {
	rec := newRecorder(t)
	startProxy(t, rec, "", "")
	status := rawGet(t, "/rest/a", "X_Seraph_Trusted_App_Cert: c", "x_seraph_trusted_app_id: jira")
	if status != 200 && status != 401 {
		t.Fatalf("status %d", status)
	}
	for _, r := range rec.Since(0) {
		for k := range r.Header {
			if strings.HasPrefix(hygiene.NormalizeHeaderName(k), hygiene.TrustedAppPrefix) {
				t.Errorf("%s reached the upstream", k)
			}
		}
	}
}

func TestLegacyAuthStrip(t *testing.T) {
	rec := newRecorder(t)
	tester := startProxy(t, rec, "legacy_auth strip", "")
	r, _ := http.NewRequest("GET", proxyBase+"/rest/a", nil)
	r.Header["X_Seraph_Trusted_App_Cert"] = []string{"c"}
	r.Header.Set("X-Seraph-Trusted-App-ID", "jira")
	r.Header.Set("Authorization", "Basic YWRtaW46YWRtaW4=")
	r.Header.Set("Proxy-Authorization", "Basic YWRtaW46YWRtaW4=")
	resp, _ := do(t, tester, r)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for k := range rec.Last(t).Header {
		n := hygiene.NormalizeHeaderName(k)
		if strings.HasPrefix(n, "x-seraph") || n == "authorization" || n == "proxy-authorization" {
			t.Errorf("%s reached the upstream", k)
		}
	}
	// A Bearer token (a personal access token) is the product's business.
	r, _ = http.NewRequest("GET", proxyBase+"/rest/a", nil)
	r.Header.Set("Authorization", "Bearer pat-123")
	if resp, _ := do(t, tester, r); resp.StatusCode != 200 || rec.Last(t).Header.Get("Authorization") != "Bearer pat-123" {
		t.Errorf("Bearer: status %d, upstream Authorization %q", resp.StatusCode, rec.Last(t).Header.Get("Authorization"))
	}
}

func TestAnonymousReject(t *testing.T) {
	rec := newRecorder(t)
	tester := startProxy(t, rec, "anonymous reject", "")
	r, _ := http.NewRequest("GET", proxyBase+"/rest/a", nil)
	resp, body := do(t, tester, r)
	if resp.StatusCode != 401 || problemOf(resp) != oauth1.ParameterAbsent || rec.Count.Load() != 0 {
		t.Fatalf("anonymous: %d %q %q, forwarded %d", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body, rec.Count.Load())
	}
	// Signed requests still pass.
	resp, _ = do(t, tester, signSpec{Target: "/rest/a"}.build(t))
	if resp.StatusCode != 200 || rec.Count.Load() != 1 {
		t.Fatalf("signed: %d", resp.StatusCode)
	}
}

func TestIconURIServletIsBlocked(t *testing.T) {
	rec := newRecorder(t)
	startProxy(t, rec, "", "")
	for _, target := range []string{
		"/plugins/servlet/oauth/users/icon-uri?consumerUri=http://169.254.169.254/",
		"/jira/plugins/servlet/oauth/users/icon-uri?consumerUri=x",
		"/plugins/servlet/oauth/users/icon-uri/",
		"/plugins//servlet/oauth/users/icon-uri",
		"/plugins/servlet/oauth/users;jsessionid=1/icon-uri",
		"/plugins/servlet/oauth/users/icon-uri;x=y",
		"/plugins/servlet/oauth/users/%69con-uri",
		"/plugins/servlet/oauth/users/%2569con-uri",
		"/plugins/servlet/x/../oauth/users/icon-uri",
		"/plugins/servlet/x/%2e%2e/oauth/users/icon-uri",
		"/PLUGINS/servlet/oauth/users/ICON-URI",
	} {
		status := rawGet(t, target)
		if status != http.StatusForbidden && status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 403", target, status)
		}
	}
	if n := rec.Count.Load(); n != 0 {
		t.Errorf("%d blocked requests reached the upstream", n)
	}
	// Neighbouring paths are not blocked.
	if status := rawGet(t, "/plugins/servlet/oauth/users/icon-uri-list"); status != 200 {
		t.Errorf("icon-uri-list: status %d", status)
	}
}

package cli

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/consumer"
	"github.com/caddy-applink/caddy-applink/internal/oauth1"
)

// fakeRemote answers the anonymous manifest and consumer-info like Jira,
// and every signed request with signed(w, r).
func fakeRemote(t *testing.T, signed func(w http.ResponseWriter, r *http.Request, base string)) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if oauth1.IsOAuthScheme(r.Header.Get("Authorization")) {
			signed(w, r, srv.URL)
			return
		}
		switch r.URL.Path {
		case "/rest/applinks/1.0/manifest":
			w.Header().Set("Content-Type", "application/xml")
			fmt.Fprintf(w, `<manifest><id>x</id><name>Fake</name><typeId>jira</typeId><version>9.12.2</version><applinksVersion>9.1.4</applinksVersion><inboundAuthenticationTypes>com.atlassian.applinks.api.auth.types.OAuthAuthenticationProvider</inboundAuthenticationTypes><url>%s</url></manifest>`, srv.URL)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// problem answers with a WWW-Authenticate challenge, as net.oauth does.
func problem(status int, params ...string) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, r *http.Request, base string) {
		h := `OAuth realm="` + oauth1.PercentEncode(base) + `"`
		for i := 0; i+1 < len(params); i += 2 {
			h += fmt.Sprintf(`, %s="%s"`, params[i], oauth1.PercentEncode(params[i+1]))
		}
		w.Header().Add("WWW-Authenticate", `OAuth realm="`+oauth1.PercentEncode(base)+`"`)
		w.Header().Add("WWW-Authenticate", h)
		w.WriteHeader(status)
	}
}

// remoteBaseString is the base string a remote whose Tomcat believes it is
// at origin computes for r (header and query parameters).
func remoteBaseString(r *http.Request, origin string, dropQuery string) string {
	_, params, _ := oauth1.ParseAuthorizationHeader(r.Header.Get("Authorization"))
	q, _ := oauth1.ParseForm(r.URL.RawQuery)
	var all []oauth1.Param
	for _, p := range append(params, q...) {
		if p.Key != "oauth_signature" && p.Key != dropQuery {
			all = append(all, p)
		}
	}
	return oauth1.BaseString(r.Method, origin+r.URL.EscapedPath(), all)
}

// TestCheckDiagnosesEveryProblem: for every oauth_problem of the protocol
// doc's table (and the failures without one), check names the cause in
// words and exits 1.
func TestCheckDiagnosesEveryProblem(t *testing.T) {
	const skew = 10 * time.Minute
	cases := []struct {
		name   string
		signed func(http.ResponseWriter, *http.Request, string)
		args   []string
		want   []string
	}{
		{name: "consumer_key_unknown", signed: problem(401, "oauth_problem", "consumer_key_unknown"),
			want: []string{"oauth_problem=consumer_key_unknown", "not registered at the remote", "reset OAuth on the link", `no incoming consumer "caddy-applink:cli"`}},
		{name: "signature_invalid, URL differs", signed: func(w http.ResponseWriter, r *http.Request, base string) {
			problem(401, "oauth_problem", "signature_invalid", "oauth_signature_base_string", remoteBaseString(r, "http://jira.internal:8080", ""), "oauth_signature_method", "RSA-SHA1")(w, r, base)
		}, want: []string{"base URL or proxy mismatch", "Our base string:    GET&http%3A%2F%2F127.0.0.1", "Remote base string: GET&http%3A%2F%2Fjira.internal%3A8080",
			"They differ in the URL: we signed http://127.0.0.1:", "the remote reconstructed http://jira.internal:8080/rest/applinks/1.0/manifest", "--remote-base-url"}},
		{name: "signature_invalid, parameter stripped", args: []string{"--path", "/rest/x?a=1&b=2"}, signed: func(w http.ResponseWriter, r *http.Request, base string) {
			problem(401, "oauth_problem", "signature_invalid", "oauth_signature_base_string", remoteBaseString(r, base, "b"))(w, r, base)
		}, want: []string{"Parameters only we signed (stripped or altered on the way?): b=2", "CDN or firewall strips"}},
		{name: "signature_invalid, same base string: another key", signed: func(w http.ResponseWriter, r *http.Request, base string) {
			problem(401, "oauth_problem", "signature_invalid", "oauth_signature_base_string", remoteBaseString(r, base, ""))(w, r, base)
		}, want: []string{"Both base strings are identical", "another public key"}},
		{name: "signature_invalid, in the body only", signed: func(w http.ResponseWriter, r *http.Request, base string) {
			w.Header().Set("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8")
			w.WriteHeader(401)
			fmt.Fprintf(w, "oauth_problem=signature_invalid&oauth_signature_base_string=%s", oauth1.PercentEncode(remoteBaseString(r, "https://jira.example.com", "")))
		}, want: []string{"oauth_problem=signature_invalid", "They differ in the URL", "the remote reconstructed https://jira.example.com/rest/applinks/1.0/manifest"}},
		{name: "signature_invalid, no base string", signed: problem(401, "oauth_problem", "signature_invalid"),
			want: []string{"did not return its base string", "proxyName/proxyPort/scheme", "NGINX proxy_cache", "useBodyEncodingForURI"}},
		{name: "timestamp_refused", signed: func(w http.ResponseWriter, r *http.Request, base string) {
			now := time.Now().Add(skew)
			w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
			acc := strconv.FormatInt(now.Unix()-300, 10) + "-" + strconv.FormatInt(now.Unix()+300, 10)
			problem(400, "oauth_problem", "timestamp_refused", "oauth_acceptable_timestamps", acc)(w, r, base)
		}, want: []string{"clock skew", "its clock is about ~10m0s ahead of ours", "Date header: the remote's clock is ~10m0s ahead of ours", "NTP"}},
		{name: "signature_method_rejected", signed: problem(400, "oauth_problem", "signature_method_rejected", "oauth_acceptable_signature_methods", "HMAC-SHA1"),
			want: []string{"does not accept RSA-SHA1", "Acceptable signature methods there: HMAC-SHA1", "must be an RSA consumer"}},
		{name: "permission_denied", signed: problem(401, "oauth_problem", "permission_denied", "oauth_problem_advice", "2-legged OAuth is not enabled for this consumer"),
			want: []string{"2-legged OAuth (or impersonation) is not enabled", "The remote's advice: 2-legged OAuth is not enabled for this consumer", "Allow 2-Legged OAuth"}},
		{name: "parameter_absent", signed: problem(400, "oauth_problem", "parameter_absent", "oauth_parameters_absent", "oauth_token"),
			want: []string{"did not get all OAuth parameters", "Missing there: oauth_token", "drops that header"}},
		{name: "parameter_rejected", signed: problem(400, "oauth_problem", "parameter_rejected", "oauth_parameters_rejected", "oauth_nonce"),
			want: []string{"malformed or duplicated", "Rejected there: oauth_nonce"}},
		{name: "version_rejected", signed: problem(400, "oauth_problem", "version_rejected", "oauth_acceptable_versions", "2.0-2.0"),
			want: []string{"oauth_version", "Acceptable versions there: 2.0-2.0"}},
		{name: "nonce_used", signed: problem(401, "oauth_problem", "nonce_used"), want: []string{"seen this request's nonce", "retries or replays"}},
		{name: "token_rejected", signed: problem(401, "oauth_problem", "token_rejected"), want: []string{"does not accept the oauth_token", "should not look up a token"}},
		{name: "token_used", signed: problem(401, "oauth_problem", "token_used"), want: []string{"already authorized or denied"}},
		{name: "token_expired", signed: problem(401, "oauth_problem", "token_expired"), want: []string{"access token expired"}},
		{name: "token_revoked", signed: problem(401, "oauth_problem", "token_revoked"), want: []string{"was revoked"}},
		{name: "token_not_authorized", signed: problem(401, "oauth_problem", "token_not_authorized"), want: []string{"never authorized"}},
		{name: "permission_unknown", signed: problem(401, "oauth_problem", "permission_unknown"), want: []string{"not yet approved"}},
		{name: "consumer_key_rejected", signed: problem(401, "oauth_problem", "consumer_key_rejected"), want: []string{"knows this consumer key but refuses it", "remote's log"}},
		{name: "consumer_key_refused", signed: problem(503, "oauth_problem", "consumer_key_refused"), want: []string{"503 Service Unavailable", "retry later"}},
		{name: "user_refused", signed: problem(503, "oauth_problem", "user_refused"), want: []string{"refuses the user for now"}},
		{name: "additional_authorization_required", signed: problem(401, "oauth_problem", "additional_authorization_required"), want: []string{"wants more authorization"}},
		{name: "unknown problem", signed: problem(403, "oauth_problem", "bogus_problem"), want: []string{"oauth_problem=bogus_problem", "not one net.oauth defines"}},
		{name: "bare OAuth 401", signed: problem(401, "oauth_consumer_key", testConsumer),
			want: []string{"401 with an OAuth challenge but no oauth_problem", "Allow 2-Legged OAuth", "may not log in"}},
		{name: "401 from an SSO layer", signed: func(w http.ResponseWriter, r *http.Request, _ string) {
			w.Header().Set("WWW-Authenticate", `Basic realm="sso"`)
			w.WriteHeader(401)
		}, want: []string{"401 without an OAuth challenge", "before the request reached the remote's OAuth filter"}},
		{name: "signed request redirected", signed: func(w http.ResponseWriter, r *http.Request, _ string) {
			http.Redirect(w, r, "https://jira.example.com/login.jsp", http.StatusFound)
		}, want: []string{"302 redirect to https://jira.example.com/login.jsp", "not the remote's base URL"}},
		{name: "403", signed: func(w http.ResponseWriter, r *http.Request, _ string) { http.Error(w, "nope", 403) },
			want: []string{"403 Forbidden: nope", "may not see this resource"}},
		{name: "404", signed: func(w http.ResponseWriter, r *http.Request, _ string) { http.NotFound(w, r) }, want: []string{"404 Not Found"}},
		{name: "500", signed: func(w http.ResponseWriter, r *http.Request, _ string) { http.Error(w, "boom", 500) }, want: []string{"500 Internal Server Error", "boom"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := fakeRemote(t, c.signed)
			args := append([]string{"--consumer-key", testConsumer, "--key", ourKeyFile()}, c.args...)
			code, out, errOut := run(t, checkCommand(), "", append(args, srv.URL)...)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			for _, w := range append(c.want, "Result: the link does NOT work.") {
				if strings.Contains(w, "~") {
					// The Date header has a 1 s resolution.
					re := regexp.MustCompile(regexp.QuoteMeta(strings.Replace(w, "~10m0s", "@", 1)))
					re = regexp.MustCompile(strings.Replace(re.String(), "@", "(9m59s|10m0s|10m1s)", 1))
					if !re.MatchString(out) {
						t.Errorf("output lacks %q:\n%s", w, out)
					}
					continue
				}
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s%s", w, out, errOut)
				}
			}
		})
	}
}

// TestCheckEveryTableProblemHasText: every problem code of the protocol
// doc's section 3.2 table has its own words.
func TestCheckEveryTableProblemHasText(t *testing.T) {
	for _, p := range []string{"version_rejected", "parameter_absent", "parameter_rejected", "timestamp_refused",
		"signature_method_rejected", "nonce_used", "token_used", "token_expired", "token_revoked", "token_rejected",
		"token_not_authorized", "signature_invalid", "consumer_key_unknown", "consumer_key_rejected",
		"additional_authorization_required", "permission_unknown", "permission_denied", "user_refused", "consumer_key_refused"} {
		if problemText[p] == "" {
			t.Errorf("no diagnosis for %s", p)
		}
	}
}

// TestCheckWorkingLink: against a provider that verifies our signature,
// check exits 0 and reports what it found.
func TestCheckWorkingLink(t *testing.T) {
	vs := newVerifierServer(t)
	code, out, errOut := run(t, checkCommand(), "", "--consumer-key", testConsumer, "--key", ourKeyFile(), vs.srv.URL)
	for _, w := range []string{
		"[ok] Fake Jira (jira 9.12.2, applinks 9.1.4)",
		"[ok] the remote's own consumer: key jira:fake",
		"Signed request: GET " + vs.srv.URL + "/rest/applinks/1.0/manifest (2LO, signed against " + vs.srv.URL + ")",
		"[ok] 200 OK", "proves the signature, not the user",
		"[ok] clock: the remote's is within 1s of ours",
		"Result: the link works",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q", w)
		}
	}
	if code != 0 {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}

	code, out, _ = run(t, checkCommand(), "", "--consumer-key", testConsumer, "--key", ourKeyFile(), "--as", "alice", "--path", "/rest/api/2/myself", vs.srv.URL+"/")
	if code != 0 || !strings.Contains(out, "2LO with impersonation of alice") {
		t.Errorf("--as: exit %d\n%s", code, out)
	}
}

// TestCheckManifestFindings: redirects, a base-URL mismatch and an
// unreachable remote are reported.
func TestCheckManifestFindings(t *testing.T) {
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://jira.example.com"+r.URL.Path, http.StatusMovedPermanently)
	}))
	defer redirect.Close()
	code, out, _ := run(t, checkCommand(), "", "--consumer-key", testConsumer, "--key", ourKeyFile(), redirect.URL)
	for _, w := range []string{"301 redirect to https://jira.example.com/rest/applinks/1.0/manifest", "base URL being https://jira.example.com.", "NOT work"} {
		if !strings.Contains(out, w) {
			t.Errorf("redirect: output lacks %q:\n%s", w, out)
		}
	}
	if code != 1 {
		t.Errorf("redirect: exit %d", code)
	}

	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<manifest><name>J</name><url>https://jira.example.com/jira</url></manifest>`)
	}))
	defer srv.Close()
	_, out, _ = run(t, checkCommand(), "", "--consumer-key", testConsumer, "--key", ourKeyFile(), srv.URL)
	if !strings.Contains(out, "the remote says its base URL is https://jira.example.com/jira, not "+srv.URL) {
		t.Errorf("mismatch not reported:\n%s", out)
	}

	code, out, _ = run(t, checkCommand(), "", "--consumer-key", testConsumer, "--key", ourKeyFile(), "http://127.0.0.1:1")
	if code != 1 || !strings.Contains(out, "The remote is unreachable from here") || !strings.Contains(out, "cannot reach the remote") {
		t.Errorf("unreachable: exit %d\n%s", code, out)
	}

	for _, args := range [][]string{
		{"--key", ourKeyFile(), srv.URL},
		{"--consumer-key", "k", srv.URL},
		{"--consumer-key", "k", "--key", ourKeyFile()},
		{"--consumer-key", "k", "--key", ourKeyFile(), "jira.example.com"},
	} {
		if code, _, _ := run(t, checkCommand(), "", args...); code != 1 {
			t.Errorf("check %q: exit %d, want 1", args, code)
		}
	}
}

// TestCheckFalsePositives: each way check once said "the link works" when
// it did not.
func TestCheckFalsePositives(t *testing.T) {
	args := func(url string, extra ...string) []string {
		return append(append([]string{"--consumer-key", testConsumer, "--key", ourKeyFile()}, extra...), url)
	}
	t.Run("an error line before a working signed request", func(t *testing.T) {
		vs := newVerifierServer(t)
		// A proxy in front answers the manifest with 404: the link wizard
		// cannot create the link, whatever the signed request does.
		front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/rest/applinks/1.0/manifest" && r.Header.Get("Authorization") == "" {
				http.NotFound(w, r)
				return
			}
			vs.srv.Config.Handler.ServeHTTP(w, r)
		}))
		t.Cleanup(front.Close)
		code, out, _ := run(t, checkCommand(), "", args(front.URL, "--remote-base-url", vs.srv.URL)...)
		if code == 0 || !strings.Contains(out, "[error] 404") || !strings.Contains(out, "Result: the link does NOT work.") {
			t.Errorf("exit %d; want 1 and a failed result after the error:\n%s", code, out)
		}
	})
	t.Run("an empty 200 for everything", func(t *testing.T) {
		// What Caddy answers when the Host matches no site.
		empty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		t.Cleanup(empty.Close)
		code, out, _ := run(t, checkCommand(), "", args(empty.URL)...)
		if code == 0 || !strings.Contains(out, "the mis-signed copy was accepted too") || !strings.Contains(out, "Nothing verifies signatures at this URL") {
			t.Errorf("exit %d; want 1, nothing verifies:\n%s", code, out)
		}
	})
	t.Run("--path names the user", func(t *testing.T) {
		vs := newVerifierServer(t)
		code, out, _ := run(t, checkCommand(), "", args(vs.srv.URL, "--as", "alice", "--path", "/rest/api/2/myself")...)
		if code != 0 || !strings.Contains(out, "[ok] the remote ran the request as alice") {
			t.Errorf("exit %d; want the user named:\n%s", code, out)
		}
		code, out, _ = run(t, checkCommand(), "", args(vs.srv.URL, "--path", "/rest/api/2/myself")...)
		if code != 0 || !strings.Contains(out, "[ok] the remote ran the request as svc-cli") {
			t.Errorf("2LO: exit %d; want the execute-as user named:\n%s", code, out)
		}
	})
	t.Run("a refusal by the caddy-applink proxy itself", func(t *testing.T) {
		srv := fakeRemote(t, func(w http.ResponseWriter, r *http.Request, base string) {
			w.Header().Set(consumer.VerifierHeader, "caddy-applink")
			problem(401, "oauth_problem", "permission_denied")(w, r, base)
		})
		code, out, _ := run(t, checkCommand(), "", args(srv.URL, "--as", "alice")...)
		for _, want := range []string{"oauth_problem=permission_denied, from the caddy-applink proxy", "`consumer " + testConsumer + "` block does not allow this", "the product behind it was not asked"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if code == 0 || strings.Contains(out, "Application links > the link to us") {
			t.Errorf("exit %d, or it sent the admin to the product's links:\n%s", code, out)
		}
	})
	t.Run("a manifest that is not one", func(t *testing.T) {
		vs := newVerifierServer(t)
		front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") == "" {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{"name":"","uri":"/x"}`) // a stand-in's echo
				return
			}
			vs.srv.Config.Handler.ServeHTTP(w, r)
		}))
		t.Cleanup(front.Close)
		code, out, _ := run(t, checkCommand(), "", args(front.URL, "--remote-base-url", vs.srv.URL)...)
		if code == 0 || !strings.Contains(out, "[error] 200 application/json, but not an applinks manifest") || strings.Contains(out, "[ok]  (") {
			t.Errorf("exit %d:\n%s", code, out)
		}
		if !strings.Contains(out, "[warning] 200, but not a consumer-info document") {
			t.Errorf("a consumer-info that is not one should be a warning:\n%s", out)
		}
	})
	t.Run("a refusal by the remote behind a gateway", func(t *testing.T) {
		srv := fakeRemote(t, func(w http.ResponseWriter, r *http.Request, base string) {
			w.Header().Add(consumer.RemoteRefusedHeader, "jira.internal:8080")
			problem(401, "oauth_problem", "signature_invalid")(w, r, base)
		})
		code, out, _ := run(t, checkCommand(), "", args(srv.URL)...)
		for _, want := range []string{"oauth_problem=signature_invalid, from jira.internal:8080, behind the proxy", "The fault is in the proxy's link to jira.internal:8080", "not in ours"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if code == 0 || strings.Contains(out, "publish ours again") {
			t.Errorf("exit %d, or it blamed our key:\n%s", code, out)
		}
	})
}

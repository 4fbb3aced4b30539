package signer

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/rsakey"
	"github.com/caddy-applink/caddy-applink/internal/testkit"
	"github.com/caddy-applink/caddy-applink/internal/testoracle"
)

// The interop tests check Signer against an independent implementation:
// python-oauthlib (Debian's python3-oauthlib), driven by
// internal/testoracle (oauthlib_oracle.py), which plays an Atlassian provider behind
// Tomcat. Debian's interpreter is used explicitly: the python3 on PATH may be
// another one without the package.
//
// requireOauthlib is the oracle's own check.
func requireOauthlib(t *testing.T) { testoracle.Require(t) }

type oracle struct {
	url    string // where to send requests: http://127.0.0.1:port
	stderr *bytes.Buffer
}

// startOracle runs the python verifier as a provider whose Tomcat believes it
// is at origin, behind a load balancer that adds prefix to every path.
func startOracle(t *testing.T, origin, prefix string) *oracle {
	t.Helper()
	requireOauthlib(t)
	pem, err := rsakey.EncodePublicPEM(&testKey().PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "consumer.pub.pem")
	if err := os.WriteFile(keyFile, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	to := testoracle.Start(t, testoracle.Options{PublicKeyFile: keyFile, ConsumerKey: testConsumerKey,
		Token: testToken, Origin: origin, Prefix: prefix})
	o := &oracle{url: to.URL(), stderr: to.Stderr}
	return o
}

var oracleClient = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
}

func (o *oracle) send(t *testing.T, req *http.Request) testoracle.Verdict {
	t.Helper()
	resp, err := oracleClient.Do(req)
	if err != nil {
		t.Fatalf("sending to oracle: %v (%s)", err, o.stderr)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	v, err := testoracle.ParseVerdict(resp, string(b))
	if err != nil {
		t.Fatalf("%v (%s)", err, o.stderr)
	}
	return v
}

// TestOauthlibInterop: requests signed by Signer, sent through a real
// http.Client, verify in python-oauthlib with the identity the mode says; the
// base string oauthlib reconstructs is byte for byte ours; tampered requests
// fail.
func TestOauthlibInterop(t *testing.T) {
	requireOauthlib(t)
	const ctxBase = "HTTPS://Jira.Example.COM:443/jira/" // normalised to https://jira.example.com/jira
	oracles := map[string]*oracle{
		"ctx":  startOracle(t, "https://jira.example.com", ""),
		"lb":   startOracle(t, "https://jira.example.com", "/jira"),
		"port": startOracle(t, "http://jira.internal:8080", ""),
	}
	bases := map[string]string{"ctx": ctxBase, "lb": ctxBase, "port": "http://jira.internal:8080"}
	token := &Token{Token: testToken, Secret: testTokenSecret}
	const jsonType = "application/json"

	type tc struct {
		name, oracle, method, target, ctype, body string
		mode                                      Mode
		user                                      string
		token                                     *Token
		header                                    http.Header // client-supplied headers
		wantQuery, wantBody                       *string     // as the remote receives them; nil: unchanged
		wantUser                                  string
	}
	str := func(s string) *string { return &s }
	cases := []tc{
		{name: "2lo", oracle: "ctx", method: "GET", target: "/jira/rest/api/2/myself", mode: Mode2LO},
		{name: "2lo empty path, no context", oracle: "port", method: "GET", target: "", mode: Mode2LO},
		{name: "2lo non-default port", oracle: "port", method: "GET", target: "/rest/api/2/serverInfo?doHealthCheck=true", mode: Mode2LO},
		{name: "2lo context path added by LB", oracle: "lb", method: "GET", target: "/rest/api/2/myself?expand=groups", mode: Mode2LO},
		{name: "repeated keys", oracle: "ctx", method: "GET",
			target: "/jira/rest/api/2/search?expand=schema&expand=names&expand=schema&fields=summary,status&fields=", mode: Mode2LO},
		{name: "spaces and plus", oracle: "ctx", method: "GET",
			target: "/jira/rest/api/2/search?jql=project%20%3D%20TEST+AND+text+~+%22a%2Bb%22&q=a+b&lit=1%2B1&sp=%20lead", mode: Mode2LO},
		{name: "unicode", oracle: "ctx", method: "GET",
			target: "/jira/rest/api/2/user/J%C3%BCrgen?name=J%C3%BCrgen&emoji=%F0%9F%98%80&cjk=%E6%97%A5%E6%9C%AC&k%C3%A9y=1", mode: Mode2LO},
		{name: "reserved characters", oracle: "ctx", method: "GET",
			target: "/jira/rest/api/2/x?a=!*'()&b=:@,/?$&c=semi;colon&d=~tilde&flag&empty=&e=%26%3D%3F%23%25&f=a=b", mode: Mode2LO},
		{name: "encoded path", oracle: "ctx", method: "GET",
			target: "/jira/rest/api/2/issue/ABC-1/attachments/a%2Fb%20c;jsessionid=x", mode: Mode2LO},
		{name: "impersonation", oracle: "ctx", method: "GET", target: "/jira/rest/api/2/myself?expand=groups",
			mode: ModeImpersonation, user: "alice", wantQuery: str("expand=groups&xoauth_requestor_id=alice"), wantUser: "alice"},
		{name: "impersonation unicode user", oracle: "ctx", method: "GET", target: "/jira/rest/api/2/myself",
			mode: ModeImpersonation, user: "jürgen o'brien+1@example.com",
			wantQuery: str("xoauth_requestor_id=j%C3%BCrgen%20o%27brien%2B1%40example.com"), wantUser: "jürgen o'brien+1@example.com"},
		{name: "impersonation with repeated keys and LB", oracle: "lb", method: "GET", target: "/rest/api/2/search?expand=a&expand=b&q=x+y",
			mode: ModeImpersonation, user: "bob", wantUser: "bob"},
		{name: "client identity stripped", oracle: "ctx", method: "GET",
			target: "/jira/rest/api/2/myself?oauth_token=evil&xoauth_requestor_id=admin&user_id=admin&oauth%5Fnonce=x&keep=1",
			header: http.Header{"Authorization": {"Basic YWRtaW46YWRtaW4="}, "authorization": {`OAuth oauth_token="evil"`}},
			mode:   Mode2LO, wantQuery: str("keep=1")},
		{name: "client requestor replaced", oracle: "ctx", method: "GET", target: "/jira/rest/api/2/myself?xoauth_requestor_id=admin&a=1",
			mode: ModeImpersonation, user: "alice", wantQuery: str("a=1&xoauth_requestor_id=alice"), wantUser: "alice"},
		{name: "3lo", oracle: "ctx", method: "GET", target: "/jira/rest/api/2/myself", mode: Mode3LO, token: token},
		{name: "3lo repeated keys and form", oracle: "ctx", method: "POST", target: "/jira/rest/x?a=2&a=1",
			ctype: formType, body: "a=0&b=x+y", mode: Mode3LO, token: token},
		{name: "form body", oracle: "ctx", method: "POST", target: "/jira/rest/api/2/issue/X-1/comment?notify=false",
			ctype: formType, body: "b=2&a=1&a=0&text=hello+world&sym=%21%2A%27%28%29&empty=&flag", mode: Mode2LO},
		{name: "form body with charset", oracle: "ctx", method: "POST", target: "/jira/secure/Action.jspa?x=1",
			ctype: formType + "; charset=UTF-8", body: "name=J%C3%BCrgen&x=a+b&x=%2B", mode: Mode2LO},
		{name: "form body with charset, no space", oracle: "ctx", method: "POST", target: "/jira/secure/Action.jspa",
			ctype: formType + ";charset=utf-8", body: "a=1", mode: ModeImpersonation, user: "carol", wantUser: "carol"},
		{name: "form identity stripped", oracle: "ctx", method: "POST", target: "/jira/rest/x",
			ctype: formType, body: "xoauth_requestor_id=admin&oauth_token=t&keep=1&user_id=root", mode: Mode2LO, wantBody: str("keep=1")},
		{name: "form impersonation, requestor in body replaced", oracle: "ctx", method: "POST", target: "/jira/rest/x?q=1",
			ctype: formType, body: "xoauth_requestor_id=admin&k=v", mode: ModeImpersonation, user: "alice",
			wantQuery: str("q=1&xoauth_requestor_id=alice"), wantBody: str("k=v"), wantUser: "alice"},
		{name: "PUT form body (Tomcat does not parse it)", oracle: "ctx", method: "PUT", target: "/jira/rest/x",
			ctype: formType, body: "a=1&oauth_token=x", mode: Mode2LO, wantBody: str("a=1")},
		{name: "POST JSON body", oracle: "ctx", method: "POST", target: "/jira/rest/api/2/issue?x=1",
			ctype: jsonType, body: `{"fields":{"summary":"a=b&oauth_token=c"}}`, mode: ModeImpersonation, user: "alice", wantUser: "alice"},
		{name: "DELETE", oracle: "ctx", method: "DELETE", target: "/jira/rest/api/2/issue/X-1?deleteSubtasks=true", mode: Mode3LO, token: token},
		{name: "HEAD", oracle: "ctx", method: "HEAD", target: "/jira/rest/api/2/myself?a=1", mode: ModeImpersonation, user: "alice", wantUser: "alice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := oracles[c.oracle]
			s := newSigner(t, bases[c.oracle])
			req := testkit.NewRequest(t, c.method, o.url+c.target, c.ctype, c.body)
			for k, vs := range c.header {
				req.Header[k] = vs
			}
			signed, err := s.SignRequest(req, c.mode, c.user, c.token)
			if err != nil {
				t.Fatal(err)
			}
			v := o.send(t, req)
			if !v.OK {
				t.Fatalf("oauthlib refused: %s\n ours:     %s\n oauthlib: %s\n stderr: %s", v.Reason, signed.BaseString, v.BaseString, o.stderr)
			}
			if v.BaseString != "" && v.BaseString != signed.BaseString {
				t.Errorf("base strings differ\n ours:     %s\n oauthlib: %s", signed.BaseString, v.BaseString)
			}
			if want := string(c.mode); v.Mode != want || v.User != c.wantUser {
				t.Errorf("oracle saw mode %q user %q, want %q %q", v.Mode, v.User, want, c.wantUser)
			}
			if c.method == "HEAD" {
				return
			}
			v.CheckReceived(t, c.target, c.body, c.mode == ModeImpersonation, c.user, c.wantQuery, c.wantBody)
			if len(v.Received.Authorization) != 1 || v.Received.Authorization[0] != signed.Authorization {
				t.Errorf("remote received Authorization %q", v.Received.Authorization)
			}
		})
	}
}

// TestOauthlibInteropTampered: whatever is changed after signing, oauthlib
// refuses the request.
func TestOauthlibInteropTampered(t *testing.T) {
	requireOauthlib(t)
	const base = "https://jira.example.com/jira"
	o := startOracle(t, "https://jira.example.com", "")
	good := newSigner(t, base)
	token := &Token{Token: testToken}

	for _, tc := range []struct {
		name, method, target, ctype, body string
		mode                              Mode
		user                              string
		token                             *Token
		signer                            *Signer
		tamper                            func(*http.Request)
		reason                            string // what the oracle must complain about; "invalid signature" if empty
	}{
		{name: "nothing (control)", method: "GET", target: "/jira/rest/x?a=1", mode: Mode2LO, tamper: func(*http.Request) {}},
		{name: "nothing, '+' sent as %20 (control)", method: "GET", target: "/jira/rest/x?q=a+b", mode: Mode2LO,
			tamper: func(r *http.Request) { r.URL.RawQuery = "q=a%20b" }},
		{name: "query value", method: "GET", target: "/jira/rest/x?a=1", mode: Mode2LO,
			tamper: func(r *http.Request) { r.URL.RawQuery = "a=2" }},
		{name: "query param added", method: "GET", target: "/jira/rest/x?a=1", mode: Mode2LO,
			tamper: func(r *http.Request) { r.URL.RawQuery += "&b=1" }},
		{name: "second value of repeated key dropped", method: "GET", target: "/jira/rest/x?expand=a&expand=b", mode: Mode2LO,
			tamper: func(r *http.Request) { r.URL.RawQuery = "expand=a" }},
		{name: "'+' turned into a literal plus", method: "GET", target: "/jira/rest/x?q=a+b", mode: Mode2LO,
			tamper: func(r *http.Request) { r.URL.RawQuery = "q=a%2Bb" }},
		{name: "path", method: "GET", target: "/jira/rest/api/2/issue/X-1", mode: Mode2LO,
			tamper: func(r *http.Request) { r.URL.Path = "/jira/rest/api/2/issue/X-2" }},
		{name: "path encoding", method: "GET", target: "/jira/rest/a%2Fb", mode: Mode2LO,
			tamper: func(r *http.Request) { r.URL.Path, r.URL.RawPath = "/jira/rest/a/b", "" }},
		{name: "method", method: "GET", target: "/jira/rest/x", mode: Mode2LO,
			tamper: func(r *http.Request) { r.Method = "DELETE" }},
		{name: "form body value", method: "POST", target: "/jira/rest/x", ctype: formType + "; charset=UTF-8", body: "a=1&b=2", mode: Mode2LO,
			tamper: func(r *http.Request) { setBody(r, "a=1&b=3") }},
		{name: "impersonated user swapped", method: "GET", target: "/jira/rest/x", mode: ModeImpersonation, user: "alice",
			tamper: func(r *http.Request) { r.URL.RawQuery = "xoauth_requestor_id=admin" }},
		{name: "impersonation dropped (would run as the 2LO user)", method: "GET", target: "/jira/rest/x?a=1", mode: ModeImpersonation, user: "alice",
			tamper: func(r *http.Request) { r.URL.RawQuery = "a=1" }},
		{name: "impersonated user moved to the body, same signed set (control)",
			method: "POST", target: "/jira/rest/x", ctype: formType, body: "a=1", mode: ModeImpersonation, user: "alice",
			tamper: func(r *http.Request) { r.URL.RawQuery = ""; setBody(r, "a=1&xoauth_requestor_id=alice") }},
		{name: "3lo token swapped", method: "GET", target: "/jira/rest/x", mode: Mode3LO, token: &Token{Token: "other-token"},
			tamper: func(r *http.Request) {
				r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "other-token", testToken, 1))
			}},
		{name: "oauth_token removed (anonymous at Atlassian)", method: "GET", target: "/jira/rest/x", mode: Mode2LO,
			tamper: func(r *http.Request) {
				r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), `oauth_token="", `, "", 1))
			}, reason: "oauth_token absent"},
		{name: "signed by another key", method: "GET", target: "/jira/rest/x", mode: Mode3LO, token: token,
			signer: func() *Signer {
				s, err := New(Config{ConsumerKey: testConsumerKey, PrivateKey: otherKey(), RemoteBaseURL: base})
				if err != nil {
					t.Fatal(err)
				}
				return s
			}(), tamper: func(*http.Request) {}},
		{name: "signed for another origin", method: "GET", target: "/jira/rest/x", mode: Mode2LO,
			signer: newSigner(t, "https://jira.example.com:8443/jira"), tamper: func(*http.Request) {}},
		{name: "signed for another context path", method: "GET", target: "/rest/x", mode: Mode2LO,
			signer: newSigner(t, "https://jira.example.com/"), tamper: func(r *http.Request) { r.URL.Path = "/jira/rest/x" }},
		{name: "stale timestamp", method: "GET", target: "/jira/rest/x", mode: Mode2LO,
			signer: newSigner(t, base, func(c *Config) { c.Clock = func() time.Time { return time.Now().Add(-10 * time.Minute) } }),
			tamper: func(*http.Request) {}, reason: "before the signature check"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.signer
			if s == nil {
				s = good
			}
			req := testkit.NewRequest(t, tc.method, o.url+tc.target, tc.ctype, tc.body)
			if err := s.Sign(req, tc.mode, tc.user, tc.token); err != nil {
				t.Fatal(err)
			}
			tc.tamper(req)
			v := o.send(t, req)
			control := strings.Contains(tc.name, "(control)")
			want := tc.reason
			if want == "" {
				want = "invalid signature"
			}
			switch {
			case v.OK != control:
				t.Errorf("oauthlib ok=%v, want %v (%s; %s)", v.OK, control, v.Reason, o.stderr)
			case !control && !strings.Contains(v.Reason, want):
				t.Errorf("oauthlib refused for %q, want %q", v.Reason, want)
			}
		})
	}

	t.Run("replay", func(t *testing.T) {
		req := testkit.NewRequest(t, "POST", o.url+"/jira/rest/x?a=1", formType, "b=2")
		if err := good.Sign(req, ModeImpersonation, "alice", nil); err != nil {
			t.Fatal(err)
		}
		replay := req.Clone(req.Context())
		replay.Body, _ = req.GetBody()
		if v := o.send(t, req); !v.OK {
			t.Fatalf("first request refused: %s", v.Reason)
		}
		if v := o.send(t, replay); v.OK || !strings.Contains(v.Reason, "before the signature check") {
			t.Errorf("replayed request: ok=%v %s", v.OK, v.Reason)
		}
	})
}

func setBody(r *http.Request, body string) {
	r.Body = io.NopCloser(strings.NewReader(body))
	r.ContentLength = int64(len(body))
	r.GetBody = nil
}

package caddymodule

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/signer"
	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

// transportBlock renders a `transport applink` block with our key.
func transportBlock(extra string) string {
	return fmt.Sprintf(`transport applink {
				consumer_key %s
				private_key_file %s
				%s
			}`, testConsumerKey, gwKeys().PrivFile, extra)
}

// userFromHeader lets each test request choose its user. Tests only: in a
// real config the client would pick any user this way.
const userFromHeader = "user {http.request.header.X-Test-User}"

// TestOauthlibVerifiesThroughCaddy: real Caddy, reverse_proxy with
// `transport applink`, to python-oauthlib playing Atlassian; every request
// verifies there, with the user the placeholder named, and the client's own
// credentials never reach it.
func TestOauthlibVerifiesThroughCaddy(t *testing.T) {
	derived := startOracle(t, "auto", "")                            // remote base URL derived from the upstream
	ctxOracle := startOracle(t, "https://jira.example.com", "/jira") // behind a load balancer adding /jira
	tester, logFile := caddyRun(t, fmt.Sprintf(`
http://localhost:%d {
	handle /a/2lo/* {
		reverse_proxy %s {
			%s
		}
	}
	handle /a/imp/* {
		reverse_proxy %s {
			%s
		}
	}
	handle /a/vars/* {
		vars applink_user carol
		reverse_proxy %s {
			%s
		}
	}
	handle /b/* {
		reverse_proxy %s {
			%s
		}
	}
}
`, frontPort,
		derived.Addr(), transportBlock("mode 2lo"),
		derived.Addr(), transportBlock("mode impersonation\n"+userFromHeader),
		derived.Addr(), transportBlock("mode impersonation\nuser {http.vars.applink_user}"),
		ctxOracle.Addr(), transportBlock("mode impersonation\n"+userFromHeader+"\nremote_base_url HTTPS://Jira.Example.COM:443/jira/")))

	front := fmt.Sprintf("http://localhost:%d", frontPort)
	const form = "application/x-www-form-urlencoded"
	cases := []struct {
		name, method, target, ctype, body, user string
		hdr                                     []string
		wantMode, wantUser                      string
		wantQuery, wantBody                     *string // nil: as sent (plus the requestor)
	}{
		{name: "2lo", method: "GET", target: "/a/2lo/rest/api/2/myself", wantMode: "2lo"},
		{name: "2lo repeated keys", method: "GET", target: "/a/2lo/rest/api/2/search?expand=schema&expand=names&expand=schema&fields=summary,status&fields=", wantMode: "2lo"},
		{name: "2lo spaces and plus", method: "GET", target: "/a/2lo/rest/api/2/search?jql=project%20%3D%20TEST+AND+text+~+%22a%2Bb%22&q=a+b&lit=1%2B1", wantMode: "2lo"},
		{name: "2lo unicode", method: "GET", target: "/a/2lo/rest/api/2/user/J%C3%BCrgen?name=J%C3%BCrgen&emoji=%F0%9F%98%80&k%C3%A9y=1", wantMode: "2lo"},
		{name: "2lo reserved characters", method: "GET", target: "/a/2lo/rest/x?a=!*'()&b=:@,/?$&d=~tilde&flag&empty=&e=%26%3D%3F%23%25", wantMode: "2lo"},
		{name: "2lo PUT form (not signed, as Tomcat)", method: "PUT", target: "/a/2lo/rest/x", ctype: form, body: "a=1&b=x+y", wantMode: "2lo"},
		{name: "2lo DELETE", method: "DELETE", target: "/a/2lo/rest/api/2/issue/X-1?deleteSubtasks=true", wantMode: "2lo"},
		{name: "impersonation", method: "GET", target: "/a/imp/rest/api/2/myself?expand=groups", user: "alice",
			wantMode: "impersonation", wantUser: "alice"},
		{name: "impersonation unicode user", method: "GET", target: "/a/imp/rest/api/2/myself", user: "jürgen o'brien+1@example.com",
			wantMode: "impersonation", wantUser: "jürgen o'brien+1@example.com",
			wantQuery: strptr("xoauth_requestor_id=j%C3%BCrgen%20o%27brien%2B1%40example.com")},
		{name: "impersonation, client credentials stripped", method: "GET",
			target: "/a/imp/rest/x?xoauth_requestor_id=admin&oauth_token=evil&user_id=root&os_username=admin&os_password=pw&keep=1",
			hdr:    []string{"Authorization", "Basic YWRtaW46YWRtaW4=", "Cookie", "JSESSIONID=abc", "X-Seraph-Trusted-App-ID", "x"},
			user:   "alice", wantMode: "impersonation", wantUser: "alice", wantQuery: strptr("keep=1&xoauth_requestor_id=alice")},
		{name: "impersonation form with charset", method: "POST", target: "/a/imp/secure/Action.jspa?x=1", ctype: form + "; charset=UTF-8",
			body: "name=J%C3%BCrgen&x=a+b&x=%2B&os_password=pw&user_id=root&oauth_nonce=x", user: "bob",
			wantMode: "impersonation", wantUser: "bob", wantBody: strptr("name=J%C3%BCrgen&x=a+b&x=%2B")},
		{name: "impersonation JSON body", method: "POST", target: "/a/imp/rest/api/2/issue?x=1", ctype: "application/json",
			body: `{"fields":{"summary":"a=b&oauth_token=c"}}`, user: "alice", wantMode: "impersonation", wantUser: "alice"},
		{name: "impersonation HEAD", method: "HEAD", target: "/a/imp/rest/api/2/myself?a=1", user: "alice", wantMode: "impersonation", wantUser: "alice"},
		{name: "impersonation, user from vars", method: "GET", target: "/a/vars/rest/api/2/myself", wantMode: "impersonation", wantUser: "carol",
			wantQuery: strptr("xoauth_requestor_id=carol")},
		{name: "remote_base_url with context path", method: "GET", target: "/b/rest/api/2/search?expand=a&expand=b&q=x+y", user: "dave",
			wantMode: "impersonation", wantUser: "dave"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hdr := c.hdr
			if c.user != "" {
				hdr = append(hdr, "X-Test-User", c.user)
			}
			resp, body := do(t, tester, testkit.NewRequest(t, c.method, front+c.target, c.ctype, c.body, hdr...))
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			v := parseVerdict(t, resp, body)
			if !v.OK {
				t.Fatalf("oauthlib refused: %s\n base string: %s", v.Reason, v.BaseString)
			}
			if v.Mode != c.wantMode || v.User != c.wantUser {
				t.Errorf("oauthlib saw mode %q user %q, want %q %q", v.Mode, v.User, c.wantMode, c.wantUser)
			}
			if c.method == "HEAD" {
				return
			}
			if len(v.Received.Authorization) != 1 || !strings.HasPrefix(v.Received.Authorization[0], "OAuth ") {
				t.Errorf("remote received Authorization %q, want exactly our OAuth header", v.Received.Authorization)
			}
			v.CheckReceived(t, c.target, c.body, c.wantMode == "impersonation", c.user, c.wantQuery, c.wantBody)
		})
	}
	if es := testkit.LogEntries(t, logFile, "remote refused"); len(es) != 0 {
		t.Errorf("unexpected refusal logged: %v", es)
	}
}

// TestThreeLeggedOauthlib: with a token source, 3lo requests carry the
// user's access token and verify in oauthlib; a user without one is refused
// locally; a failing store refuses with 503.
func TestThreeLeggedOauthlib(t *testing.T) {
	o := startOracle(t, "auto", "")
	tr := provisioned(t, &Transport{ConsumerKey: testConsumerKey, PrivateKeyFile: gwKeys().PrivFile, Mode: "3lo", User: "{http.request.header.X-Test-User}"})
	tr.tokenSrc = tokenMap{"erin": {Token: testToken, Secret: "s"}}

	for _, c := range []struct{ method, target, ctype, body string }{
		{"GET", "/rest/api/2/myself?expand=a&expand=b&q=a+b", "", ""},
		{"POST", "/rest/x?a=2&a=1", "application/x-www-form-urlencoded", "a=0&b=x+y&os_username=admin"},
	} {
		req := clientRequest(t, c.method, "http://"+o.Addr()+c.target, c.ctype, c.body, "X-Test-User", "erin")
		resp, b := roundTrip(t, tr, req)
		v := parseVerdict(t, resp, b)
		if !v.OK || v.Mode != "3lo" {
			t.Errorf("%s %s: oauthlib: ok=%v mode=%s %s", c.method, c.target, v.OK, v.Mode, v.Reason)
		}
		if strings.Contains(v.Received.Body, "os_username") {
			t.Errorf("Seraph login parameter reached the remote: %q", v.Received.Body)
		}
	}

	for user, want := range map[string]int{"frank": 401, "": 401, "broken": 503} {
		req := clientRequest(t, "GET", "http://"+o.Addr()+"/rest/x", "", "", "X-Test-User", user)
		resp, b := roundTrip(t, tr, req)
		if resp.StatusCode != want {
			t.Errorf("user %q: status %d, want %d (%s)", user, resp.StatusCode, want, b)
		}
		if user == "frank" && !strings.Contains(b, `no OAuth access token is stored for user "frank"`) {
			t.Errorf("user without token: body %q", b)
		}
	}
}

// TestRoundTripIntoOwnHandler: the transport signs, our own applink handler
// (a second Caddy site) verifies; the remote sees the user we sent, and a
// gateway (incoming applink, then the transport) passes {http.auth.user.id}
// on.
func TestRoundTripIntoOwnHandler(t *testing.T) {
	tester, _ := caddyRun(t, fmt.Sprintf(`
http://localhost:%[1]d {
	handle /2lo/* {
		reverse_proxy localhost:%[2]d {
			%[4]s
		}
	}
	handle /imp/* {
		reverse_proxy localhost:%[2]d {
			%[5]s
		}
	}
}

# Our own applink handler as the remote.
http://localhost:%[2]d {
	applink {
		base_url http://localhost:%[2]d
		consumer %[6]s {
			public_key_file %[7]s
			two_legged svc-gw
			impersonation
		}
		anonymous reject
	}
	respond "user={http.request.header.X-Forwarded-User} mode={applink.mode} uri={http.request.uri} body={http.request.body}"
}

# A gateway: verifies its client, re-signs as the user it mapped.
http://localhost:%[3]d {
	applink {
		base_url http://localhost:%[3]d
		consumer client:1 {
			public_key_file %[7]s
			two_legged svc-client
			impersonation
		}
		anonymous pass
	}
	reverse_proxy localhost:%[2]d {
		%[8]s
	}
}
`, frontPort, rtPort, gwPort,
		transportBlock("mode 2lo"),
		transportBlock("mode impersonation\n"+userFromHeader),
		testConsumerKey, gwKeys().PubFile,
		transportBlock("mode impersonation\nuser {http.auth.user.id}")))
	waitForNonceFloor()

	front := fmt.Sprintf("http://localhost:%d", frontPort)
	for _, c := range []struct{ name, method, target, ctype, body, user, want string }{
		{"2lo", "GET", "/2lo/rest/api/2/myself", "", "", "", "user=svc-gw mode=2lo uri=/2lo/rest/api/2/myself"},
		{"2lo repeated keys, plus", "GET", "/2lo/x?a=2&a=1&q=a+b%2B", "", "", "", "user=svc-gw mode=2lo uri=/2lo/x?a=2&a=1&q=a+b%2B"},
		{"impersonation", "GET", "/imp/rest/api/2/myself?expand=x", "", "", "alice", "user=alice mode=2lo-impersonation uri=/imp/rest/api/2/myself?expand=x "},
		{"impersonation form", "POST", "/imp/rest/x", "application/x-www-form-urlencoded; charset=UTF-8", "a=1&b=%C3%A9+x", "bob",
			"user=bob mode=2lo-impersonation uri=/imp/rest/x body=a=1&b=%C3%A9+x"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var hdr []string
			if c.user != "" {
				hdr = []string{"X-Test-User", c.user}
			}
			resp, body := do(t, tester, testkit.NewRequest(t, c.method, front+c.target, c.ctype, c.body, hdr...))
			if resp.StatusCode != 200 || !strings.HasPrefix(body, c.want) {
				t.Errorf("%d %q (%s), want %q", resp.StatusCode, body, resp.Header.Get("WWW-Authenticate"), c.want)
			}
		})
	}

	t.Run("gateway passes the mapped user on", func(t *testing.T) {
		s, err := signer.New(signer.Config{ConsumerKey: "client:1", PrivateKey: gwKeys().Key, RemoteBaseURL: fmt.Sprintf("http://localhost:%d", gwPort)})
		if err != nil {
			t.Fatal(err)
		}
		for user, want := range map[string]string{"": "user=svc-client mode=2lo-impersonation", "dave": "user=dave mode=2lo-impersonation"} {
			req := testkit.NewRequest(t, "GET", fmt.Sprintf("http://localhost:%d/rest/api/2/myself", gwPort), "", "")
			mode := signer.Mode2LO
			if user != "" {
				mode = signer.ModeImpersonation
			}
			if err := s.Sign(req, mode, user, nil); err != nil {
				t.Fatal(err)
			}
			resp, body := do(t, tester, req)
			if resp.StatusCode != 200 || !strings.HasPrefix(body, want) {
				t.Errorf("client as %q: %d %q, want %q", user, resp.StatusCode, body, want)
			}
		}
		// An anonymous client has no user: the transport refuses locally,
		// it never calls the remote as the service user.
		resp, body := do(t, tester, testkit.NewRequest(t, "GET", fmt.Sprintf("http://localhost:%d/rest/api/2/myself", gwPort), "", ""))
		if resp.StatusCode != 401 || resp.Header.Get("X-Applink-Refused") != "no_user" {
			t.Errorf("anonymous through the gateway: %d %q", resp.StatusCode, body)
		}
	})
}

// TestEmptyUserRefusedLocally: a mode that needs a user, with an empty
// placeholder, is answered 401 by the transport; the remote is never
// contacted, and the refusal is logged and counted.
func TestEmptyUserRefusedLocally(t *testing.T) {
	rec := newTransportRecorder(t, "")
	tester, logFile := caddyRun(t, fmt.Sprintf(`
http://localhost:%d {
	handle /imp/* {
		reverse_proxy %s {
			%s
		}
	}
	handle /auth/* {
		reverse_proxy %s {
			%s
		}
	}
	handle /3lo/* {
		reverse_proxy %s {
			%s
		}
	}
	handle /q/* {
		reverse_proxy %s {
			%s
		}
	}
}
`, frontPort,
		rec.addr(), transportBlock("mode impersonation\n"+userFromHeader),
		rec.addr(), transportBlock("mode impersonation\nuser {http.auth.user.id}"),
		rec.addr(), transportBlock("mode 3lo\nstate memory\nlink_id jira\n"+userFromHeader),
		rec.addr(), transportBlock("mode impersonation\nuser {http.request.uri.query.u}")))
	front := fmt.Sprintf("http://localhost:%d", frontPort)

	for _, c := range []struct{ name, path, user, reason, text string }{
		{"no header", "/imp/rest/x", "", "no_user", "no user to act as"},
		{"blank header", "/imp/rest/x", "   ", "no_user", "no user to act as"},
		{"unset {http.auth.user.id}", "/auth/rest/x", "", "no_user", "no user to act as"},
		{"control character", "/q/rest/x?u=al%01ice", "", "bad_user", "control characters"},
		{"invalid UTF-8", "/q/rest/x?u=%FF", "", "bad_user", "invalid UTF-8"},
		{"3lo without a token", "/3lo/rest/x?a=1", "erin", "no_token", `no OAuth access token is stored for user "erin"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := testkit.NewRequest(t, "GET", front+c.path, "", "")
			if c.user != "" {
				req.Header["X-Test-User"] = []string{c.user}
			}
			resp, body := do(t, tester, req)
			if resp.StatusCode != 401 || resp.Header.Get("X-Applink-Refused") != c.reason || !strings.Contains(body, c.text) {
				t.Errorf("%d %s %q, want 401 %s containing %q", resp.StatusCode, resp.Header.Get("X-Applink-Refused"), body, c.reason, c.text)
			}
			const dance = "/plugins/servlet/applinks/oauth/login-dance/authorize?applicationLinkID=jira&redirectUrl=%2F3lo%2Frest%2Fx%3Fa%3D1"
			if link := resp.Header.Get("Link"); (c.reason == "no_token") != (link != "") ||
				c.reason == "no_token" && (link != "<"+dance+`>; rel="authenticate"` || !strings.Contains(body, dance)) {
				t.Errorf("Link header %q, body %q", link, body)
			}
		})
	}
	if n := rec.count.Load(); n != 0 {
		t.Errorf("the remote was contacted %d times", n)
	}
	es := testkit.LogEntries(t, logFile, "request refused locally")
	if len(es) < 6 || es[0]["reason"] != "no_user" || es[0]["consumer"] != testConsumerKey {
		t.Errorf("refusal log entries: %v", es)
	}
	m := scrape(t, transportAdminPort)
	if want := fmt.Sprintf(`caddy_applink_transport_local_refusals_total{reason="no_user",remote=%q}`, rec.addr()); metricValue(t, m, want) < 3 {
		t.Errorf("metric %s not counted:\n%s", want, grep(m, "applink"))
	}
}

// TestStripsAndSigns: whatever credential or identity parameter the local
// client sends is gone; the remote (verifying with our protocol core) sees
// one OAuth header, the configured Host, and the requested user.
func TestStripsAndSigns(t *testing.T) {
	rec := newTransportRecorder(t, "http://jira.example.test:8080/jira")
	tester, _ := caddyRun(t, fmt.Sprintf(`
http://localhost:%d {
	reverse_proxy %s {
		%s
	}
}
`, frontPort, rec.addr(), transportBlock("mode impersonation\n"+userFromHeader+"\nremote_base_url http://jira.example.test:8080/jira")))

	req := testkit.NewRequest(t, "POST", fmt.Sprintf("http://localhost:%d/jira/rest/x?os_username=admin&oauth_token=evil&xoauth_requestor_id=admin&user_id=root&keep=1&sp=a+b", frontPort),
		"application/x-www-form-urlencoded", "k=v&os_password=pw&os_authType=basic&xoauth_requestor_id=root&oauth_signature=x",
		"X-Test-User", "alice",
		"Authorization", "Basic YWRtaW46YWRtaW4=",
		"Proxy-Authorization", "Basic eDp5",
		"Cookie", "JSESSIONID=abc; seraph.rememberme.cookie=x",
		"X-Seraph-Trusted-App-ID", "jira:1",
		"X-Seraph-Trusted-App-Cert", "cert")
	resp, body := do(t, tester, req)
	if resp.StatusCode != 200 || body != "mode=2lo-impersonation user=alice" {
		t.Fatalf("%d %q %s", resp.StatusCode, body, resp.Header.Get("WWW-Authenticate"))
	}
	got := rec.last(t)
	if got.URI != "/jira/rest/x?keep=1&sp=a+b&xoauth_requestor_id=alice" {
		t.Errorf("remote got URI %q", got.URI)
	}
	if got.Body != "k=v" {
		t.Errorf("remote got body %q", got.Body)
	}
	if got.Host != "jira.example.test:8080" {
		t.Errorf("remote got Host %q, want the remote base URL's", got.Host)
	}
	if a := got.Header.Values("Authorization"); len(a) != 1 || !strings.HasPrefix(a[0], "OAuth ") {
		t.Errorf("remote got Authorization %q", a)
	}
	for name := range got.Header {
		n := strings.ToLower(name)
		if n == "cookie" || n == "proxy-authorization" || strings.HasPrefix(n, "x-seraph") {
			t.Errorf("remote got %s: %q", name, got.Header[name])
		}
	}
}

// TestRemoteUnreachable: Caddy answers 502, and the transport logs which
// remote it could not reach.
func TestRemoteUnreachable(t *testing.T) {
	tester, logFile := caddyRun(t, fmt.Sprintf(`
http://localhost:%d {
	reverse_proxy 127.0.0.1:1 {
		%s
	}
}
`, frontPort, transportBlock("mode 2lo\ndial_timeout 2s")))
	resp, body := do(t, tester, testkit.NewRequest(t, "GET", fmt.Sprintf("http://localhost:%d/rest/x", frontPort), "", ""))
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d %q, want 502", resp.StatusCode, body)
	}
	es := testkit.LogEntries(t, logFile, "remote unreachable")
	if len(es) == 0 || es[0]["level"] != "error" || es[0]["remote"] != "127.0.0.1:1" || !strings.Contains(fmt.Sprint(es[0]["error"]), "connection refused") {
		t.Errorf("log entries: %v", es)
	}
}

// TestRemoteProblemsCounted: a remote's OAuth refusal goes back to the
// client unchanged, is logged at WARN with consumer, remote and problem,
// and is counted in Caddy's metrics with bounded labels.
func TestRemoteProblemsCounted(t *testing.T) {
	rec := newTransportRecorder(t, "")
	rec.reply = func(w http.ResponseWriter, r *http.Request) bool {
		problem := r.URL.Query().Get("problem")
		switch problem {
		case "":
			return false
		case "bare":
			w.Header().Add("WWW-Authenticate", `OAuth realm="http%3A%2F%2Fjira"`)
			w.Header().Add("WWW-Authenticate", `OAuth realm="http%3A%2F%2Fjira", oauth_consumer_key="x"`)
			w.WriteHeader(401)
			return true
		case "login":
			w.Header().Add("WWW-Authenticate", `Basic realm="jira"`)
			w.WriteHeader(401)
			return true
		}
		w.Header().Add("WWW-Authenticate", `OAuth realm="http%3A%2F%2Fjira"`)
		w.Header().Add("WWW-Authenticate", fmt.Sprintf(`OAuth realm="http%%3A%%2F%%2Fjira", oauth_problem=%q, oauth_acceptable_timestamps="100-700", oauth_signature_base_string="GET%%26http%%253A%%252F%%252Fjira%%252Fx%%26a%%253D1"`, problem))
		w.WriteHeader(oauthStatus(problem))
		fmt.Fprintf(w, "oauth_problem=%s", problem)
		return true
	}
	tester, logFile := caddyRun(t, fmt.Sprintf(`
http://localhost:%d {
	reverse_proxy %s {
		%s
	}
}
`, frontPort, rec.addr(), transportBlock("mode 2lo")))
	front := fmt.Sprintf("http://localhost:%d/rest/x", frontPort)
	before := scrape(t, transportAdminPort)
	sends := map[string]int{"timestamp_refused": 2, "signature_invalid": 1, "made_up_problem": 1, "bare": 1, "login": 1}
	for problem, n := range sends {
		for range n {
			resp, body := do(t, tester, testkit.NewRequest(t, "GET", front+"?problem="+problem, "", ""))
			if resp.StatusCode != oauthStatus(problem) {
				t.Errorf("%s: status %d %q", problem, resp.StatusCode, body)
			}
			if problem != "bare" && problem != "login" && body != "oauth_problem="+problem {
				t.Errorf("%s: body %q, want the remote's", problem, body)
			}
		}
	}
	after := scrape(t, transportAdminPort)
	for label, want := range map[string]float64{"timestamp_refused": 2, "signature_invalid": 1, "other": 1, "unspecified": 1} {
		name := fmt.Sprintf(`caddy_applink_transport_remote_problems_total{problem=%q,remote=%q}`, label, rec.addr())
		if got := metricValue(t, after, name) - metricValue(t, before, name); got != want {
			t.Errorf("%s rose by %v, want %v\n%s", name, got, want, grep(after, "applink"))
		}
	}
	if strings.Contains(after, `problem="made_up_problem"`) || strings.Contains(after, `problem="login"`) {
		t.Errorf("unbounded or wrong label:\n%s", grep(after, "applink"))
	}

	es := testkit.LogEntries(t, logFile, "remote refused the signed request")
	byProblem := map[string]map[string]any{}
	for _, e := range es {
		if e["level"] != "warn" {
			t.Errorf("logged at %v: %v", e["level"], e)
		}
		byProblem[fmt.Sprint(e["problem"])] = e
	}
	ts := byProblem["timestamp_refused"]
	if ts == nil || ts["consumer"] != testConsumerKey || ts["remote"] != rec.addr() || ts["oauth_acceptable_timestamps"] != "100-700" {
		t.Errorf("timestamp_refused log entry: %v", ts)
	}
	si := byProblem["signature_invalid"]
	if si == nil || si["remote_base_string"] != "GET&http%3A%2F%2Fjira%2Fx&a%3D1" || !strings.HasPrefix(fmt.Sprint(si["our_base_string"]), "GET&http%3A%2F%2F127.0.0.1") {
		t.Errorf("signature_invalid log entry: %v", si)
	}
	if byProblem["unspecified"] == nil {
		t.Errorf("bare OAuth 401 not logged: %v", es)
	}
	if len(es) != 5 {
		t.Errorf("%d refusals logged, want 5 (not the Basic challenge): %v", len(es), es)
	}
}

func oauthStatus(problem string) int {
	switch problem {
	case "timestamp_refused":
		return 400
	case "made_up_problem":
		return 403
	}
	return 401
}

// TestHealthChecksGoUnsigned: active health checks have no user; they go
// out unsigned (anonymous at the remote), never as the service user, and
// are not refused.
func TestHealthChecksGoUnsigned(t *testing.T) {
	rec := newTransportRecorder(t, "")
	seen := make(chan http.Header, 10)
	rec.reply = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/status" {
			return false
		}
		select {
		case seen <- r.Header.Clone():
		default:
		}
		fmt.Fprint(w, `{"state":"RUNNING"}`)
		return true
	}
	tester, _ := caddyRun(t, fmt.Sprintf(`
http://localhost:%d {
	reverse_proxy %s {
		health_uri /status
		health_interval 100ms
		%s
	}
}
`, frontPort, rec.addr(), transportBlock("mode impersonation\n"+userFromHeader)))
	select {
	case h := <-seen:
		if a := h.Get("Authorization"); a != "" {
			t.Errorf("health check carried Authorization %q", a)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no health check reached the remote")
	}
	resp, body := do(t, tester, testkit.NewRequest(t, "GET", fmt.Sprintf("http://localhost:%d/rest/x", frontPort), "", "", "X-Test-User", "alice"))
	if resp.StatusCode != 200 || body != "mode=2lo-impersonation user=alice" {
		t.Errorf("after health checks: %d %q", resp.StatusCode, body)
	}
}

func grep(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

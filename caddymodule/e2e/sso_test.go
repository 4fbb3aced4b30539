//go:build linux

package e2e

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dghubble "github.com/dghubble/oauth1"

	"github.com/caddy-applink/caddy-applink/internal/rsakey"
	"github.com/caddy-applink/caddy-applink/internal/signer"
	"github.com/caddy-applink/caddy-applink/internal/testkit"
	"github.com/caddy-applink/caddy-applink/internal/testoracle"
	"github.com/caddy-applink/caddy-applink/internal/testsso"
)

// The SSO example's consumers and the proxy's own key (examples/sso).
const (
	ssoBambooKey = "bamboo:93f2"    // calls Jira's site (a)
	ssoJiraKey   = "jira:6c5e1d0a"  // calls Bamboo's site (b)
	ssoProxyKey  = "sso-proxy:5b21" // the proxy's key at Bamboo (b)
	ssoOAuth2Hop = "127.0.0.1:4180" // oauth2-proxy's address in the example
)

// hop is a recording reverse proxy in front of a peer: it keeps what
// reached the peer through it, so that a test can tell whether a request
// was sent to the SSO, or what a product received.
type hop struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

func newHop(t *testing.T, target string) *hop {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	h := &hop{}
	rp := httputil.NewSingleHostReverseProxy(u) // keeps the Host header
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.reqs = append(h.reqs, recorded{Method: r.Method, URI: r.RequestURI, Header: r.Header.Clone()})
		h.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hop) addr() string { return strings.TrimPrefix(h.srv.URL, "http://") }

func (h *hop) mark() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.reqs)
}

func (h *hop) since(mark int) []recorded {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]recorded(nil), h.reqs[mark:]...)
}

// withCase returns the requests of reqs whose query parameter "case" is
// name (the browser also asks for /favicon.ico).
func withCase(reqs []recorded, name string) []recorded {
	var out []recorded
	for _, r := range reqs {
		if u, err := url.ParseRequestURI(r.URI); err == nil && u.Query().Get("case") == name {
			out = append(out, r)
		}
	}
	return out
}

// authCalls counts the /oauth2/auth calls among reqs.
func authCalls(reqs []recorded) int {
	n := 0
	for _, r := range reqs {
		if strings.HasPrefix(r.URI, "/oauth2/auth") {
			n++
		}
	}
	return n
}

// identities lists every spelling of X-Forwarded-User in h, as
// "Name=value".
func identities(h http.Header) []string {
	var ids []string
	for k, v := range h {
		if strings.EqualFold(strings.ReplaceAll(k, "_", "-"), "X-Forwarded-User") {
			ids = append(ids, k+"="+strings.Join(v, ","))
		}
	}
	return ids
}

// ssoSetup is examples/sso/demo.Caddyfile's production Caddyfile, loaded
// into this package's Caddy in front of a real oauth2-proxy and issuer:
// Jira's site (a) before a recorder, Bamboo's site (b) before
// python-oauthlib, each peer behind a recording hop.
type ssoSetup struct {
	sso          *testsso.Server
	jira, bamboo string // the two sites' base URLs
	product      *recorder
	oauth2       *hop // in front of oauth2-proxy
	verifier     *hop // in front of the oauthlib verifier (Bamboo)
	tester       *http.Client
	appKey       *rsa.PrivateKey // the linked apps' key (examples/keys/demo-consumer.pem)
}

func setUpSSO(t *testing.T) *ssoSetup {
	t.Helper()
	if _, err := testsso.Build(); err != nil {
		testsso.Missing(t, err)
	}
	testoracle.Require(t)
	root, _ := filepath.Abs("../..")
	keys := filepath.Join(root, "examples", "keys")
	ports := testkit.FreePorts(2)
	s := &ssoSetup{
		jira:    fmt.Sprintf("http://localhost:%d", ports[0]),
		bamboo:  fmt.Sprintf("http://localhost:%d", ports[1]),
		product: newRecorder(t),
	}
	hostA, hostB := strings.TrimPrefix(s.jira, "http://"), strings.TrimPrefix(s.bamboo, "http://")
	start := time.Now()
	srv, err := testsso.Start(testsso.Options{
		RedirectURL:      s.jira + "/oauth2/callback",
		WhitelistDomains: []string{hostA, hostB},
	})
	if err != nil {
		t.Fatalf("starting the issuer and oauth2-proxy: %v", err)
	}
	t.Cleanup(srv.Stop)
	s.sso = srv
	t.Logf("issuer and oauth2-proxy up in %s", time.Since(start).Round(time.Millisecond))
	s.oauth2 = newHop(t, srv.ProxyURL)
	oracle := testoracle.Start(t, testoracle.Options{
		PublicKeyFile: filepath.Join(keys, "demo-gateway.pub.pem"),
		ConsumerKey:   ssoProxyKey,
		Token:         "no-3lo-token-here",
		Origin:        s.bamboo, // Bamboo's Base URL, what its Tomcat reconstructs
	})
	s.verifier = newHop(t, oracle.URL())

	prod, err := os.ReadFile(filepath.Join(root, "examples", "sso", "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(prod), ssoOAuth2Hop); n != 5 {
		t.Fatalf("examples/sso/Caddyfile names oauth2-proxy's %s %d times, want 5 (a comment and the four addresses the test moves)", ssoOAuth2Hop, n)
	}
	cfg := strings.ReplaceAll(string(prod), ssoOAuth2Hop, s.oauth2.addr())
	for k, v := range map[string]string{
		"APPLINK_ADMIN":           fmt.Sprintf("localhost:%d", adminPort),
		"APPLINK_STATE_FILE":      filepath.Join(t.TempDir(), "state.db"),
		"JIRA_SITE":               s.jira,
		"JIRA_BASE_URL":           s.jira,
		"JIRA_UPSTREAM":           s.product.Addr(),
		"BAMBOO_CONSUMER_KEY":     ssoBambooKey,
		"BAMBOO_PUBLIC_KEY":       filepath.Join(keys, "demo-consumer.pub.pem"),
		"CONFLUENCE_CONSUMER_KEY": "confluence:7c1e",
		"CONFLUENCE_PUBLIC_KEY":   filepath.Join(keys, "demo-consumer.pub.pem"),
		"BAMBOO_SITE":             s.bamboo,
		"BAMBOO_BASE_URL":         s.bamboo,
		"BAMBOO_UPSTREAM":         s.verifier.addr(),
		"JIRA_CONSUMER_KEY":       ssoJiraKey,
		"JIRA_PUBLIC_KEY":         filepath.Join(keys, "demo-consumer.pub.pem"),
		"GATEWAY_CONSUMER_KEY":    ssoProxyKey,
		"GATEWAY_PRIVATE_KEY":     filepath.Join(keys, "demo-gateway.pem"),
	} {
		t.Setenv(k, v)
	}
	tester := loadCaddy(t, cfg)
	s.tester = tester.Client
	s.tester.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	testkit.WaitNextSecond()
	key, err := rsakey.LoadPrivate(filepath.Join(keys, "demo-consumer.pem"))
	if err != nil {
		t.Fatal(err)
	}
	s.appKey = key
	return s
}

// sign signs req as consumer (the demo key), against base.
func (s *ssoSetup) sign(t *testing.T, req *http.Request, consumer, base string, mode signer.Mode, user string) {
	t.Helper()
	sg, err := signer.New(signer.Config{ConsumerKey: consumer, PrivateKey: s.appKey, RemoteBaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	if err := sg.Sign(req, mode, user, nil); err != nil {
		t.Fatal(err)
	}
}

// loggedIn returns a browser-like client (cookie jar, redirects followed)
// that logged in as user through the site's /oauth2/start.
func (s *ssoSetup) loggedIn(t *testing.T, user string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	u, _ := s.sso.User(user)
	rd := s.jira + "/?case=login-" + user
	resp, body, err := testsso.Login(c, s.jira+"/oauth2/start?rd="+url.QueryEscape(rd), u.Username, u.Password)
	if err != nil {
		t.Fatalf("logging in as %s: %v\n%s", user, err, s.sso.Log())
	}
	if resp.Request.URL.String() != rd || body != "user="+u.ID {
		t.Fatalf("after the login %s is at %s with %q, want %s with user=%s", user, resp.Request.URL, body, rd, u.ID)
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// checkSignInRedirect asserts resp is the redirect to oauth2-proxy's
// sign-in for target, the page asked for.
func checkSignInRedirect(t *testing.T, resp *http.Response, site, target string) {
	t.Helper()
	want := "/oauth2/start?rd=" + site + target
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
		t.Errorf("GET %s: %s Location %q, want 302 to %s", target, resp.Status, resp.Header.Get("Location"), want)
	}
}

// verdictOf reads the oauthlib verifier's answer that came back through
// the proxy (nil when the answer is not the verifier's).
func verdictOf(resp *http.Response, body string) *testoracle.Verdict {
	if resp.Header.Get("Content-Type") != "application/json" {
		return nil
	}
	v, err := testoracle.ParseVerdict(resp, body)
	if err != nil {
		return nil
	}
	return &v
}

// checkResigned asserts that v is oauthlib's acceptance of an
// impersonation request for user, signed with the proxy's key, and that
// the request reached the verifier (r) with no identity header and no
// cookie of the browser's.
func checkResigned(t *testing.T, what string, v *testoracle.Verdict, r recorded, user string) {
	t.Helper()
	if v == nil || !v.OK || v.Mode != "impersonation" || v.User != user || v.OAuthParams["oauth_consumer_key"] != ssoProxyKey {
		t.Errorf("%s: the verifier's verdict %+v; want an impersonation of %s signed by %s", what, v, user, ssoProxyKey)
	}
	if ids := identities(r.Header); len(ids) != 0 {
		t.Errorf("%s: identity headers reached Bamboo: %v", what, ids)
	}
	if c := r.Header.Get("Cookie"); c != "" {
		t.Errorf("%s: the browser's cookies reached Bamboo: %q", what, c)
	}
}

// TestSSOBesideApplicationLinks runs examples/sso's production Caddyfile
// (both sites) in front of a real oauth2-proxy and OpenID issuer
// (internal/testsso): browsers log in through the SSO, in headless
// Chromium, and reach Jira (a) as the identity header or Bamboo (b)
// re-signed as an impersonation that python-oauthlib verifies; spoofed
// identity headers never get through; linked apps' signed requests reach
// the product without any SSO call, and bad or replayed ones are refused
// by applink, never sent to the SSO or the product.
func TestSSOBesideApplicationLinks(t *testing.T) {
	start := time.Now()
	s := setUpSSO(t)
	t.Logf("set up in %s", time.Since(start).Round(time.Millisecond))

	t.Run("browser logs in and reaches Jira as the identity header", func(t *testing.T) {
		requireChromium(t)
		b := startChromedriver(t).newBrowser(t)
		markP, markA := s.product.Mark(), s.oauth2.mark()
		page := s.jira + "/browse/ABC-1?case=browser"
		b.open(page)
		// Sent to the issuer's login page through oauth2-proxy; the product
		// saw nothing.
		user := b.waitFor(testsso.UsernameSelector, 10*time.Second)
		if u := b.currentURL(); !strings.HasPrefix(u, s.sso.IssuerURL+"login/") {
			t.Errorf("the login page is at %s, want the issuer's %s", u, s.sso.IssuerURL)
		}
		if got := find(s.product, markP, "browser"); len(got) != 0 {
			t.Fatalf("the product saw the browser before its login: %v", got)
		}
		b.typeInto(user, "alice")
		b.typeInto(b.waitFor(testsso.PasswordSelector, time.Second), "alice-password")
		b.click(b.waitFor(testsso.SubmitSelector, time.Second))
		b.waitURL("the product page", func(u string) bool { return u == page }, 10*time.Second)
		if got := b.bodyText(); got != "user=alice" {
			t.Errorf("the product page says %q, want user=alice", got)
		}
		reached := find(s.product, markP, "browser")
		if len(reached) != 1 {
			t.Fatalf("the page reached the product %d times", len(reached))
		}
		if ids := identities(reached[0].Header); len(ids) != 1 || ids[0] != "X-Forwarded-User=alice" {
			t.Errorf("the product got identity headers %v, want exactly X-Forwarded-User=alice", ids)
		}
		if n := authCalls(s.oauth2.since(markA)); n < 2 {
			t.Errorf("oauth2-proxy's /oauth2/auth was called %d times for the browser, want before and after its login", n)
		}

		// (b) The same login reaches Bamboo re-signed: oauthlib verifies an
		// impersonation of alice by the proxy's key.
		markV := s.verifier.mark()
		b.open(s.bamboo + "/rest/api/latest/currentUser?case=resigned")
		var v testoracle.Verdict
		text := b.textOf("body")
		if err := json.Unmarshal([]byte(text), &v); err != nil {
			t.Fatalf("Bamboo's page is not the verifier's verdict (%v): %s at %s", err, text, b.currentURL())
		}
		got := withCase(s.verifier.since(markV), "resigned")
		if len(got) != 1 {
			t.Fatalf("the page reached Bamboo %d times", len(got))
		}
		checkResigned(t, "the browser on Bamboo", &v, got[0], "alice")
	})

	t.Run("without a login, to the sign-in and never the product", func(t *testing.T) {
		markP, markV := s.product.Mark(), s.verifier.mark()
		for _, site := range []string{s.jira, s.bamboo} {
			for _, spoof := range [][]string{nil, {"X-Forwarded-User", "admin"}, {"X-Auth-Request-User", "admin"}} {
				target := "/rest/api/2/myself?case=anonymous"
				resp, _ := do(t, newClient(false), testkit.NewRequest(t, "GET", site+target, "", "", spoof...))
				checkSignInRedirect(t, resp, site, target)
			}
		}
		if got := s.product.Since(markP); len(got) != 0 {
			t.Errorf("anonymous browsers reached Jira: %v", got)
		}
		if got := s.verifier.since(markV); len(got) != 0 {
			t.Errorf("anonymous browsers reached Bamboo: %v", got)
		}
	})

	t.Run("a logged-in browser's own identity header never gets through", func(t *testing.T) {
		c := s.loggedIn(t, "bob")
		spoofs := []string{"X-Forwarded-User", "admin", "X_Forwarded_User", "admin", "x-forwarded-user", "root",
			"X-Auth-Request-User", "admin"}
		markP := s.product.Mark()
		resp, body := do(t, c, testkit.NewRequest(t, "GET", s.jira+"/rest/api/2/myself?case=spoof", "", "", spoofs...))
		reached := find(s.product, markP, "spoof")
		if resp.StatusCode != 200 || body != "user=bob" || len(reached) != 1 {
			t.Fatalf("bob with spoofed headers: %s %q, reached the product %d times", resp.Status, body, len(reached))
		}
		if ids := identities(reached[0].Header); len(ids) != 1 || ids[0] != "X-Forwarded-User=bob" {
			t.Errorf("the product got identity headers %v, want exactly X-Forwarded-User=bob", ids)
		}

		markV := s.verifier.mark()
		resp, body = do(t, c, testkit.NewRequest(t, "GET", s.bamboo+"/rest/api/latest/currentUser?case=spoof", "", "", spoofs...))
		got := s.verifier.since(markV)
		if resp.StatusCode != 200 || len(got) != 1 {
			t.Fatalf("bob on Bamboo with spoofed headers: %s %q, reached Bamboo %d times", resp.Status, body, len(got))
		}
		checkResigned(t, "bob on Bamboo", verdictOf(resp, body), got[0], "bob")
	})

	t.Run("linked apps: verified without SSO, refused before it", func(t *testing.T) {
		markA := s.oauth2.mark()
		// (a) Bamboo calls Jira: 2LO as its execute-as user, impersonation
		// as alice (with a spoofed header beside the signature).
		for _, c := range []struct {
			name, user, want string
			mode             signer.Mode
		}{
			{"link-2lo", "", "svc-bamboo", signer.Mode2LO},
			{"link-impersonation", "alice", "alice", signer.ModeImpersonation},
		} {
			markP := s.product.Mark()
			req := testkit.NewRequest(t, "GET", s.jira+"/rest/api/2/myself?case="+c.name, "", "", "X-Forwarded-User", "admin")
			s.sign(t, req, ssoBambooKey, s.jira, c.mode, c.user)
			replay := req.Clone(req.Context())
			resp, body := do(t, s.tester, req)
			reached := find(s.product, markP, c.name)
			if resp.StatusCode != 200 || body != "user="+c.want || len(reached) != 1 {
				t.Errorf("%s: %s %q %s, reached the product %d times; want it as %s", c.name, resp.Status, body,
					resp.Header.Get("WWW-Authenticate"), len(reached), c.want)
			} else if ids := identities(reached[0].Header); len(ids) != 1 || ids[0] != "X-Forwarded-User="+c.want {
				t.Errorf("%s: the product got identity headers %v", c.name, ids)
			}
			// The same request again: applink's nonce_used, nowhere else.
			resp, _ = do(t, s.tester, replay)
			if resp.StatusCode != 401 || problemOf(resp) != "nonce_used" || resp.Header.Get("X-Applink-Verifier") != "caddy-applink" {
				t.Errorf("%s replayed: %s %q, want applink's 401 nonce_used", c.name, resp.Status, resp.Header.Get("WWW-Authenticate"))
			}
			if got := find(s.product, markP, c.name); len(got) != 1 {
				t.Errorf("%s: reached the product %d times, want once (the replay never)", c.name, len(got))
			}
		}

		// (b) Jira calls Bamboo: verified here, re-signed with the proxy's key.
		for _, c := range []struct {
			name, user, want string
			mode             signer.Mode
		}{
			{"link-2lo", "", "svc-jira", signer.Mode2LO},
			{"link-impersonation", "alice", "alice", signer.ModeImpersonation},
		} {
			markV := s.verifier.mark()
			req := testkit.NewRequest(t, "GET", s.bamboo+"/rest/api/latest/result?case="+c.name, "", "", "X-Forwarded-User", "admin")
			s.sign(t, req, ssoJiraKey, s.bamboo, c.mode, c.user)
			resp, body := do(t, s.tester, req)
			got := s.verifier.since(markV)
			if resp.StatusCode != 200 || len(got) != 1 {
				t.Errorf("Jira's %s on Bamboo: %s %q %s, reached Bamboo %d times", c.name, resp.Status, body,
					resp.Header.Get("WWW-Authenticate"), len(got))
				continue
			}
			checkResigned(t, "Jira's "+c.name+" on Bamboo", verdictOf(resp, body), got[0], c.want)
		}
		if got := s.oauth2.since(markA); len(got) != 0 {
			t.Errorf("verified link requests were sent to oauth2-proxy: %v", got)
		}

		// A bad signature: applink's 401 signature_invalid, sent neither to
		// the SSO nor to the product, on either site.
		markP, markV := s.product.Mark(), s.verifier.mark()
		markA = s.oauth2.mark()
		for _, site := range []struct{ base, consumer string }{{s.jira, ssoBambooKey}, {s.bamboo, ssoJiraKey}} {
			req := testkit.NewRequest(t, "GET", site.base+"/rest/api/2/myself?case=forged&xoauth_requestor_id=admin", "", "")
			s.sign(t, req, site.consumer, site.base, signer.Mode2LO, "")
			auth := req.Header.Get("Authorization")
			i := strings.Index(auth, `oauth_signature="`) + len(`oauth_signature="`)
			c := byte('A')
			if auth[i] == 'A' {
				c = 'B'
			}
			req.Header.Set("Authorization", auth[:i]+string(c)+auth[i+1:])
			resp, body := do(t, s.tester, req)
			if resp.StatusCode != 401 || problemOf(resp) != "signature_invalid" || resp.Header.Get("X-Applink-Verifier") != "caddy-applink" {
				t.Errorf("forged signature on %s: %s %q %q, want applink's 401 signature_invalid", site.base, resp.Status,
					resp.Header.Get("WWW-Authenticate"), body)
			}
		}
		if got := s.product.Since(markP); len(got) != 0 {
			t.Errorf("a forged request reached Jira: %v", got)
		}
		if got := s.verifier.since(markV); len(got) != 0 {
			t.Errorf("a forged request reached Bamboo: %v", got)
		}
		if got := s.oauth2.since(markA); len(got) != 0 {
			t.Errorf("refused link requests were sent to oauth2-proxy: %v", got)
		}
	})

	t.Run("3LO: a user approves a linked app after the SSO login", func(t *testing.T) {
		// The approval page is applink's (before forward_auth): its `login
		// upstream` asks oauth2-proxy's /oauth2/userinfo who the session
		// is, and sends a browser without one through the SSO login.
		requireChromium(t)
		b := startChromedriver(t).newBrowser(t)
		app := &dghubble.Config{
			ConsumerKey: ssoBambooKey,
			CallbackURL: "oob",
			Endpoint: dghubble.Endpoint{
				RequestTokenURL: s.jira + requestTokenPath,
				AuthorizeURL:    s.jira + authorizePath,
				AccessTokenURL:  s.jira + accessTokenPath,
			},
			Signer:     &dghubble.RSASigner{PrivateKey: s.appKey},
			HTTPClient: newClient(false),
		}
		token, secret, err := app.RequestToken()
		if err != nil {
			t.Fatalf("request token: %v", err)
		}
		authURL, _ := app.AuthorizationURL(token)
		b.open(authURL.String())
		user := b.waitFor(testsso.UsernameSelector, 10*time.Second)
		b.typeInto(user, "bob")
		b.typeInto(b.waitFor(testsso.PasswordSelector, time.Second), "bob-password")
		b.click(b.waitFor(testsso.SubmitSelector, time.Second))
		allow := b.waitFor("button#allow", 10*time.Second)
		if u, _ := url.Parse(b.currentURL()); u.Path != authorizePath || u.Query().Get("oauth_token") != token {
			t.Errorf("after the SSO login the browser is at %s, want the approval page", u)
		}
		if got := b.textOf("#user"); got != "bob" {
			t.Errorf("the approval page names %q, want bob, the SSO session's user", got)
		}
		b.click(allow)
		verifier := b.textOf("code#verifier")
		access, accessSecret, err := app.AccessToken(token, secret, verifier)
		if err != nil {
			t.Fatalf("access token: %v", err)
		}
		api := app.Client(context.WithValue(context.Background(), dghubble.HTTPClient, newClient(false)), dghubble.NewToken(access, accessSecret))
		api.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		markP, markA := s.product.Mark(), s.oauth2.mark()
		resp, body := do(t, api, mustRequest(t, http.MethodGet, s.jira+"/rest/api/2/myself?case=3lo", nil))
		if resp.StatusCode != 200 || body != "user=bob" {
			t.Errorf("the linked app's 3LO request: %s %q, want 200 as bob", resp.Status, body)
		}
		if got := find(s.product, markP, "3lo"); len(got) != 1 || strings.Join(identities(got[0].Header), ",") != "X-Forwarded-User=bob" {
			t.Errorf("Jira got %v, want one request as bob", got)
		}
		if n := authCalls(s.oauth2.since(markA)); n != 0 {
			t.Errorf("the signed 3LO request was sent to oauth2-proxy's /oauth2/auth %d times", n)
		}
	})
	t.Logf("done in %s", time.Since(start).Round(time.Millisecond))
}

// TestSSODemoSignedRequests runs examples/sso/demo.Caddyfile (the
// production file and its stand-ins, on free ports) and sends it what its
// README shows for linked apps, which need no SSO: Bamboo's impersonation
// reaches the stand-in Jira as alice, and Jira's 2LO reaches the stand-in
// Bamboo re-signed by the proxy's demo key, which that stand-in's own
// applink handler verifies.
func TestSSODemoSignedRequests(t *testing.T) {
	root, _ := filepath.Abs("../..")
	prod, err := os.ReadFile(filepath.Join(root, "examples", "sso", "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	demo, err := os.ReadFile(filepath.Join(root, "examples", "sso", "demo.Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(demo), "import Caddyfile\n", string(prod), 1)
	if cfg == string(demo) {
		t.Fatal("demo.Caddyfile no longer imports the production Caddyfile")
	}
	keys := filepath.Join(root, "examples", "keys")
	ports := testkit.FreePorts(4)
	cfg = strings.NewReplacer("examples/keys/", keys+"/",
		":8100", fmt.Sprintf(":%d", ports[0]), ":8101", fmt.Sprintf(":%d", ports[1]),
		":8102", fmt.Sprintf(":%d", ports[2]), ":8103", fmt.Sprintf(":%d", ports[3])).Replace(cfg)
	jira, bamboo := fmt.Sprintf("http://localhost:%d", ports[0]), fmt.Sprintf("http://localhost:%d", ports[2])
	t.Setenv("APPLINK_ADMIN", fmt.Sprintf("localhost:%d", adminPort))
	t.Setenv("APPLINK_STATE_FILE", filepath.Join(t.TempDir(), "state.db"))
	tester := loadCaddy(t, cfg)
	testkit.WaitNextSecond() // the stand-in Bamboo's in-memory nonces
	key, err := rsakey.LoadPrivate(filepath.Join(keys, "demo-consumer.pem"))
	if err != nil {
		t.Fatal(err)
	}
	s := &ssoSetup{appKey: key}
	for _, c := range []struct {
		site, consumer, user, target, want string
	}{
		{jira, ssoBambooKey, "alice", "/rest/api/2/myself", `{"name":"alice","uri":"/rest/api/2/myself"}`},
		{bamboo, ssoJiraKey, "", "/rest/api/latest/result",
			`{"name":"svc-jira","mode":"2lo-impersonation","consumer":"` + ssoProxyKey + `","uri":"/rest/api/latest/result"}`},
	} {
		req := testkit.NewRequest(t, "GET", c.site+c.target, "", "", "X-Forwarded-User", "admin")
		mode := signer.Mode2LO
		if c.user != "" {
			mode = signer.ModeImpersonation
		}
		s.sign(t, req, c.consumer, c.site, mode, c.user)
		resp, body := do(t, tester.Client, req)
		if resp.StatusCode != 200 || strings.TrimSpace(body) != c.want {
			t.Errorf("%s on %s: %s %q %q, want %s", c.consumer, c.site, resp.Status, resp.Header.Get("WWW-Authenticate"), body, c.want)
		}
	}
}

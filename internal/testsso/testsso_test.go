//go:build linux

package testsso

import (
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

var shared = &Shared{}

func TestMain(m *testing.M) {
	code := m.Run()
	shared.Stop()
	os.Exit(code)
}

func newClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

func auth(t *testing.T, c *http.Client, srv *Server) *http.Response {
	t.Helper()
	resp, err := c.Get(srv.AuthURL())
	if err != nil {
		t.Fatalf("GET /oauth2/auth: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// TestLoginFlow walks the flow a browser takes, hop by hop, without
// following redirects: /oauth2/start to the issuer's login page, its
// form, the issuer's redirect to /oauth2/callback, and the session cookie
// that /oauth2/auth then accepts with the user's headers.
func TestLoginFlow(t *testing.T) {
	srv := shared.Need(t)
	c := newClient(t)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	alice, _ := srv.User("alice")

	if resp := auth(t, c, srv); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/oauth2/auth without a cookie: %s, want 401", resp.Status)
	}

	// hop follows one redirect of resp, which must point at a URL starting
	// with prefix.
	hop := func(resp *http.Response, prefix string) *http.Response {
		t.Helper()
		if resp.StatusCode/100 != 3 {
			t.Fatalf("%s %s: %s, want a redirect\n%s", resp.Request.Method, resp.Request.URL, resp.Status, srv.Log())
		}
		loc, err := resp.Location()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(loc.String(), prefix) {
			t.Fatalf("%s redirects to %s, want %s...", resp.Request.URL, loc, prefix)
		}
		next, err := c.Get(loc.String())
		if err != nil {
			t.Fatal(err)
		}
		return next
	}
	start, err := c.Get(srv.StartURL("/"))
	if err != nil {
		t.Fatal(err)
	}
	start.Body.Close()
	// oauth2-proxy sends the browser to the issuer's authorization
	// endpoint, which sends it on to the login page.
	authz := hop(start, srv.IssuerURL+"auth?")
	authz.Body.Close()
	page := hop(authz, srv.IssuerURL+"login/username?authRequestID=")
	b, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != http.StatusOK {
		t.Fatalf("login page: %s", page.Status)
	}
	for _, want := range []string{`id="username"`, `id="password"`, `type="password"`, `<button type="submit">`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("login page lacks %s (the selectors doc.go names):\n%s", want, b)
		}
	}
	form, err := ParseForm(page.Request.URL, string(b))
	if err != nil {
		t.Fatal(err)
	}
	if form.Method != http.MethodPost || form.Action.String() != srv.IssuerURL+"login/username" || form.Fields.Get("id") == "" {
		t.Fatalf("login form %s %s %v", form.Method, form.Action, form.Fields)
	}
	posted, err := form.Submit(c, map[string]string{"username": alice.Username, "password": alice.Password})
	if err != nil {
		t.Fatal(err)
	}
	posted.Body.Close()
	// The issuer's callback, then oauth2-proxy's, which sets the cookie
	// and redirects to rd.
	cb := hop(posted, srv.IssuerURL+"auth/callback?id=")
	cb.Body.Close()
	done := hop(cb, srv.RedirectURL+"?")
	done.Body.Close()
	if loc := done.Header.Get("Location"); done.StatusCode != http.StatusFound || loc != "/" {
		t.Fatalf("/oauth2/callback: %s to %q, want 302 to /\n%s", done.Status, loc, srv.Log())
	}
	proxyURL, _ := url.Parse(srv.ProxyURL)
	var session *http.Cookie
	for _, ck := range c.Jar.Cookies(proxyURL) {
		if ck.Name == srv.CookieName {
			session = ck
		}
	}
	if session == nil {
		t.Fatalf("no %s cookie after the callback; Set-Cookie %q", srv.CookieName, done.Header.Values("Set-Cookie"))
	}

	resp := auth(t, c, srv)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("/oauth2/auth with the cookie: %s, want 202\n%s", resp.Status, srv.Log())
	}
	for h, want := range map[string]string{HeaderUser: alice.ID, HeaderEmail: alice.Email, HeaderPreferredUsername: alice.Username} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}

	// The cookie alone, in a client of its own, as Caddy's forward_auth
	// passes it on.
	req, _ := http.NewRequest(http.MethodGet, srv.AuthURL(), nil)
	req.AddCookie(session)
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusAccepted || r2.Header.Get(HeaderUser) != alice.ID {
		t.Errorf("/oauth2/auth with the cookie only: %s, user %q", r2.Status, r2.Header.Get(HeaderUser))
	}
}

// TestLogin checks the Login helper (redirects followed by the client):
// it ends at rd, which oauth2-proxy's static upstream answers with 202
// for a signed-in user.
func TestLogin(t *testing.T) {
	srv := shared.Need(t)
	c := newClient(t)
	bob, _ := srv.User("bob")
	resp, _, err := Login(c, srv.StartURL("/after-login"), bob.Username, bob.Password)
	if err != nil {
		t.Fatalf("%v\n%s", err, srv.Log())
	}
	if resp.StatusCode != http.StatusAccepted || resp.Request.URL.String() != srv.ProxyURL+"/after-login" {
		t.Fatalf("login ended at %s with %s", resp.Request.URL, resp.Status)
	}
	a := auth(t, c, srv)
	if a.StatusCode != http.StatusAccepted || a.Header.Get(HeaderUser) != bob.ID || a.Header.Get(HeaderEmail) != bob.Email {
		t.Fatalf("/oauth2/auth: %s, user %q, email %q", a.Status, a.Header.Get(HeaderUser), a.Header.Get(HeaderEmail))
	}
}

// TestWrongPassword: the issuer shows its login page again, and there is
// no session.
func TestWrongPassword(t *testing.T) {
	srv := shared.Need(t)
	c := newClient(t)
	_, body, err := Login(c, srv.StartURL("/"), "alice", "not-her-password")
	if !errors.Is(err, ErrLoginRejected) {
		t.Fatalf("Login with a wrong password: %v", err)
	}
	if !strings.Contains(body, "username or password wrong") {
		t.Errorf("the login page again, with the error? %.500s", body)
	}
	if a := auth(t, c, srv); a.StatusCode != http.StatusUnauthorized {
		t.Errorf("/oauth2/auth after a failed login: %s, want 401", a.Status)
	}
}

// TestAbsoluteRedirect: an rd naming the redirect URL's host (the Caddy
// site, in the e2e test) is whitelisted by default; another host is not.
func TestAbsoluteRedirect(t *testing.T) {
	srv := shared.Need(t)
	c := newClient(t)
	alice, _ := srv.User("alice")
	resp, _, err := Login(c, srv.StartURL(srv.ProxyURL+"/deep/link?x=1"), alice.Username, alice.Password)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Request.URL.String(); got != srv.ProxyURL+"/deep/link?x=1" {
		t.Errorf("ended at %s", got)
	}
	c2 := newClient(t)
	resp, _, err = Login(c2, srv.StartURL("http://elsewhere.example/"), alice.Username, alice.Password)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Request.URL.String(); got != srv.ProxyURL+"/" {
		t.Errorf("a foreign rd ended at %s, want oauth2-proxy's /", got)
	}
}

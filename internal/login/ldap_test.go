//go:build linux

package login

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const testPrefix = "/plugins/servlet/applink/login"

// handlerOf serves a source's endpoints, and 404 for anything else.
func handlerOf(s Source) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.Handle(w, r) {
			http.NotFound(w, r)
		}
	})
}

func newTestSessions(t *testing.T) *Sessions {
	t.Helper()
	s, err := NewSessions(testKey, time.Hour, true)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// directConfig binds uid={user},ou=people,... directly.
func directConfig(t *testing.T, s *slapd) LDAPConfig {
	return LDAPConfig{
		URL:            s.url,
		UserDNTemplate: "uid={user}," + peopleDN,
		Timeout:        3 * time.Second,
		Sessions:       newTestSessions(t),
		Prefix:         testPrefix,
		Title:          "Jira <Test>",
	}
}

// searchConfig searches the whole suffix as the reader account, admitting
// only employeeType=jira.
func searchConfig(t *testing.T, s *slapd) LDAPConfig {
	return LDAPConfig{
		URL:          s.url,
		SearchBase:   testSuffix,
		SearchFilter: "(&(objectClass=inetOrgPerson)(employeeType=jira)(uid={user}))",
		BindDN:       readerDN,
		BindPassword: readerPW,
		Timeout:      3 * time.Second,
		Sessions:     newTestSessions(t),
		Prefix:       testPrefix,
	}
}

func mustLDAP(t *testing.T, cfg LDAPConfig) *LDAP {
	t.Helper()
	l, err := NewLDAP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// login fetches the form (as a browser would), then posts it.
func (b *browser) login(user, password, returnTo string) *httptest.ResponseRecorder {
	b.t.Helper()
	page := b.get(testPrefix + "?return=" + url.QueryEscape(returnTo))
	if page.Code != http.StatusOK {
		b.t.Fatalf("login form: %d", page.Code)
	}
	body := page.Body.String()
	return b.post(testPrefix, url.Values{
		"csrf":     {field(b.t, csrfField, body)},
		"return":   {field(b.t, returnField, body)},
		"username": {user},
		"password": {password},
	})
}

func (b *browser) user(l *LDAP) string {
	b.t.Helper()
	u, err := l.User(b.request(http.MethodGet, "/plugins/servlet/oauth/authorize", nil))
	if err != nil {
		b.t.Fatalf("User: %v", err)
	}
	return u
}

// bothWays runs f as a subtest with each way LDAP logs in: binding as the
// DN of a template ("direct"), and searching for the user first ("search").
func bothWays(t *testing.T, f func(t *testing.T, l *LDAP)) {
	s := needSlapd(t)
	for name, cfg := range map[string]LDAPConfig{"direct": directConfig(t, s), "search": searchConfig(t, s)} {
		t.Run(name, func(t *testing.T) { f(t, mustLDAP(t, cfg)) })
	}
}

func TestLDAPLoginSucceeds(t *testing.T) {
	bothWays(t, func(t *testing.T, l *LDAP) {
		b := newBrowser(t, handlerOf(l))
		if u := b.user(l); u != "" {
			t.Fatalf("before login: user %q", u)
		}
		ret := "/plugins/servlet/oauth/authorize?oauth_token=abc%2Bdef&x=1"
		w := b.login("alice", "alice-pw", ret)
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != ret {
			t.Fatalf("login: %d Location %q, want 303 to %q\n%s", w.Code, w.Header().Get("Location"), ret, w.Body)
		}
		var sc *http.Cookie
		for _, c := range w.Result().Cookies() {
			if c.Name == SessionCookie {
				sc = c
			}
		}
		if sc == nil || !sc.HttpOnly || !sc.Secure || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" || sc.MaxAge != 3600 {
			t.Fatalf("session cookie %+v", sc)
		}
		if u := b.user(l); u != "alice" {
			t.Fatalf("after login: user %q, want alice", u)
		}
	})
}

func TestLDAPCanonicalName(t *testing.T) {
	bothWays(t, func(t *testing.T, l *LDAP) {
		got, err := l.Authenticate(context.Background(), "ALICE", "alice-pw")
		if err != nil || got != "alice" {
			t.Fatalf("Authenticate(ALICE) = %q, %v; want the directory's uid, alice", got, err)
		}
	})
}

func TestLDAPWrongPasswordAndUnknownUser(t *testing.T) {
	bothWays(t, func(t *testing.T, l *LDAP) {
		b := newBrowser(t, handlerOf(l))
		wrong := b.login("alice", "bob-pw", "/")
		unknown := b.login("nobody", "alice-pw", "/")
		for _, w := range []*httptest.ResponseRecorder{wrong, unknown} {
			if w.Code != http.StatusForbidden {
				t.Fatalf("status %d, want 403", w.Code)
			}
			if _, ok := b.cookies[SessionCookie]; ok {
				t.Fatal("a session cookie after a failed login")
			}
		}
		// One generic message: nothing tells unknown users from wrong passwords.
		if e1, e2 := errorText(wrong.Body.String()), errorText(unknown.Body.String()); e1 == "" || e1 != e2 {
			t.Fatalf("error messages %q and %q, want the same generic one", e1, e2)
		}
		if _, err := l.Authenticate(context.Background(), "alice", "bob-pw"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("Authenticate: %v, want ErrBadCredentials", err)
		}
		if b.user(l) != "" {
			t.Fatal("logged in after failures")
		}
	})
}

// TestLDAPEmptyPassword: the slapd here accepts an unauthenticated bind
// (TestSlapdHarness proves it), so an empty password must be refused before
// any bind.
func TestLDAPEmptyPassword(t *testing.T) {
	bothWays(t, func(t *testing.T, l *LDAP) {
		b := newBrowser(t, handlerOf(l))
		for _, user := range []string{"alice", "nobody", ""} {
			w := b.login(user, "", "/")
			if w.Code != http.StatusForbidden || b.user(l) != "" {
				t.Fatalf("user %q, empty password: status %d, user %q", user, w.Code, b.user(l))
			}
		}
		// Without the password field at all.
		page := b.get(testPrefix).Body.String()
		w := b.post(testPrefix, url.Values{"csrf": {field(t, csrfField, page)}, "username": {"alice"}})
		if w.Code != http.StatusForbidden || b.user(l) != "" {
			t.Fatalf("no password field: status %d", w.Code)
		}
		if _, err := l.Authenticate(context.Background(), "alice", ""); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("Authenticate with an empty password: %v", err)
		}
	})
}

// refuseAll checks that every attempt is refused as bad credentials.
func refuseAll(t *testing.T, l *LDAP, attempts []struct{ user, password string }) {
	t.Helper()
	for _, a := range attempts {
		got, err := l.Authenticate(context.Background(), a.user, a.password)
		if err == nil {
			t.Errorf("Authenticate(%q) logged in as %q", a.user, got)
		} else if !errors.Is(err, ErrBadCredentials) {
			t.Errorf("Authenticate(%q): %v, want ErrBadCredentials", a.user, err)
		}
	}
}

// refusedFormLogin checks that the login form refuses user with password
// (403) and logs nobody in.
func refusedFormLogin(t *testing.T, l *LDAP, user, password string) {
	t.Helper()
	b := newBrowser(t, handlerOf(l))
	if w := b.login(user, password, "/"); w.Code != http.StatusForbidden || b.user(l) != "" {
		t.Fatalf("form: status %d user %q", w.Code, b.user(l))
	}
}

// TestLDAPDNInjection: with a DN template, the user name is one escaped
// attribute value. "o,brien" (a real uid with a comma) logs in only if the
// comma is escaped; names that try to add RDNs or values never log in as
// someone else.
func TestLDAPDNInjection(t *testing.T) {
	s := needSlapd(t)
	l := mustLDAP(t, directConfig(t, s))
	if got, err := l.Authenticate(context.Background(), "o,brien", "obrien-pw"); err != nil || got != "o,brien" {
		t.Fatalf(`Authenticate("o,brien") = %q, %v`, got, err)
	}
	attempts := []struct{ user, password string }{
		{"alice,ou=people", "alice-pw"},
		{"alice,ou=people,dc=example,dc=org", "alice-pw"},
		{"alice+uid=bob", "alice-pw"},
		{"alice+uid=bob", "bob-pw"},
		{"uid=alice," + peopleDN, "alice-pw"},
		{"alice\\", "alice-pw"},
		{"alice\\2c", "alice-pw"},
		{"#alice", "alice-pw"},
		{"*", "alice-pw"},
		{"alice;x", "alice-pw"},
		{"alice\x00", "alice-pw"},
		{"o", "obrien-pw"},
		{"o\\,brien", "obrien-pw"},
	}
	refuseAll(t, l, attempts)
	// Through the form too.
	refusedFormLogin(t, l, "alice,ou=people", "alice-pw")
}

// TestLDAPFilterInjection: the search filter admits employeeType=jira only;
// mallory (a contractor, whose password the attacker knows) must not get in
// by rewriting the filter, and wildcards must not match.
func TestLDAPFilterInjection(t *testing.T) {
	s := needSlapd(t)
	l := mustLDAP(t, searchConfig(t, s))
	if _, err := l.Authenticate(context.Background(), "mallory", "mallory-pw"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("mallory, not admitted by the filter: %v", err)
	}
	if got, err := l.Authenticate(context.Background(), "o,brien", "obrien-pw"); err != nil || got != "o,brien" {
		t.Fatalf(`"o,brien" = %q, %v`, got, err)
	}
	attempts := []struct{ user, password string }{
		{"mallory)(|(uid=mallory", "mallory-pw"},
		{"mallory)(employeeType=contractor", "mallory-pw"},
		{"*)(uid=mallory", "mallory-pw"},
		{"*)(uid=*", "alice-pw"},
		{"alice)(|(uid=*", "alice-pw"},
		{"ali*", "alice-pw"},
		{"*lice", "alice-pw"},
		{"*", "alice-pw"},
		{"alice\\", "alice-pw"},
		{"alice\x00", "alice-pw"},
		{"twin", "twin-pw"}, // two entries match: ambiguous, refused
	}
	refuseAll(t, l, attempts)
	refusedFormLogin(t, l, "mallory)(|(uid=mallory", "mallory-pw")
}

func TestLDAPOpenRedirect(t *testing.T) {
	s := needSlapd(t)
	l := mustLDAP(t, directConfig(t, s))
	for _, ret := range []string{
		"https://evil.example/",
		"//evil.example/x",
		"/\\evil.example/x",
		"\\\\evil.example",
		"/\t/evil.example",
		"/\n/evil.example",
		" //evil.example",
		"javascript:alert(1)",
		"evil.example/x",
		"http:/evil.example",
		"",
	} {
		b := newBrowser(t, handlerOf(l))
		page := b.get(testPrefix + "?return=" + url.QueryEscape(ret)).Body.String()
		if got := field(t, returnField, page); got != "/" {
			t.Errorf("return %q rendered as %q, want /", ret, got)
		}
		// Even when the hidden field is edited before posting.
		w := b.post(testPrefix, url.Values{"csrf": {field(t, csrfField, page)}, "return": {ret},
			"username": {"alice"}, "password": {"alice-pw"}})
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" {
			t.Errorf("return %q: %d Location %q, want 303 to /", ret, w.Code, w.Header().Get("Location"))
		}
	}
}

func TestLDAPCSRF(t *testing.T) {
	s := needSlapd(t)
	l := mustLDAP(t, directConfig(t, s))
	creds := func(csrf string) url.Values {
		v := url.Values{"return": {"/"}, "username": {"alice"}, "password": {"alice-pw"}}
		if csrf != "" {
			v.Set("csrf", csrf)
		}
		return v
	}
	check := func(name string, b *browser, w *httptest.ResponseRecorder) {
		t.Helper()
		if w.Code != http.StatusBadRequest || b.user(l) != "" {
			t.Errorf("%s: status %d, user %q; want 400 and no session", name, w.Code, b.user(l))
		}
		if name != "multipart" && !strings.Contains(w.Body.String(), "expired") {
			t.Errorf("%s: no 'expired' message", name)
		}
	}

	b := newBrowser(t, handlerOf(l))
	token := field(t, csrfField, b.get(testPrefix).Body.String())
	check("missing token", b, b.post(testPrefix, creds("")))
	check("wrong token", b, b.post(testPrefix, creds(strings.Repeat("A", len(token)))))
	check("garbage token", b, b.post(testPrefix, creds("not-a-token")))

	// A valid token, but for another browser's cookie.
	other := newBrowser(t, handlerOf(l))
	otherToken := field(t, csrfField, other.get(testPrefix).Body.String())
	check("another browser's token", b, b.post(testPrefix, creds(otherToken)))

	// The right token without its cookie (a cross-site post with no cookie).
	bare := newBrowser(t, handlerOf(l))
	check("no cookie", bare, bare.post(testPrefix, creds(token)))

	// A valid token for another purpose.
	check("logout token", b, b.post(testPrefix, creds(base64.RawURLEncoding.EncodeToString(l.csrf.mac(mustCookie(t, b), logoutPurpose+"\x00")))))

	// Credentials and token in the query string do not count.
	q := creds(token).Encode()
	check("query string", b, b.do(b.request(http.MethodPost, testPrefix+"?"+q, url.Values{})))

	// A multipart form is not read.
	r := b.request(http.MethodPost, testPrefix, nil)
	r.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	check("multipart", b, b.do(r))

	// And the right token works (so the failures above are the CSRF check's).
	if w := b.post(testPrefix, creds(token)); w.Code != http.StatusSeeOther || b.user(l) != "alice" {
		t.Fatalf("valid token: %d", w.Code)
	}
}

func mustCookie(t *testing.T, b *browser) []byte {
	raw, ok := decodeCSRFCookie(b.cookies[CSRFCookie])
	if !ok {
		t.Fatal("no CSRF cookie")
	}
	return raw
}

func TestLDAPRateLimit(t *testing.T) {
	s := needSlapd(t)
	cfg := directConfig(t, s)
	cfg.MaxFailures = 3
	cfg.FailureWindow = time.Minute
	var attempts []string
	cfg.OnAttempt = func(r *http.Request, user string, err error) {
		attempts = append(attempts, user+":"+strconv.FormatBool(err == nil))
	}
	l := mustLDAP(t, cfg)
	now := time.Now()
	l.limiter.now = func() time.Time { return now }
	b := newBrowser(t, handlerOf(l))
	for i := 0; i < 3; i++ {
		if w := b.login("alice", "wrong", "/"); w.Code != http.StatusForbidden {
			t.Fatalf("failure %d: %d", i, w.Code)
		}
	}
	w := b.login("Alice", "alice-pw", "/")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" || b.user(l) != "" {
		t.Fatalf("after 3 failures, the right password: %d (Retry-After %q), want 429", w.Code, w.Header().Get("Retry-After"))
	}
	// Another client address, or another user, is not blocked.
	b2 := newBrowser(t, handlerOf(l))
	b2.ip = "192.0.2.99"
	if w := b2.login("alice", "alice-pw", "/"); w.Code != http.StatusSeeOther {
		t.Fatalf("other IP: %d", w.Code)
	}
	if w := b.login("bob", "bob-pw", "/"); w.Code != http.StatusSeeOther {
		t.Fatalf("other user: %d", w.Code)
	}
	// The window ends.
	now = now.Add(61 * time.Second)
	b3 := newBrowser(t, handlerOf(l))
	if w := b3.login("alice", "alice-pw", "/"); w.Code != http.StatusSeeOther {
		t.Fatalf("after the window: %d", w.Code)
	}
	if len(attempts) != 7 || attempts[3] != "Alice:false" || attempts[6] != "alice:true" {
		t.Fatalf("OnAttempt saw %v", attempts)
	}
}

func TestLDAPSessionExpiryAndTampering(t *testing.T) {
	s := needSlapd(t)
	cfg := directConfig(t, s)
	l := mustLDAP(t, cfg)
	b := newBrowser(t, handlerOf(l))
	if w := b.login("bob", "bob-pw", "/"); w.Code != http.StatusSeeOther || b.user(l) != "bob" {
		t.Fatalf("login: %d", w.Code)
	}
	good := b.cookies[SessionCookie]

	// Tampered: every single-character change is refused.
	for i := 0; i < len(good); i++ {
		c := []byte(good)
		if c[i] == 'A' {
			c[i] = 'B'
		} else {
			c[i] = 'A'
		}
		b.cookies[SessionCookie] = string(c)
		if u := b.user(l); u != "" {
			t.Fatalf("cookie changed at %d accepted as %q", i, u)
		}
	}
	// Signed with another key.
	otherSessions, _ := NewSessions([]byte("another key, 32 bytes long......"), time.Hour, true)
	w := httptest.NewRecorder()
	_ = otherSessions.Issue(w, "bob")
	b.cookies[SessionCookie] = w.Result().Cookies()[0].Value
	if u := b.user(l); u != "" {
		t.Fatalf("a cookie of another key accepted as %q", u)
	}

	// Expired.
	b.cookies[SessionCookie] = good
	cfg.Sessions.now = func() time.Time { return time.Now().Add(time.Hour + time.Second) }
	if u := b.user(l); u != "" {
		t.Fatalf("expired session accepted as %q", u)
	}
	cfg.Sessions.now = time.Now
	if u := b.user(l); u != "bob" {
		t.Fatalf("the good cookie again: %q", u)
	}
}

func TestLDAPLogout(t *testing.T) {
	s := needSlapd(t)
	l := mustLDAP(t, directConfig(t, s))
	b := newBrowser(t, handlerOf(l))
	b.login("alice", "alice-pw", "/")
	stolen := b.cookies[SessionCookie]
	page := b.get(l.LogoutPath() + "?return=/secure/Dashboard.jspa")
	if page.Code != http.StatusOK || !strings.Contains(page.Body.String(), "<strong>alice</strong>") {
		t.Fatalf("logout page: %d\n%s", page.Code, page.Body)
	}
	// GET alone does not log out.
	if b.user(l) != "alice" {
		t.Fatal("GET logged out")
	}
	// POST without the token does not either.
	if w := b.post(l.LogoutPath(), url.Values{}); w.Code != http.StatusBadRequest || b.user(l) != "alice" {
		t.Fatalf("logout without token: %d", w.Code)
	}
	body := page.Body.String()
	w := b.post(l.LogoutPath(), url.Values{"csrf": {field(t, csrfField, body)}, "return": {field(t, returnField, body)}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/secure/Dashboard.jspa" {
		t.Fatalf("logout: %d %q", w.Code, w.Header().Get("Location"))
	}
	if b.user(l) != "" {
		t.Fatal("still logged in after logout")
	}
	// The old cookie, replayed, is dead too.
	b.cookies[SessionCookie] = stolen
	if u := b.user(l); u != "" {
		t.Fatalf("the cookie from before logout still works: %q", u)
	}
}

func TestLDAPDirectoryDown(t *testing.T) {
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	cfg := LDAPConfig{URL: "ldap://127.0.0.1:" + strconv.Itoa(port), UserDNTemplate: "uid={user}," + peopleDN,
		Timeout: time.Second, Sessions: newTestSessions(t), Prefix: testPrefix}
	l := mustLDAP(t, cfg)
	if _, err := l.Authenticate(context.Background(), "alice", "alice-pw"); err == nil || errors.Is(err, ErrBadCredentials) {
		t.Fatalf("directory down: %v, want a failure that is not bad credentials", err)
	}
	b := newBrowser(t, handlerOf(l))
	w := b.login("alice", "alice-pw", "/")
	if w.Code != http.StatusServiceUnavailable || b.user(l) != "" || !strings.Contains(w.Body.String(), "unavailable") {
		t.Fatalf("directory down: %d", w.Code)
	}
}

// TestLDAPSearchAccountWrongPassword: a broken service account is a
// directory failure (503), not a user's wrong password.
func TestLDAPSearchAccountWrongPassword(t *testing.T) {
	s := needSlapd(t)
	cfg := searchConfig(t, s)
	cfg.BindPassword = "wrong"
	l := mustLDAP(t, cfg)
	if _, err := l.Authenticate(context.Background(), "alice", "alice-pw"); err == nil || errors.Is(err, ErrBadCredentials) {
		t.Fatalf("got %v", err)
	}
}

func TestLDAPPages(t *testing.T) {
	s := needSlapd(t)
	l := mustLDAP(t, directConfig(t, s))
	b := newBrowser(t, handlerOf(l))
	w := b.get(testPrefix + "?return=" + url.QueryEscape(`/a?b="><script>alert(1)</script>`))
	h := w.Header()
	if h.Get("Content-Security-Policy") != ContentSecurityPolicy ||
		!strings.HasPrefix(ContentSecurityPolicy, "default-src 'none'; style-src 'self' 'unsafe-inline'; form-action 'self'") ||
		h.Get("X-Frame-Options") != "DENY" || h.Get("Cache-Control") != "no-store" ||
		h.Get("Content-Type") != "text/html; charset=utf-8" || h.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("headers %v", h)
	}
	body := w.Body.String()
	if strings.Contains(strings.ToLower(body), "<script") {
		t.Fatalf("a script in the page:\n%s", body)
	}
	if !strings.Contains(body, "Log in to Jira &lt;Test&gt;") || !strings.Contains(body, `action="`+testPrefix+`"`) ||
		!strings.Contains(body, `type="password"`) {
		t.Fatalf("page:\n%s", body)
	}
	// The typed user name comes back escaped after a failure.
	w = b.login(`"><script>x</script>`, "pw", "/")
	if w.Code != http.StatusForbidden || strings.Contains(strings.ToLower(w.Body.String()), "<script") ||
		!strings.Contains(w.Body.String(), `value="&#34;&gt;&lt;script&gt;x&lt;/script&gt;"`) {
		t.Fatalf("re-rendered form:\n%s", w.Body)
	}
	// Routes.
	if b.get("/elsewhere").Code != http.StatusNotFound {
		t.Fatal("Handle claimed another path")
	}
	r := b.request(http.MethodPut, testPrefix, nil)
	if w := b.do(r); w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("PUT: %d", w.Code)
	}
	// Challenge renders the same form, coming back to the given URL.
	cw := httptest.NewRecorder()
	l.Challenge(cw, b.request(http.MethodGet, "/plugins/servlet/oauth/authorize?oauth_token=t", nil), "/plugins/servlet/oauth/authorize?oauth_token=t")
	if cw.Code != http.StatusOK || field(t, returnField, cw.Body.String()) != "/plugins/servlet/oauth/authorize?oauth_token=t" {
		t.Fatalf("Challenge: %d\n%s", cw.Code, cw.Body)
	}
}

func TestLDAPConcurrentLogins(t *testing.T) {
	s := needSlapd(t)
	cfg := directConfig(t, s)
	cfg.MaxConcurrent = 2
	l := mustLDAP(t, cfg)
	var ok atomic.Int32
	done := make(chan struct{})
	for i := 0; i < 8; i++ {
		go func() {
			defer func() { done <- struct{}{} }()
			if u, err := l.Authenticate(context.Background(), "bob", "bob-pw"); err == nil && u == "bob" {
				ok.Add(1)
			}
		}()
	}
	for i := 0; i < 8; i++ {
		<-done
	}
	if ok.Load() != 8 {
		t.Fatalf("%d of 8 concurrent logins succeeded", ok.Load())
	}
}

// TestLDAPTLS: StartTLS and ldaps:// against slapd's self-signed
// certificate: trusted, they log in; untrusted, the login fails as a
// directory failure (503), never as a success.
func TestLDAPTLS(t *testing.T) {
	s := needSlapd(t)
	trusted := &tls.Config{RootCAs: s.ca}
	for _, c := range []struct {
		name     string
		url      string
		startTLS bool
		tls      *tls.Config
		ok       bool
	}{
		{"StartTLS", s.url, true, trusted, true},
		{"ldaps", s.tls, false, trusted, true},
		{"StartTLS untrusted", s.url, true, nil, false},
		{"ldaps untrusted", s.tls, false, nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := directConfig(t, s)
			cfg.URL, cfg.StartTLS, cfg.TLSConfig = c.url, c.startTLS, c.tls
			l := mustLDAP(t, cfg)
			if l.Plaintext() {
				t.Fatal("Plaintext() with TLS")
			}
			got, err := l.Authenticate(context.Background(), "alice", "alice-pw")
			if c.ok && (err != nil || got != "alice") {
				t.Fatalf("%q, %v", got, err)
			}
			if !c.ok && (err == nil || errors.Is(err, ErrBadCredentials)) {
				t.Fatalf("untrusted certificate: %q, %v", got, err)
			}
		})
	}
	if !mustLDAP(t, directConfig(t, s)).Plaintext() {
		t.Fatal("ldap:// without StartTLS not reported as plaintext")
	}
}

func TestLDAPConfigErrors(t *testing.T) {
	sess := newTestSessions(t)
	base := LDAPConfig{URL: "ldap://127.0.0.1:389", UserDNTemplate: "uid={user},dc=x", Sessions: sess, Prefix: testPrefix}
	for name, mutate := range map[string]func(*LDAPConfig){
		"bad scheme":            func(c *LDAPConfig) { c.URL = "http://x" },
		"no host":               func(c *LDAPConfig) { c.URL = "ldap://" },
		"ldaps with StartTLS":   func(c *LDAPConfig) { c.URL, c.StartTLS = "ldaps://x", true },
		"no mode":               func(c *LDAPConfig) { c.UserDNTemplate = "" },
		"both modes":            func(c *LDAPConfig) { c.SearchBase, c.SearchFilter = "dc=x", "(uid={user})" },
		"template without user": func(c *LDAPConfig) { c.UserDNTemplate = "uid=alice,dc=x" },
		"template not a DN":     func(c *LDAPConfig) { c.UserDNTemplate = "{user}" },
		"filter without user": func(c *LDAPConfig) {
			c.UserDNTemplate, c.SearchBase, c.SearchFilter = "", "dc=x", "(uid=alice)"
		},
		"filter not a filter": func(c *LDAPConfig) {
			c.UserDNTemplate, c.SearchBase, c.SearchFilter = "", "dc=x", "uid={user}))"
		},
		"search without base": func(c *LDAPConfig) { c.UserDNTemplate, c.SearchFilter = "", "(uid={user})" },
		"bind DN without password": func(c *LDAPConfig) {
			c.UserDNTemplate, c.SearchBase, c.SearchFilter, c.BindDN = "", "dc=x", "(uid={user})", "cn=reader,dc=x"
		},
		"no sessions":     func(c *LDAPConfig) { c.Sessions = nil },
		"relative prefix": func(c *LDAPConfig) { c.Prefix = "login" },
		"prefix //":       func(c *LDAPConfig) { c.Prefix = "//evil/login" },
	} {
		cfg := base
		mutate(&cfg)
		if _, err := NewLDAP(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewLDAP(base); err != nil {
		t.Fatalf("base config: %v", err)
	}
}

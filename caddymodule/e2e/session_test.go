//go:build linux

package e2e

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

const loginPath = "/plugins/servlet/applink/login"

var signedInAs = regexp.MustCompile(`<strong id="user">([^<]*)</strong>`)

// TestLogoutSurvivesReload: a user logs in with the `login ldap` form
// (real slapd), then logs out; the session cookie they had must stay dead,
// including after a config reload (sessions themselves survive reloads, so
// their end must too).
func TestLogoutSurvivesReload(t *testing.T) {
	directory := needSlapd(t)
	rec := newRecorder(t)
	config := func(extra string) proxyConfig {
		return proxyConfig{
			Login:   "login ldap " + directory.url + " {\n\t\t\tuser_dn \"" + ldapUserDN + "\"\n\t\t}",
			State:   "state memory",
			Applink: extra,
		}
	}
	loadProxy(t, rec, config(""))

	// whoIs opens the user's token page with nothing but the given session
	// cookie and returns who the proxy thinks is logged in ("" when it
	// shows the login form).
	whoIs := func(session string) string {
		t.Helper()
		req := mustRequest(t, http.MethodGet, proxyBase+userTokensPath, nil)
		req.AddCookie(&http.Cookie{Name: "applink_session", Value: session})
		resp, page := do(t, newClient(false), req)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("tokens page: %d %s", resp.StatusCode, page)
		}
		if m := signedInAs.FindStringSubmatch(page); m != nil {
			return html.UnescapeString(m[1])
		}
		if !strings.Contains(page, `name="password"`) {
			t.Fatalf("tokens page shows neither a user nor the login form:\n%s", page)
		}
		return ""
	}
	postForm := func(c *http.Client, path string, form url.Values) (*http.Response, string) {
		t.Helper()
		req := mustRequest(t, http.MethodPost, proxyBase+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return do(t, c, req)
	}
	csrfOf := func(page string) string {
		t.Helper()
		csrf := testkit.CSRF(page)
		if csrf == "" {
			t.Fatalf("no CSRF field:\n%s", page)
		}
		return html.UnescapeString(csrf)
	}

	// Log in, as the browser does.
	b := newClient(true)
	_, page := do(t, b, mustRequest(t, http.MethodGet, proxyBase+loginPath, nil))
	resp, page := postForm(b, loginPath, url.Values{"csrf": {csrfOf(page)}, "return": {userTokensPath},
		"username": {"alice"}, "password": {ldapUsers["alice"]}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != userTokensPath {
		t.Fatalf("login: %d %s %s", resp.StatusCode, resp.Header.Get("Location"), page)
	}
	var session string
	for _, c := range resp.Cookies() {
		if c.Name == "applink_session" {
			session = c.Value
		}
	}
	if session == "" || whoIs(session) != "alice" {
		t.Fatalf("no session for alice after login (cookie %q)", session)
	}

	// Log out: the cookie is ended.
	_, page = do(t, b, mustRequest(t, http.MethodGet, proxyBase+loginPath+"/logout", nil))
	resp, page = postForm(b, loginPath+"/logout", url.Values{"csrf": {csrfOf(page)}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "You are logged out") {
		t.Fatalf("logout: %d %s", resp.StatusCode, page)
	}
	if who := whoIs(session); who != "" {
		t.Fatalf("the ended session still logs in %q", who)
	}

	// A config reload keeps sessions (same key): it must keep their end too.
	reload(t, rec, config("timestamp_window 5m"))
	if who := whoIs(session); who != "" {
		t.Fatalf("after a config reload, a session cookie ended by logout logs in %q again: "+
			"login.Sessions keeps ended sessions in a per-instance map, and every Provision builds a new "+
			"Sessions with the same key (processKey or session_key), so reloads forget logouts", who)
	}
}

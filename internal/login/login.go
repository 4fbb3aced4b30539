// Package login answers "who is the browser's user?" for the pages of the
// 3-legged OAuth dance: the authorize page, where a logged-in user approves
// a request token, and the page where users list and revoke their own
// tokens.
//
// Three sources implement [Source]:
//
//   - [Header]: a header set by a single sign-on proxy in front, honoured
//     only from trusted proxies;
//   - [Upstream]: asks the product behind (Jira, Bamboo, Confluence,
//     Bitbucket) who is logged in, with the browser's own cookies;
//   - [LDAP]: a login form of its own that binds to an LDAP directory as the
//     user, then keeps the user in a signed session cookie ([Sessions]).
//
// [CSRF] gives the forms of those pages (and the login form) tokens bound to
// a per-browser cookie and to a purpose.
//
// The package imports nothing of Caddy: the Caddy glue constructs a source
// from its configuration and calls it.
package login

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
)

// Source finds out who the browser's user is.
type Source interface {
	// User returns the logged-in user for r, or "" when nobody is logged in.
	// An error means the source itself failed: the caller fails closed and
	// answers 503, and logs the error (it never contains a password or a
	// cookie).
	User(r *http.Request) (string, error)
	// Challenge answers a request whose user is unknown: it redirects to a
	// login page, renders a login form, or answers 401. returnTo is the
	// local URL (path and query) to come back to after login; a value that
	// is not a safe local path is replaced by "/".
	Challenge(w http.ResponseWriter, r *http.Request, returnTo string)
	// Handle serves the source's own endpoints (the LDAP login form POST and
	// logout) and reports whether it handled r. Sources without endpoints
	// return false.
	Handle(w http.ResponseWriter, r *http.Request) bool
}

// MaxUserLen is the longest user name any source returns, in characters:
// the project's one rule, oauth1.ValidUserName.
const MaxUserLen = oauth1.MaxUserNameLen

// validUser reports whether u can be handed on as a user name.
func validUser(u string) bool { return oauth1.ValidUserName(u) }

// maxReturnLen bounds a return URL; longer ones are refused.
const maxReturnLen = 4096

// LocalReturnTo returns s when it is a safe place to send the browser back
// to after login: a local absolute path (with an optional query), which a
// browser cannot read as another origin. Anything else gives ("", false):
// absolute URLs, scheme-relative "//host", "/\host" (browsers read a
// backslash as a slash), any backslash, control characters or spaces
// (browsers drop tabs and newlines, so "/\t/host" is "//host"), fragments
// and over-long values.
func LocalReturnTo(s string) (string, bool) {
	if s == "" || len(s) > maxReturnLen || s[0] != '/' {
		return "", false
	}
	if len(s) > 1 && (s[1] == '/' || s[1] == '\\') {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x20 || c == 0x7f || c == '\\' || c == '#' || c >= 0x80 {
			return "", false
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return "", false
	}
	// A percent-encoded path is fine for the browser ("/%2F%2Fhost" stays
	// on this origin), but a path that decodes to "//" is refused too, in
	// case something between here and the browser decodes it.
	if strings.HasPrefix(u.Path, "//") || strings.HasPrefix(u.Path, "/\\") {
		return "", false
	}
	return s, true
}

// safeReturnTo is LocalReturnTo with "/" for refused values.
func safeReturnTo(s string) string {
	if v, ok := LocalReturnTo(s); ok {
		return v
	}
	return "/"
}

// SetPageHeaders sets the headers every page of this package sends, for
// the approval and token pages to use as well: a Content-Security-Policy
// that allows no script, no framing, styles only from this origin or
// inline, and form posts only to this origin; no caching; no Referer (the
// URL may carry a request token); no content sniffing.
func SetPageHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
}

// ContentSecurityPolicy is the policy of every HTML page of this package.
// frame-ancestors 'none' is added to the policy of the brief: a login or
// approval page must never be framed (clickjacking).
const ContentSecurityPolicy = "default-src 'none'; style-src 'self' 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Own cookie names. StripOwnCookies removes them from a request.
const (
	SessionCookie = "applink_session"
	CSRFCookie    = "applink_csrf"
)

// StripOwnCookies removes this package's cookies (applink_session and
// applink_csrf) from the Cookie headers of h, keeping every other cookie
// (name and value unchanged, in order, in one Cookie header). The glue can call it before proxying a browser request
// upstream, and [Upstream] calls it on what it forwards: the product has no
// business seeing them.
func StripOwnCookies(h http.Header) {
	vals := h.Values("Cookie")
	if len(vals) == 0 {
		return
	}
	var kept []string
	for _, line := range vals {
		var parts []string
		for _, p := range strings.Split(line, ";") {
			name, _, _ := strings.Cut(strings.TrimSpace(p), "=")
			if name == SessionCookie || name == CSRFCookie {
				continue
			}
			if strings.TrimSpace(p) != "" {
				parts = append(parts, strings.TrimSpace(p))
			}
		}
		if len(parts) > 0 {
			kept = append(kept, strings.Join(parts, "; "))
		}
	}
	h.Del("Cookie")
	if len(kept) > 0 {
		h.Set("Cookie", strings.Join(kept, "; "))
	}
}

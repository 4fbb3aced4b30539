// Package pages renders the browser pages of the service provider: the
// approval page of the 3-legged dance and the user's own token list. Plain
// HTML from html/template, no script, one stylesheet in a <style> element
// (allowed by the Content-Security-Policy Apply sets), no secrets.
package pages

import (
	"embed"
	"html/template"
	"net/http"
	"time"
)

//go:embed *.html
var files embed.FS

var tmpl = template.Must(template.New("").Funcs(template.FuncMap{
	"date": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
}).ParseFS(files, "*.html"))

// Apply sets the headers every page gets: no caching, no framing
// (clickjacking the Allow button), no script at all.
func Apply(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", contentSecurityPolicy(nil))
}

// contentSecurityPolicy allows the page's own style and forms posting to
// the page's origin plus formOrigins: browsers apply form-action to the
// redirect that follows a POST, so the approval page must name the
// consumer's callback origin or the browser never gets back to it.
func contentSecurityPolicy(formOrigins []string) string {
	formAction := "'self'"
	for _, o := range formOrigins {
		formAction += " " + o
	}
	return "default-src 'none'; style-src 'unsafe-inline'; form-action " + formAction + "; frame-ancestors 'none'; base-uri 'none'"
}

// Approval is the data of the approval page.
type Approval struct {
	Product     string // e.g. "Jira at https://jira.example.com"
	Consumer    string // consumer name
	ConsumerKey string
	Description string
	User        string
	Action      string // form action (the authorize URL path)
	Token       string // the request token (not a secret: it is in the URL)
	Callback    string // OAuth 1.0 oauth_callback given to the page
	CSRF        string
	Expires     time.Time
	// FormOrigins are where the decision may redirect (the callback's
	// scheme://host[:port]); the CSP's form-action names them.
	FormOrigins []string
}

// Done is shown after a decision that has no callback to return to.
type Done struct {
	Product  string
	Consumer string
	Approved bool
	Verifier string // for "oob" 1.0a clients: the code to type in
}

// TokenRow is one token on the user's page.
type TokenRow struct {
	ID       string // store ID (a hash), used to revoke
	Consumer string
	Created  time.Time
	LastUsed time.Time
	Expires  time.Time
}

// Tokens is the data of the user's token page.
type Tokens struct {
	Product string
	User    string
	Action  string
	CSRF    string
	Rows    []TokenRow
	Revoked int
}

// Error is a page for browser-facing failures (unknown token, expired...).
type Error struct {
	Product string
	Title   string
	Message string
}

// Render writes one of the pages with status.
func Render(w http.ResponseWriter, status int, name string, data any) {
	Apply(w)
	if a, ok := data.(Approval); ok && len(a.FormOrigins) > 0 {
		w.Header().Set("Content-Security-Policy", contentSecurityPolicy(a.FormOrigins))
	}
	w.WriteHeader(status)
	_ = tmpl.ExecuteTemplate(w, name, data)
}

package consumer

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
)

func TestSafeRedirect(t *testing.T) {
	for s, want := range map[string]bool{
		"/":                             true,
		"/browse/ABC-1?focus=x#c":       true,
		"/a/../b":                       true,
		"":                              false,
		"//evil.example.com/x":          false,
		"/\\evil.example.com":           false,
		"https://evil.example.com/":     false,
		"javascript:alert(1)":           false,
		"relative/path":                 false,
		"/a\r\nSet-Cookie: x=y":         false,
		"/a\tb":                         false,
		"/" + strings.Repeat("a", 3000): false,
	} {
		if got := SafeRedirect(s); got != want {
			t.Errorf("SafeRedirect(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestDanceEndpoints drives the browser endpoints directly (the Caddy glue
// is tested end to end in caddydance).
func TestDanceEndpoints(t *testing.T) {
	_, r, l, _, tk := linked(t)
	base, _ := oauth1.ParseBaseURL("https://app.example.com/ctx")
	d := &Dance{Tokens: tk, Links: map[string]*Link{"jira": l}, BaseURL: base}
	authorize := "/ctx" + DanceAuthorizePath
	access := "/ctx" + DanceAccessPath
	if !d.Handles(authorize) || !d.Handles(access+"/") || d.Handles(DanceAuthorizePath) || d.Handles("/ctx/other") {
		t.Error("Handles")
	}
	serve := func(method, target, user string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		req := httptest.NewRequest(method, target, nil)
		req.Host = "evil.example.com" // never used for the callback
		d.Serve(w, req, user)
		return w
	}
	for _, c := range []struct {
		method, target, user string
		status               int
		text                 string
	}{
		{"POST", authorize + "?applicationLinkID=jira", "alice", 405, "GET"},
		{"GET", authorize, "alice", 400, "applicationLinkID"},
		{"GET", authorize + "?applicationLinkID=confluence", "alice", 404, "Unknown application link"},
		{"GET", authorize + "?applicationLinkID=jira", "", 401, "Log in"},
		{"GET", authorize + "?applicationLinkID=jira&redirectUrl=//evil.example.com", "alice", 400, "redirectUrl"},
		{"GET", access + "?applicationLinkID=jira", "alice", 400, "without an oauth_token"},
		{"GET", access + "?applicationLinkID=jira&oauth_token=x&oauth_verifier=y", "alice", 400, "does not belong"},
	} {
		w := serve(c.method, c.target, c.user)
		if w.Code != c.status || !strings.Contains(w.Body.String(), c.text) {
			t.Errorf("%s %s as %q: %d %s", c.method, c.target, c.user, w.Code, w.Body)
		}
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || w.Header().Get("Content-Security-Policy") == "" {
			t.Errorf("%s: page headers %v", c.target, w.Header())
		}
	}

	// The dance, with a return address.
	w := serve("GET", authorize+"?applicationLinkID=jira&redirectUrl="+url.QueryEscape("/browse/X-1?a=b"), "alice")
	loc, _ := url.Parse(w.Header().Get("Location"))
	if w.Code != 302 || loc.Host != "jira.example.com" || loc.Path != "/jira"+AuthorizePath {
		t.Fatalf("authorize: %d %s", w.Code, loc)
	}
	cb := loc.Query().Get("oauth_callback")
	wantCB := "https://app.example.com/ctx" + DanceAccessPath + "?applicationLinkID=jira&redirectUrl=%2Fbrowse%2FX-1%3Fa%3Db"
	if cb != wantCB {
		t.Errorf("callback %s, want %s", cb, wantCB)
	}
	tok := loc.Query().Get("oauth_token")
	v := r.approve(t, tok, "alice", true)
	w = serve("GET", strings.TrimPrefix(cb, "https://app.example.com")+"&oauth_token="+url.QueryEscape(tok)+"&oauth_verifier="+url.QueryEscape(v), "alice")
	if w.Code != 303 || w.Header().Get("Location") != "/browse/X-1?a=b" {
		t.Errorf("access: %d %s %s", w.Code, w.Header().Get("Location"), w.Body)
	}
	if s, err := tk.Get(t.Context(), l.Remote(), "alice"); err != nil || r.user(s.Token) != "alice" {
		t.Errorf("stored %v %v", s, err)
	}

	// Denied: a page, nothing stored. Without redirectUrl: a page too.
	w = serve("GET", authorize+"?applicationLinkID=jira", "bob")
	loc, _ = url.Parse(w.Header().Get("Location"))
	tok = loc.Query().Get("oauth_token")
	r.approve(t, tok, "bob", false)
	w = serve("GET", access+"?applicationLinkID=jira&oauth_token="+url.QueryEscape(tok)+"&oauth_verifier=denied", "bob")
	if w.Code != 403 || !strings.Contains(w.Body.String(), "Access denied") {
		t.Errorf("denied: %d %s", w.Code, w.Body)
	}
	if _, err := tk.Get(t.Context(), l.Remote(), "bob"); err == nil {
		t.Error("a token was stored for a denial")
	}
	w = serve("GET", authorize+"?applicationLinkID=jira", "bob")
	loc, _ = url.Parse(w.Header().Get("Location"))
	tok = loc.Query().Get("oauth_token")
	v = r.approve(t, tok, "bob", true)
	w = serve("GET", access+"?applicationLinkID=jira&redirectUrl=https://evil.example.com&oauth_token="+url.QueryEscape(tok)+"&oauth_verifier="+url.QueryEscape(v), "bob")
	if w.Code != 200 || !strings.Contains(w.Body.String(), "Access granted") {
		t.Errorf("granted with a tampered redirectUrl: %d %s", w.Code, w.Body)
	}

	// The remote refuses: a 502 page naming the problem.
	bad := *l
	bad.Signer = r.link(t, otherKey()).Signer
	d.Links["bad"] = &bad
	w = serve("GET", authorize+"?applicationLinkID=bad", "alice")
	if w.Code != 502 || !strings.Contains(w.Body.String(), "signature_invalid") {
		t.Errorf("refused: %d %s", w.Code, w.Body)
	}
}

package login

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// csrfRound gets a token for purpose with the request's cookies and
// returns the token and the cookie the browser holds afterwards.
func csrfRound(t *testing.T, c *CSRF, r *http.Request, purpose string) (string, *http.Cookie) {
	t.Helper()
	w := httptest.NewRecorder()
	tok := c.Token(w, r, purpose)
	for _, ck := range w.Result().Cookies() {
		if ck.Name == CSRFCookie {
			return tok, ck
		}
	}
	ck, err := r.Cookie(CSRFCookie)
	if err != nil {
		t.Fatal("no CSRF cookie set nor sent")
	}
	return tok, ck
}

func TestCSRFRoundTrip(t *testing.T) {
	c, err := NewCSRF(testKey, true)
	if err != nil {
		t.Fatal(err)
	}
	tok, ck := csrfRound(t, c, httptest.NewRequest(http.MethodGet, "/", nil), "authorize\x00alice\x00tok1")
	if !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" {
		t.Fatalf("cookie %+v", ck)
	}
	post := withCookies(ck)
	if !c.Check(post, "authorize\x00alice\x00tok1", tok) {
		t.Fatal("valid token refused")
	}
	for name, p := range map[string]string{
		"other purpose": "authorize\x00alice\x00tok2",
		"other user":    "authorize\x00bob\x00tok1",
		"prefix":        "authorize\x00alice\x00tok",
		"empty":         "",
	} {
		if c.Check(post, p, tok) {
			t.Errorf("%s: accepted", name)
		}
	}
	// Tampered tokens.
	for i := range tok {
		b := []byte(tok)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		if c.Check(post, "authorize\x00alice\x00tok1", string(b)) {
			t.Fatalf("token changed at %d accepted", i)
		}
	}
	for _, bad := range []string{"", "x", tok + "A", tok[:len(tok)-1], strings.Repeat("=", len(tok))} {
		if c.Check(post, "authorize\x00alice\x00tok1", bad) {
			t.Fatalf("%q accepted", bad)
		}
	}
	// No cookie, another cookie, a malformed cookie.
	if c.Check(httptest.NewRequest(http.MethodPost, "/", nil), "authorize\x00alice\x00tok1", tok) {
		t.Fatal("accepted without the cookie")
	}
	_, other := csrfRound(t, c, httptest.NewRequest(http.MethodGet, "/", nil), "x")
	if c.Check(withCookies(other), "authorize\x00alice\x00tok1", tok) {
		t.Fatal("accepted with another browser's cookie")
	}
	// Another key.
	c2, _ := NewCSRF([]byte("ANOTHER KEY, 32 bytes long......"), true)
	if c2.Check(post, "authorize\x00alice\x00tok1", tok) {
		t.Fatal("accepted under another key")
	}
	// A purpose is length-prefixed: no ambiguity between ("ab","c") and ("a","bc")-style splits.
	if string(c.mac([]byte("b"), "ax")) == string(c.mac([]byte("xb"), "a")) {
		t.Fatal("purpose and cookie run together")
	}
}

func TestCSRFCookieReuse(t *testing.T) {
	c, _ := NewCSRF(nil, false)
	// Twice in one response: one cookie, both tokens valid.
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	t1, t2 := c.Token(w, r, "a"), c.Token(w, r, "b")
	cs := w.Result().Cookies()
	if len(cs) != 1 {
		t.Fatalf("%d cookies set", len(cs))
	}
	if cs[0].Secure {
		t.Fatal("Secure without secureCookie")
	}
	if !c.Check(withCookies(cs[0]), "a", t1) || !c.Check(withCookies(cs[0]), "b", t2) {
		t.Fatal("tokens of one response do not both check")
	}
	// A browser that has the cookie keeps it, and gets the same token again.
	w2 := httptest.NewRecorder()
	if got := c.Token(w2, withCookies(cs[0]), "a"); got != t1 {
		t.Fatal("the token changed for the same cookie and purpose")
	}
	if len(w2.Result().Cookies()) != 0 {
		t.Fatal("a new cookie for a browser that has one")
	}
	// A malformed cookie is replaced.
	w3 := httptest.NewRecorder()
	c.Token(w3, withCookies(&http.Cookie{Name: CSRFCookie, Value: "short"}), "a")
	if len(w3.Result().Cookies()) != 1 {
		t.Fatal("malformed cookie not replaced")
	}
	if _, err := NewCSRF([]byte("short"), true); err == nil {
		t.Fatal("short key accepted")
	}
}

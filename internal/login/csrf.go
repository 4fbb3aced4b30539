package login

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"strings"
)

// CSRF makes and checks form tokens against cross-site request forgery
// (the "signed double-submit cookie" pattern). Each browser gets a random
// cookie, applink_csrf (HttpOnly, SameSite=Lax, Path=/, Secure when
// configured, ending with the browser session); a form token is an
// HMAC-SHA256, under the server's key, of that cookie and a purpose string.
// A token is valid only with the cookie it was made for and only for the
// same purpose.
//
// Make the purpose name the action, the logged-in user and the object acted
// on, e.g. "authorize\x00" + user + "\x00" + requestToken. Binding the user
// matters: someone who can plant a cookie in the victim's browser (a
// compromised sibling subdomain, or plain HTTP without HSTS) could get a
// token for that cookie from the server under their own name, but not under
// the victim's.
type CSRF struct {
	key       []byte
	secure    bool
	ephemeral bool
}

const csrfCookieBytes = 32

// NewCSRF returns a CSRF token maker. key must be empty (a random key:
// tokens then stop working when the process ends or the config is reloaded
// into a new CSRF; the user reloads the form) or at least MinKeyLen bytes;
// it may be the same key as the sessions' (sub-keys are derived).
// secureCookie sets the cookie's Secure attribute.
func NewCSRF(key []byte, secureCookie bool) (*CSRF, error) {
	root, eph, err := prepareKey(key, "csrf")
	if err != nil {
		return nil, err
	}
	return &CSRF{key: deriveKey(root, "csrf"), secure: secureCookie, ephemeral: eph}, nil
}

// Ephemeral reports whether the key was generated at random.
func (c *CSRF) Ephemeral() bool { return c.ephemeral }

// Token returns the form token for purpose, for the browser of r. It sets
// the applink_csrf cookie on w when r has no valid one (so call it before
// writing the header); calling it again for the same response reuses the
// cookie set the first time.
func (c *CSRF) Token(w http.ResponseWriter, r *http.Request, purpose string) string {
	cookie, ok := c.cookieSetIn(w.Header())
	if !ok {
		cookie, ok = c.requestCookie(r)
	}
	if !ok {
		raw := make([]byte, csrfCookieBytes)
		if _, err := rand.Read(raw); err != nil {
			panic("login: crypto/rand failed: " + err.Error())
		}
		cookie = raw
		http.SetCookie(w, &http.Cookie{
			Name:     CSRFCookie,
			Value:    base64.RawURLEncoding.EncodeToString(raw),
			Path:     "/",
			HttpOnly: true,
			Secure:   c.secure,
			SameSite: http.SameSiteLaxMode,
		})
	}
	return base64.RawURLEncoding.EncodeToString(c.mac(cookie, purpose))
}

// Check reports whether formToken is the token for purpose and r's
// applink_csrf cookie. It compares in constant time.
func (c *CSRF) Check(r *http.Request, purpose, formToken string) bool {
	if len(formToken) != base64.RawURLEncoding.EncodedLen(sha256.Size) {
		return false
	}
	got, err := b64.DecodeString(formToken)
	if err != nil {
		return false
	}
	ok := false
	for _, ck := range r.CookiesNamed(CSRFCookie) {
		raw, valid := decodeCSRFCookie(ck.Value)
		if valid && hmac.Equal(got, c.mac(raw, purpose)) {
			ok = true
		}
	}
	return ok
}

func (c *CSRF) mac(cookie []byte, purpose string) []byte {
	m := hmac.New(sha256.New, c.key)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(purpose)))
	m.Write(n[:])
	m.Write([]byte(purpose))
	m.Write(cookie)
	return m.Sum(nil)
}

func decodeCSRFCookie(v string) ([]byte, bool) {
	if len(v) != base64.RawURLEncoding.EncodedLen(csrfCookieBytes) {
		return nil, false
	}
	raw, err := b64.DecodeString(v)
	if err != nil || len(raw) != csrfCookieBytes {
		return nil, false
	}
	return raw, true
}

// requestCookie returns the first well-formed applink_csrf cookie of r.
func (c *CSRF) requestCookie(r *http.Request) ([]byte, bool) {
	for _, ck := range r.CookiesNamed(CSRFCookie) {
		if raw, ok := decodeCSRFCookie(ck.Value); ok {
			return raw, true
		}
	}
	return nil, false
}

// cookieSetIn finds an applink_csrf cookie already set on this response.
func (c *CSRF) cookieSetIn(h http.Header) ([]byte, bool) {
	for _, line := range h.Values("Set-Cookie") {
		if !strings.HasPrefix(line, CSRFCookie+"=") {
			continue
		}
		ck, err := http.ParseSetCookie(line)
		if err != nil {
			continue
		}
		if raw, ok := decodeCSRFCookie(ck.Value); ok {
			return raw, true
		}
	}
	return nil, false
}

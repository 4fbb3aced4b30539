package login

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Header is the source for a single sign-on proxy in front that puts the
// user in a request header (X-Remote-User, say). The header is believed
// only when trusted(r) is true: the glue passes Caddy's trusted-proxy check,
// and strips the header (every spelling of it) from other requests.
type Header struct {
	name    string
	trusted func(*http.Request) bool
}

// NewHeader returns the header source. trusted must not be nil: a header
// believed from anyone is a header anyone can set.
func NewHeader(name string, trusted func(*http.Request) bool) (*Header, error) {
	if name == "" || strings.ContainsAny(name, " \t\r\n:") {
		return nil, fmt.Errorf("login header: invalid header name %q", name)
	}
	if trusted == nil {
		return nil, errors.New("login header: a trusted-proxy check is required")
	}
	return &Header{name: http.CanonicalHeaderKey(name), trusted: trusted}, nil
}

// Name is the canonical header name.
func (h *Header) Name() string { return h.name }

// User returns the header's value on a request from a trusted proxy, ""
// otherwise or when the header is absent or empty. Several values, or a
// value that is not a valid user name (control characters, too long), are
// an error: the proxy in front is not doing what it should, so fail closed.
func (h *Header) User(r *http.Request) (string, error) {
	if !h.trusted(r) {
		return "", nil
	}
	vals := r.Header.Values(h.name)
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", fmt.Errorf("login header: %d %s headers from the trusted proxy", len(vals), h.name)
	}
	u := strings.TrimSpace(vals[0])
	if u == "" {
		return "", nil
	}
	if !validUser(u) {
		return "", fmt.Errorf("login header: %s from the trusted proxy is not a valid user name", h.name)
	}
	return u, nil
}

// Challenge answers 401 with a short text: nobody can log in here, the
// single sign-on in front should have identified the user.
func (h *Header) Challenge(w http.ResponseWriter, r *http.Request, returnTo string) {
	hd := w.Header()
	hd.Set("Content-Type", "text/plain; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = io.WriteString(w, "401 Unauthorized: the single sign-on in front of this server did not identify you.\n"+
		"Log in through it and open this page again.\n")
}

// Handle serves nothing.
func (h *Header) Handle(http.ResponseWriter, *http.Request) bool { return false }

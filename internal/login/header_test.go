package login

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHeader(t *testing.T) {
	fromProxy := func(r *http.Request) bool { return strings.HasPrefix(r.RemoteAddr, "10.0.0.1:") }
	h, err := NewHeader("x-remote-user", fromProxy)
	if err != nil {
		t.Fatal(err)
	}
	req := func(addr string, vals ...string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/plugins/servlet/oauth/authorize", nil)
		r.RemoteAddr = addr
		for _, v := range vals {
			r.Header.Add("X-Remote-User", v)
		}
		return r
	}
	cases := []struct {
		name    string
		r       *http.Request
		user    string
		wantErr bool
	}{
		{"trusted", req("10.0.0.1:5000", "alice"), "alice", false},
		{"trusted, spaces trimmed", req("10.0.0.1:5000", " alice "), "alice", false},
		{"untrusted: ignored", req("203.0.113.9:5000", "admin"), "", false},
		{"trusted, absent", req("10.0.0.1:5000"), "", false},
		{"trusted, empty", req("10.0.0.1:5000", ""), "", false},
		{"trusted, two values", req("10.0.0.1:5000", "alice", "admin"), "", true},
		{"trusted, control character", req("10.0.0.1:5000", "alice\x01"), "", true},
		{"trusted, too long", req("10.0.0.1:5000", strings.Repeat("a", MaxUserLen+1)), "", true},
	}
	for _, c := range cases {
		u, err := h.User(c.r)
		if u != c.user || (err != nil) != c.wantErr {
			t.Errorf("%s: %q, %v; want %q, error %v", c.name, u, err, c.user, c.wantErr)
		}
	}
	// An underscore spelling is another header: never read.
	r := req("10.0.0.1:5000")
	r.Header["X_Remote_User"] = []string{"admin"}
	if u, _ := h.User(r); u != "" {
		t.Fatalf("X_Remote_User read as %q", u)
	}

	w := httptest.NewRecorder()
	h.Challenge(w, req("203.0.113.9:5000"), "/x")
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "single sign-on") ||
		!strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("Challenge: %d %q", w.Code, w.Body)
	}
	if h.Handle(httptest.NewRecorder(), req("10.0.0.1:5000")) {
		t.Fatal("Handle claimed a request")
	}
	if h.Name() != "X-Remote-User" {
		t.Fatalf("Name %q", h.Name())
	}
	if _, err := NewHeader("X-Remote-User", nil); err == nil {
		t.Fatal("nil trusted accepted")
	}
	if _, err := NewHeader("X Remote", fromProxy); err == nil {
		t.Fatal("bad name accepted")
	}
}

// The sources satisfy the interface.
var (
	_ Source = (*Header)(nil)
	_ Source = (*Upstream)(nil)
	_ Source = (*LDAP)(nil)
)

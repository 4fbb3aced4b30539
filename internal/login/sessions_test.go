package login

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func issue(t *testing.T, s *Sessions, user string) *http.Cookie {
	t.Helper()
	w := httptest.NewRecorder()
	if err := s.Issue(w, user); err != nil {
		t.Fatal(err)
	}
	cs := w.Result().Cookies()
	if len(cs) != 1 || cs[0].Name != SessionCookie {
		t.Fatalf("cookies %v", cs)
	}
	return cs[0]
}

func withCookies(cs ...*http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range cs {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return r
}

func TestSessionsRoundTrip(t *testing.T) {
	s, err := NewSessions(testKey, 2*time.Hour, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{"alice", "o,brien", "Zoë Ünïcode", strings.Repeat("x", MaxUserLen)} {
		c := issue(t, s, user)
		if got := s.User(withCookies(c)); got != user {
			t.Fatalf("User = %q, want %q", got, user)
		}
		if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge != 7200 {
			t.Fatalf("cookie attributes %+v", c)
		}
	}
	// Another instance with the same key (a restart) reads it.
	s2, _ := NewSessions(testKey, time.Hour, true)
	if got := s2.User(withCookies(issue(t, s, "alice"))); got != "alice" {
		t.Fatalf("same key, new instance: %q", got)
	}
	// Not Secure when not configured.
	s3, _ := NewSessions(testKey, time.Hour, false)
	if issue(t, s3, "alice").Secure {
		t.Fatal("Secure without secureCookie")
	}
	if s.User(httptest.NewRequest(http.MethodGet, "/", nil)) != "" {
		t.Fatal("a user without a cookie")
	}
}

func TestSessionsRefuse(t *testing.T) {
	s, _ := NewSessions(testKey, time.Hour, true)
	c := issue(t, s, "alice")
	raw, _ := base64.RawURLEncoding.DecodeString(c.Value)

	// Every bit flipped anywhere (version, expiry, id, user, MAC) is refused.
	for i := range raw {
		for bit := 0; bit < 8; bit++ {
			m := bytes.Clone(raw)
			m[i] ^= 1 << bit
			v := base64.RawURLEncoding.EncodeToString(m)
			if u := s.User(withCookies(&http.Cookie{Name: SessionCookie, Value: v})); u != "" {
				t.Fatalf("byte %d bit %d flipped: accepted as %q", i, bit, u)
			}
		}
	}
	// Another user's name with the MAC of alice.
	forged := bytes.Clone(raw)
	copy(forged[1+8+sidLen:], "bobby")
	for _, v := range []string{
		base64.RawURLEncoding.EncodeToString(forged),
		base64.RawURLEncoding.EncodeToString(raw[:len(raw)-1]), // truncated MAC
		c.Value + "A",
		"", "x", "!!!!", strings.Repeat("A", 10000),
	} {
		if u := s.User(withCookies(&http.Cookie{Name: SessionCookie, Value: v})); u != "" {
			t.Fatalf("%q accepted as %q", v, u)
		}
	}
	// Another key.
	other, _ := NewSessions([]byte("ANOTHER KEY, 32 bytes long......"), time.Hour, true)
	if u := s.User(withCookies(issue(t, other, "alice"))); u != "" {
		t.Fatalf("a cookie of another key accepted as %q", u)
	}
	// The key derived for CSRF tokens is not the session key.
	if bytes.Equal(deriveKey(testKey, "session"), deriveKey(testKey, "csrf")) {
		t.Fatal("same sub-key")
	}
}

func TestSessionsExpiry(t *testing.T) {
	s, _ := NewSessions(testKey, time.Minute, true)
	now := time.Unix(1_800_000_000, 0)
	s.now = func() time.Time { return now }
	c := issue(t, s, "alice")
	now = now.Add(59 * time.Second)
	if s.User(withCookies(c)) != "alice" {
		t.Fatal("expired too early")
	}
	now = now.Add(time.Second)
	if u := s.User(withCookies(c)); u != "" {
		t.Fatalf("expired session accepted as %q", u)
	}
}

func TestSessionsEnd(t *testing.T) {
	s, _ := NewSessions(testKey, time.Hour, true)
	alice := issue(t, s, "alice")
	alice2 := issue(t, s, "alice") // another login, another session
	w := httptest.NewRecorder()
	s.End(w, withCookies(alice))
	cs := w.Result().Cookies()
	if len(cs) != 1 || cs[0].Name != SessionCookie || cs[0].MaxAge >= 0 || cs[0].Value != "" {
		t.Fatalf("End set %v", cs)
	}
	if u := s.User(withCookies(alice)); u != "" {
		t.Fatalf("ended session accepted as %q", u)
	}
	if u := s.User(withCookies(alice2)); u != "alice" {
		t.Fatalf("another session of the same user ended too: %q", u)
	}
}

func TestSessionsSeveralCookies(t *testing.T) {
	s, _ := NewSessions(testKey, time.Hour, true)
	alice, bob := issue(t, s, "alice"), issue(t, s, "bob")
	if u := s.User(withCookies(alice, bob)); u != "" {
		t.Fatalf("two users' cookies: %q", u)
	}
	bad := &http.Cookie{Name: SessionCookie, Value: "garbage"}
	if u := s.User(withCookies(bad, alice)); u != "alice" {
		t.Fatalf("garbage then alice: %q", u)
	}
}

func TestSessionsKeys(t *testing.T) {
	if _, err := NewSessions([]byte("short"), time.Hour, true); err == nil {
		t.Fatal("a 5-byte key accepted")
	}
	a, err := NewSessions(nil, 0, true)
	if err != nil || !a.Ephemeral() || a.TTL() != DefaultSessionTTL {
		t.Fatalf("random key: %v ephemeral %v ttl %v", err, a != nil && a.Ephemeral(), a.TTL())
	}
	b, _ := NewSessions(nil, 0, true)
	if u := b.User(withCookies(issue(t, a, "alice"))); u != "" {
		t.Fatal("two random keys agree")
	}
	k, _ := NewSessions(testKey, time.Hour, true)
	if k.Ephemeral() {
		t.Fatal("configured key reported ephemeral")
	}
	for _, bad := range []string{"", "a\nb", "a\x00", strings.Repeat("x", MaxUserLen+1)} {
		if err := k.Issue(httptest.NewRecorder(), bad); err == nil {
			t.Fatalf("Issue(%q) accepted", bad)
		}
	}
}

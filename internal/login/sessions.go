package login

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
)

// DefaultSessionTTL is the lifetime of a session when NewSessions is given
// none.
const DefaultSessionTTL = 12 * time.Hour

// Sessions issues and reads the session cookie of the [LDAP] source:
// applink_session, carrying the user and an expiry, signed with
// HMAC-SHA256. Nothing is stored on the server except the ids of sessions
// ended by logout (until they would have expired anyway), so a restarted
// process honours the cookies issued before, as long as the key is the
// same.
//
// With no key configured, NewSessions makes a random one: every session then
// ends when the process does (and with each config reload that makes a new
// Sessions), and two instances behind one load balancer do not know each
// other's sessions. Configure a key of at least MinKeyLen bytes to avoid
// both.
//
// A session cookie cannot be revoked anywhere but in the process that ended
// it (logout is remembered in memory, per process): keep the TTL short.
type Sessions struct {
	key       []byte
	ttl       time.Duration
	secure    bool
	ephemeral bool
	now       func() time.Time

	mu      sync.Mutex
	revoked map[[sidLen]byte]time.Time // ended session id → its expiry
}

const (
	sessionVersion = 1
	sidLen         = 16
	macLen         = sha256.Size
	// version, expiry (unix seconds, big endian), session id, user, MAC
	minSessionLen = 1 + 8 + sidLen + 1 + macLen
	maxRevoked    = 100_000
)

// NewSessions returns a session issuer. key must be empty (a random key,
// see [Sessions]) or at least MinKeyLen bytes; ttl <= 0 means
// DefaultSessionTTL; secureCookie sets the cookie's Secure attribute (set it
// whenever the site is served over HTTPS).
func NewSessions(key []byte, ttl time.Duration, secureCookie bool) (*Sessions, error) {
	root, eph, err := prepareKey(key, "sessions")
	if err != nil {
		return nil, err
	}
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	return &Sessions{
		key:       deriveKey(root, "session"),
		ttl:       ttl,
		secure:    secureCookie,
		ephemeral: eph,
		now:       time.Now,
		revoked:   make(map[[sidLen]byte]time.Time),
	}, nil
}

// Ephemeral reports whether the key was generated at random (no key was
// configured), in which case sessions end with the process.
func (s *Sessions) Ephemeral() bool { return s.ephemeral }

// TTL is the lifetime of a new session.
func (s *Sessions) TTL() time.Duration { return s.ttl }

// Issue starts a session for user: it sets the session cookie on w.
func (s *Sessions) Issue(w http.ResponseWriter, user string) error {
	if !validUser(user) {
		return errors.New("session: invalid user name")
	}
	exp := s.now().Add(s.ttl)
	var sid [sidLen]byte
	if _, err := rand.Read(sid[:]); err != nil {
		return err
	}
	buf := make([]byte, 0, minSessionLen+len(user))
	buf = append(buf, sessionVersion)
	buf = binary.BigEndian.AppendUint64(buf, uint64(exp.Unix()))
	buf = append(buf, sid[:]...)
	buf = append(buf, user...)
	buf = append(buf, s.mac(buf)...)
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookie,
		Value:    base64.RawURLEncoding.EncodeToString(buf),
		Path:     "/",
		Expires:  exp,
		MaxAge:   int(s.ttl / time.Second),
		HttpOnly: true,
		Secure:   s.secure,
		SameSite: http.SameSiteLaxMode,
	})
	return nil
}

func (s *Sessions) mac(b []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(b)
	return m.Sum(nil)
}

type session struct {
	user string
	sid  [sidLen]byte
	exp  time.Time
}

// parse checks a cookie value: shape, MAC (constant time), expiry and
// logout. It returns ok=false for anything that is not a live session.
func (s *Sessions) parse(v string) (session, bool) {
	if len(v) > base64.RawURLEncoding.EncodedLen(minSessionLen+oauth1.MaxUserNameBytes) {
		return session{}, false
	}
	b, err := b64.DecodeString(v)
	if err != nil || len(b) < minSessionLen || b[0] != sessionVersion {
		return session{}, false
	}
	body, sum := b[:len(b)-macLen], b[len(b)-macLen:]
	if !hmac.Equal(sum, s.mac(body)) {
		return session{}, false
	}
	var ss session
	exp := binary.BigEndian.Uint64(body[1:9])
	if exp > 1<<62 {
		return session{}, false
	}
	ss.exp = time.Unix(int64(exp), 0)
	copy(ss.sid[:], body[9:9+sidLen])
	ss.user = string(body[9+sidLen:])
	if !s.now().Before(ss.exp) || !validUser(ss.user) {
		return session{}, false
	}
	s.mu.Lock()
	_, ended := s.revoked[ss.sid]
	s.mu.Unlock()
	if ended {
		return session{}, false
	}
	return ss, true
}

// current returns the live session of r. Several applink_session cookies
// (one tossed in from a sibling domain, say) count only if they all name
// the same user.
func (s *Sessions) current(r *http.Request) (session, bool) {
	var found session
	ok := false
	for _, c := range r.CookiesNamed(SessionCookie) {
		ss, valid := s.parse(c.Value)
		if !valid {
			continue
		}
		if ok && ss.user != found.user {
			return session{}, false
		}
		found, ok = ss, true
	}
	return found, ok
}

// User returns the user of r's live session, or "" when there is none
// (no cookie, bad signature, expired, ended by logout).
func (s *Sessions) User(r *http.Request) string {
	ss, ok := s.current(r)
	if !ok {
		return ""
	}
	return ss.user
}

// End ends r's session: it remembers its id as ended (in this process,
// until it would have expired) and clears the cookie on w.
func (s *Sessions) End(w http.ResponseWriter, r *http.Request) {
	var ended []session
	for _, c := range r.CookiesNamed(SessionCookie) {
		if ss, ok := s.parse(c.Value); ok {
			ended = append(ended, ss)
		}
	}
	if len(ended) > 0 {
		now := s.now()
		s.mu.Lock()
		if len(s.revoked)+len(ended) > maxRevoked {
			for id, exp := range s.revoked {
				if !now.Before(exp) {
					delete(s.revoked, id)
				}
			}
		}
		for _, ss := range ended {
			if len(s.revoked) < maxRevoked {
				s.revoked[ss.sid] = ss.exp
			}
		}
		s.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookie,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   s.secure,
		SameSite: http.SameSiteLaxMode,
	})
}

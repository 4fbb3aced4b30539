package login

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// UpstreamConfig configures [Upstream].
type UpstreamConfig struct {
	// WhoAmIURL is the product's "current user" resource (or an SSO
	// proxy's, such as oauth2-proxy's /oauth2/userinfo), absolute, reached
	// directly (not through this proxy): Jira
	// http://jira:8080/rest/api/2/myself, Bamboo
	// http://bamboo:8085/rest/api/latest/currentUser, Confluence
	// http://confluence:8090/rest/api/user/current. See [Upstream.User] for
	// the answers understood.
	WhoAmIURL string
	// LoginURL is where Challenge sends the browser: absolute, or a path on
	// this site. "{return}" in it is replaced by the query-escaped return
	// URL, e.g. https://jira.example.com/login.jsp?os_destination={return}.
	LoginURL string
	// Client makes the calls; nil means a client of its own. Redirects are
	// never followed (a copy of Client is made with CheckRedirect set).
	Client *http.Client
	// Timeout bounds one call (default 5s).
	Timeout time.Duration
	// CacheTTL is how long a positive answer is reused for the same cookies
	// (default 30s; negative: no cache). Not-logged-in answers and errors
	// are never cached. A user who logs out of the product keeps their
	// identity here for at most CacheTTL.
	CacheTTL time.Duration
	// MaxCacheEntries bounds the cache (default 10,000).
	MaxCacheEntries int
}

const (
	defaultUpstreamTimeout = 5 * time.Second
	defaultCacheTTL        = 30 * time.Second
	defaultMaxCache        = 10_000
	maxWhoAmIBody          = 1 << 20
)

// Upstream asks the product behind who is logged in, with the browser's own
// cookies (its JSESSIONID, seraph remember-me cookie, SSO cookies), and
// nothing else: no Authorization, no other header of the browser.
type Upstream struct {
	whoami   string
	login    string
	client   *http.Client
	timeout  time.Duration
	cacheTTL time.Duration
	maxCache int
	now      func() time.Time

	mu    sync.Mutex
	cache map[[sha256.Size]byte]cached
}

type cached struct {
	user string
	exp  time.Time
}

// NewUpstream checks cfg and returns the source.
func NewUpstream(cfg UpstreamConfig) (*Upstream, error) {
	w, err := url.Parse(cfg.WhoAmIURL)
	if err != nil || (w.Scheme != "http" && w.Scheme != "https") || w.Host == "" {
		return nil, fmt.Errorf("login upstream: who-am-i URL %q must be an absolute http(s) URL", cfg.WhoAmIURL)
	}
	if err := checkLoginURL(cfg.LoginURL); err != nil {
		return nil, err
	}
	u := &Upstream{
		whoami:   cfg.WhoAmIURL,
		login:    cfg.LoginURL,
		timeout:  cfg.Timeout,
		cacheTTL: cfg.CacheTTL,
		maxCache: cfg.MaxCacheEntries,
		now:      time.Now,
		cache:    make(map[[sha256.Size]byte]cached),
	}
	if u.timeout <= 0 {
		u.timeout = defaultUpstreamTimeout
	}
	if u.cacheTTL == 0 {
		u.cacheTTL = defaultCacheTTL
	}
	if u.maxCache <= 0 {
		u.maxCache = defaultMaxCache
	}
	var c http.Client
	if cfg.Client != nil {
		c = *cfg.Client
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	u.client = &c
	return u, nil
}

func checkLoginURL(s string) error {
	l, err := url.Parse(strings.ReplaceAll(s, "{return}", "x"))
	switch {
	case s == "" || err != nil:
	case l.Scheme == "" && l.Host == "" && strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") && !strings.Contains(s, "\\"):
		return nil
	case (l.Scheme == "http" || l.Scheme == "https") && l.Host != "":
		return nil
	}
	return fmt.Errorf("login upstream: login URL %q must be an absolute http(s) URL or a path on this site", s)
}

// User asks WhoAmIURL who owns the browser's cookies. A request without
// cookies is nobody, without a call. The answer:
//
//   - 200 with JSON: the first non-empty string among the fields "name"
//     (Jira /rest/api/2/myself and Bamboo /rest/api/latest/currentUser give
//     the user name there; Bitbucket user objects too), "username"
//     (Confluence /rest/api/user/current), "slug" (Bitbucket), "key"
//     (last resort: Jira's user key, which since Jira 8 is JIRAUSER10100
//     for new users, not the name). An object with "type":"anonymous"
//     (Confluence), or with none of these fields, is nobody;
//   - 200 with text/plain: the trimmed body is the user name, empty is
//     nobody;
//   - 401, 403, or a redirect (to a login page): nobody;
//   - anything else (5xx, 404, a network error, a time-out, a body that is
//     neither, a name that is not a valid user name): an error.
//
// Positive answers are cached per cookie string (by its SHA-256) for
// CacheTTL.
func (u *Upstream) User(r *http.Request) (string, error) {
	cookies := forwardedCookies(r.Header)
	if cookies == "" {
		return "", nil
	}
	key := sha256.Sum256([]byte(cookies))
	if u.cacheTTL > 0 {
		u.mu.Lock()
		c, ok := u.cache[key]
		u.mu.Unlock()
		if ok && u.now().Before(c.exp) {
			return c.user, nil
		}
	}
	user, err := u.ask(r.Context(), cookies)
	if err != nil || user == "" || u.cacheTTL <= 0 {
		return user, err
	}
	u.store(key, user)
	return user, nil
}

func (u *Upstream) store(key [sha256.Size]byte, user string) {
	now := u.now()
	u.mu.Lock()
	defer u.mu.Unlock()
	makeRoom(u.cache, u.maxCache, now, func(c cached) time.Time { return c.exp })
	u.cache[key] = cached{user: user, exp: now.Add(u.cacheTTL)}
}

// forwardedCookies is the browser's cookies less this package's own, as one
// Cookie header value.
func forwardedCookies(h http.Header) string {
	c := http.Header{"Cookie": h.Values("Cookie")}
	StripOwnCookies(c)
	return c.Get("Cookie")
}

var errUpstream = errors.New("login upstream")

func (u *Upstream) ask(ctx context.Context, cookies string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, u.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.whoami, nil)
	if err != nil {
		return "", fmt.Errorf("%w: %v", errUpstream, err)
	}
	req.Header.Set("Cookie", cookies)
	req.Header.Set("Accept", "application/json, text/plain;q=0.5")
	req.Header.Set("User-Agent", "caddy-applink")
	resp, err := u.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", errUpstream, u.whoami, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusUnauthorized, resp.StatusCode == http.StatusForbidden,
		resp.StatusCode >= 300 && resp.StatusCode < 400:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxWhoAmIBody))
		return "", nil
	default:
		return "", fmt.Errorf("%w: %s answered %s", errUpstream, u.whoami, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxWhoAmIBody+1))
	if err != nil {
		return "", fmt.Errorf("%w: %s: reading the answer: %v", errUpstream, u.whoami, err)
	}
	if len(body) > maxWhoAmIBody {
		return "", fmt.Errorf("%w: %s: answer larger than %d bytes", errUpstream, u.whoami, maxWhoAmIBody)
	}
	user, err := parseWhoAmI(resp.Header.Get("Content-Type"), body)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", errUpstream, u.whoami, err)
	}
	return user, nil
}

// whoAmIFields are the JSON fields read for the user name, in order: the
// products' (Jira and Bamboo name, Confluence username, Bitbucket slug,
// key), then an SSO proxy's (oauth2-proxy's /oauth2/userinfo: user, the
// X-Auth-Request-User its forward_auth answers carry).
var whoAmIFields = []string{"name", "username", "slug", "key", "user"}

func parseWhoAmI(contentType string, body []byte) (string, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	trimmed := bytes.TrimSpace(body)
	if mt == "text/plain" {
		u := string(trimmed)
		if u == "" {
			return "", nil
		}
		if !validUser(u) {
			return "", errors.New("the user name is not valid")
		}
		return u, nil
	}
	isJSON := mt == "application/json" || strings.HasSuffix(mt, "+json") ||
		(mt == "" && len(trimmed) > 0 && trimmed[0] == '{')
	if !isJSON {
		return "", fmt.Errorf("unexpected content type %q", contentType)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return "", fmt.Errorf("not a JSON object: %v", err)
	}
	if raw, ok := obj["type"]; ok {
		var t string
		if json.Unmarshal(raw, &t) == nil && t == "anonymous" {
			return "", nil
		}
	}
	for _, f := range whoAmIFields {
		raw, ok := obj[f]
		if !ok {
			continue
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil || s == "" {
			continue
		}
		if !validUser(s) {
			return "", fmt.Errorf("field %q is not a valid user name", f)
		}
		return s, nil
	}
	return "", nil
}

// Challenge redirects (302) to LoginURL with the return URL in it.
func (u *Upstream) Challenge(w http.ResponseWriter, r *http.Request, returnTo string) {
	loc := strings.ReplaceAll(u.login, "{return}", url.QueryEscape(safeReturnTo(returnTo)))
	h := w.Header()
	h.Set("Location", loc)
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusFound)
}

// Handle serves nothing: the product has its own login page.
func (u *Upstream) Handle(http.ResponseWriter, *http.Request) bool { return false }

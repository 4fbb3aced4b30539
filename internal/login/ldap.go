package login

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// LDAPConfig configures [LDAP]. Give either UserDNTemplate (direct bind) or
// SearchBase and SearchFilter (search, then bind).
type LDAPConfig struct {
	// URL of the directory: ldap://host:389 or ldaps://host:636. With
	// ldap:// and no StartTLS, passwords cross the network in clear text
	// ([LDAP.Plaintext] tells the glue, to warn).
	URL string
	// UserDNTemplate is the user's DN with {user} where the user name goes,
	// e.g. uid={user},ou=people,dc=example,dc=org. The name is escaped as a
	// DN attribute value (RFC 4514).
	UserDNTemplate string
	// SearchBase and SearchFilter find the user's entry, e.g.
	// ou=people,dc=example,dc=org and (&(objectClass=inetOrgPerson)(uid={user})).
	// The name is escaped as a filter value (RFC 4515). Exactly one entry
	// must match.
	SearchBase   string
	SearchFilter string
	// BindDN and BindPassword are the account that searches; empty BindDN
	// searches anonymously. A BindDN without a password is refused (it would
	// be an unauthenticated bind, which many servers accept as anonymous).
	BindDN       string
	BindPassword string
	// UserAttribute holds the canonical user name in the user's entry
	// (default "uid"; "sAMAccountName" for Active Directory). The session
	// gets its value (so "ALICE" logs in as "alice"); when the entry cannot
	// be read, the name as typed.
	UserAttribute string
	// StartTLS upgrades an ldap:// connection before anything is sent.
	StartTLS bool
	// TLSConfig is used for ldaps:// and StartTLS (nil: system roots, the
	// URL's host as server name).
	TLSConfig *tls.Config
	// Timeout bounds connecting and each LDAP operation (default 5s).
	Timeout time.Duration
	// Sessions keeps the user logged in (required).
	Sessions *Sessions
	// CSRF protects the login and logout forms (nil: one with a random key;
	// share the approval page's so one cookie serves both).
	CSRF *CSRF
	// Prefix is the path of the login form, e.g.
	// /plugins/servlet/applink/login; logout is Prefix/logout.
	Prefix string
	// Title names the site on the form ("Log in to " + Title).
	Title string
	// MaxFailures failed logins per user name and client IP within
	// FailureWindow block that pair until the window ends (defaults 5 and
	// 5 minutes).
	MaxFailures   int
	FailureWindow time.Duration
	// MaxConcurrent bounds the LDAP logins in flight (default 16); more wait
	// up to Timeout, then get 503.
	MaxConcurrent int
	// ClientIP gives the client address for the rate limit (nil: the host of
	// RemoteAddr; the glue passes Caddy's client IP, which honours trusted
	// proxies).
	ClientIP func(*http.Request) string
	// OnAttempt, when set, is called after each login attempt with the user
	// name as typed and nil on success or the reason (errors.Is
	// ErrBadCredentials, ErrRateLimited, or a directory failure). For logs;
	// it never gets the password.
	OnAttempt func(r *http.Request, user string, err error)
}

// Errors of a login attempt.
var (
	ErrBadCredentials = errors.New("wrong user name or password")
	ErrRateLimited    = errors.New("too many failed logins")
	errBusy           = errors.New("too many logins in progress")
)

const (
	maxPasswordLen     = 1024
	maxLoginForm       = 16 << 10
	defaultLDAPTimeout = 5 * time.Second
	loginPurpose       = "login"
	logoutPurpose      = "logout"
)

// LDAP is the source with a login form of its own: it binds to the
// directory as the user, then keeps the user in a session cookie.
type LDAP struct {
	cfg     LDAPConfig
	u       *url.URL
	csrf    *CSRF
	limiter *failureLimiter
	slots   chan struct{}
	title   string
}

// NewLDAP checks cfg and returns the source.
func NewLDAP(cfg LDAPConfig) (*LDAP, error) {
	if cfg.Sessions == nil {
		return nil, errors.New("login ldap: sessions are required")
	}
	p := strings.TrimSuffix(cfg.Prefix, "/")
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "?#\\ ") {
		return nil, fmt.Errorf("login ldap: prefix %q must be a path", cfg.Prefix)
	}
	cfg.Prefix = p
	l, err := newLDAPConnection(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Title != "" {
		l.title = "Log in to " + cfg.Title
	}
	if l.csrf == nil {
		if l.csrf, err = NewCSRF(nil, cfg.Sessions.secure); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// newLDAPConnection checks the directory settings of cfg (URL, how users
// are found, the bind account) and returns an LDAP that can reach it;
// NewLDAP adds the login form's.
func newLDAPConnection(cfg LDAPConfig) (*LDAP, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "" {
		return nil, fmt.Errorf("login ldap: URL %q must be ldap://host[:port] or ldaps://host[:port]", cfg.URL)
	}
	if cfg.StartTLS && u.Scheme == "ldaps" {
		return nil, errors.New("login ldap: start_tls is for ldap:// URLs, ldaps:// is TLS already")
	}
	direct := cfg.UserDNTemplate != ""
	search := cfg.SearchBase != "" || cfg.SearchFilter != ""
	switch {
	case direct && search:
		return nil, errors.New("login ldap: give either a user DN template or a search base and filter, not both")
	case direct:
		if !strings.Contains(cfg.UserDNTemplate, "{user}") {
			return nil, fmt.Errorf("login ldap: user DN template %q has no {user}", cfg.UserDNTemplate)
		}
		if _, err := ldap.ParseDN(strings.ReplaceAll(cfg.UserDNTemplate, "{user}", "x")); err != nil {
			return nil, fmt.Errorf("login ldap: user DN template %q: %v", cfg.UserDNTemplate, err)
		}
	case search:
		if cfg.SearchBase == "" || cfg.SearchFilter == "" {
			return nil, errors.New("login ldap: search needs both a search base and a search filter")
		}
		if !strings.Contains(cfg.SearchFilter, "{user}") {
			return nil, fmt.Errorf("login ldap: search filter %q has no {user}", cfg.SearchFilter)
		}
		if _, err := ldap.CompileFilter(strings.ReplaceAll(cfg.SearchFilter, "{user}", "x")); err != nil {
			return nil, fmt.Errorf("login ldap: search filter %q: %v", cfg.SearchFilter, err)
		}
		if cfg.BindDN == "" && cfg.BindPassword != "" {
			return nil, errors.New("login ldap: a bind password without a bind DN")
		}
		if cfg.BindDN != "" && cfg.BindPassword == "" {
			return nil, errors.New("login ldap: the bind DN needs a password (an empty one would be an unauthenticated bind)")
		}
	default:
		return nil, errors.New("login ldap: a user DN template, or a search base and filter, is required")
	}
	if cfg.UserAttribute == "" {
		cfg.UserAttribute = "uid"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultLDAPTimeout
	}
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = 5
	}
	if cfg.FailureWindow <= 0 {
		cfg.FailureWindow = 5 * time.Minute
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = 16
	}
	l := &LDAP{
		cfg:     cfg,
		u:       u,
		csrf:    cfg.CSRF,
		limiter: newFailureLimiter(cfg.MaxFailures, cfg.FailureWindow, 100_000),
		slots:   make(chan struct{}, cfg.MaxConcurrent),
		title:   "Log in",
	}
	return l, nil
}

// Plaintext reports whether passwords go to the directory unencrypted
// (ldap:// without StartTLS).
func (l *LDAP) Plaintext() bool { return l.u.Scheme == "ldap" && !l.cfg.StartTLS }

// LoginPath and LogoutPath are the source's endpoints.
func (l *LDAP) LoginPath() string  { return l.cfg.Prefix }
func (l *LDAP) LogoutPath() string { return l.cfg.Prefix + "/logout" }

// User reads the session cookie; it never fails.
func (l *LDAP) User(r *http.Request) (string, error) { return l.cfg.Sessions.User(r), nil }

// Challenge renders the login form (200), which posts to Prefix and comes
// back to returnTo.
func (l *LDAP) Challenge(w http.ResponseWriter, r *http.Request, returnTo string) {
	l.renderLogin(w, r, http.StatusOK, loginPage{Return: safeReturnTo(returnTo)})
}

// Handle serves GET Prefix (the form; ?return= is where to go after),
// POST Prefix (log in) and GET/POST Prefix/logout (a confirmation form,
// then log out).
func (l *LDAP) Handle(w http.ResponseWriter, r *http.Request) bool {
	switch r.URL.Path {
	case l.cfg.Prefix:
		serveForm(w, r, func() {
			l.renderLogin(w, r, http.StatusOK, loginPage{Return: safeReturnTo(r.URL.Query().Get("return"))})
		}, l.login)
		return true
	case l.LogoutPath():
		serveForm(w, r, func() {
			l.renderLogout(w, r, http.StatusOK, logoutPage{Return: returnOrEmpty(r.URL.Query().Get("return"))})
		}, l.logout)
		return true
	}
	return false
}

// serveForm answers GET and HEAD with show (the form), POST with submit,
// and any other method with 405.
func serveForm(w http.ResponseWriter, r *http.Request, show func(), submit func(http.ResponseWriter, *http.Request)) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		show()
	case http.MethodPost:
		submit(w, r)
	default:
		methodNotAllowed(w)
	}
}

func methodNotAllowed(w http.ResponseWriter) {
	w.Header().Set("Allow", "GET, HEAD, POST")
	http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
}

func returnOrEmpty(s string) string {
	v, _ := LocalReturnTo(s)
	return v
}

// singleField returns the one value of a form field; absent or repeated
// fields give ok=false.
func singleField(f url.Values, name string) (string, bool) {
	v := f[name]
	if len(v) != 1 {
		return "", false
	}
	return v[0], true
}

// readForm parses a POSTed urlencoded form of bounded size; only the body
// counts, never the query (no passwords in URLs).
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	ct := r.Header.Get("Content-Type")
	if mt, _, _ := strings.Cut(ct, ";"); strings.TrimSpace(strings.ToLower(mt)) != "application/x-www-form-urlencoded" {
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginForm)
	if err := r.ParseForm(); err != nil {
		return nil, false
	}
	return r.PostForm, true
}

func (l *LDAP) clientIP(r *http.Request) string {
	if l.cfg.ClientIP != nil {
		return l.cfg.ClientIP(r)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (l *LDAP) attempt(r *http.Request, user string, err error) {
	if l.cfg.OnAttempt != nil {
		l.cfg.OnAttempt(r, user, err)
	}
}

func (l *LDAP) login(w http.ResponseWriter, r *http.Request) {
	form, ok := readForm(w, r)
	if !ok {
		l.renderLogin(w, r, http.StatusBadRequest, loginPage{Return: "/", Error: "The form could not be read. Please log in again."})
		return
	}
	ret := safeReturnTo(form.Get("return"))
	token, _ := singleField(form, "csrf")
	if !l.csrf.Check(r, loginPurpose, token) {
		l.renderLogin(w, r, http.StatusBadRequest, loginPage{Return: ret, Error: "This form has expired. Please log in again."})
		return
	}
	user, okU := singleField(form, "username")
	password, okP := singleField(form, "password")
	user = strings.TrimSpace(user)
	page := loginPage{Return: ret, Username: user}
	if !validUser(user) {
		page.Username = ""
	}
	key := strings.ToLower(user) + "\x00" + l.clientIP(r)
	if blocked, until := l.limiter.blocked(key); blocked {
		l.attempt(r, user, ErrRateLimited)
		secs := int(until.Sub(l.limiter.now()).Seconds()) + 1
		if secs < 1 {
			secs = 1
		}
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		page.Error = "Too many failed attempts. Please wait a few minutes and try again."
		l.renderLogin(w, r, http.StatusTooManyRequests, page)
		return
	}
	var canonical string
	var err error
	if !okU || !okP || !validUser(user) || password == "" || len(password) > maxPasswordLen {
		// An empty password would be an "unauthenticated bind", which
		// many directories answer with success as anonymous.
		err = ErrBadCredentials
	} else {
		canonical, err = l.Authenticate(r.Context(), user, password)
	}
	switch {
	case err == nil:
		if err = l.cfg.Sessions.Issue(w, canonical); err != nil {
			break
		}
		l.limiter.succeed(key)
		l.attempt(r, user, nil)
		h := w.Header()
		h.Set("Location", ret)
		h.Set("Cache-Control", "no-store")
		h.Set("Referrer-Policy", "no-referrer")
		w.WriteHeader(http.StatusSeeOther)
		return
	case errors.Is(err, ErrBadCredentials):
		l.limiter.fail(key)
		l.attempt(r, user, err)
		page.Error = "Wrong user name or password."
		l.renderLogin(w, r, http.StatusForbidden, page)
		return
	}
	l.attempt(r, user, err)
	page.Error = "The login service is unavailable. Please try again later."
	l.renderLogin(w, r, http.StatusServiceUnavailable, page)
}

func (l *LDAP) logout(w http.ResponseWriter, r *http.Request) {
	form, ok := readForm(w, r)
	ret := ""
	if ok {
		ret = returnOrEmpty(form.Get("return"))
	}
	token, _ := singleField(form, "csrf")
	user := l.cfg.Sessions.User(r)
	if !ok || !l.csrf.Check(r, logoutPurpose+"\x00"+user, token) {
		l.renderLogout(w, r, http.StatusBadRequest, logoutPage{Return: ret, Error: "This form has expired. Please try again."})
		return
	}
	l.cfg.Sessions.End(w, r)
	if ret != "" {
		w.Header().Set("Location", ret)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusSeeOther)
		return
	}
	l.renderLogout(w, r, http.StatusOK, logoutPage{Done: true})
}

// Authenticate binds to the directory as user with password and returns
// the canonical user name. A wrong password, an unknown user, or a search
// that finds no entry or several gives an error that errors.Is
// ErrBadCredentials; anything else is a directory failure. An empty
// password is always ErrBadCredentials, without asking the directory.
func (l *LDAP) Authenticate(ctx context.Context, user, password string) (string, error) {
	if password == "" || !validUser(user) {
		return "", ErrBadCredentials
	}
	conn, done, err := l.connect(ctx, errBusy)
	if err != nil {
		return "", err
	}
	defer done()

	if l.cfg.UserDNTemplate != "" {
		dn := strings.ReplaceAll(l.cfg.UserDNTemplate, "{user}", escapeDNValue(user))
		if err := conn.Bind(dn, password); err != nil {
			return "", bindError(err)
		}
		// Read the canonical name as the user; an entry the user may not
		// read leaves the name as typed (the bind proved it).
		res, err := conn.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
			1, int(l.cfg.Timeout/time.Second)+1, false, "(objectClass=*)", []string{l.cfg.UserAttribute}, nil))
		if err != nil || len(res.Entries) != 1 {
			return user, nil
		}
		return pickName(res.Entries[0].GetAttributeValues(l.cfg.UserAttribute), user), nil
	}

	if l.cfg.BindDN != "" {
		if err := conn.Bind(l.cfg.BindDN, l.cfg.BindPassword); err != nil {
			return "", fmt.Errorf("login ldap: bind as %s: %w", l.cfg.BindDN, err)
		}
	}
	filter := strings.ReplaceAll(l.cfg.SearchFilter, "{user}", escapeFilterValue(user))
	res, err := conn.Search(ldap.NewSearchRequest(l.cfg.SearchBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, int(l.cfg.Timeout/time.Second)+1, false, filter, []string{l.cfg.UserAttribute}, nil))
	switch {
	case res != nil && len(res.Entries) > 1, err != nil && ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded):
		return "", fmt.Errorf("%w (several entries match)", ErrBadCredentials)
	case err != nil:
		return "", fmt.Errorf("login ldap: search: %w", err)
	case len(res.Entries) == 0:
		return "", fmt.Errorf("%w (no entry matches)", ErrBadCredentials)
	}
	entry := res.Entries[0]
	if err := conn.Bind(entry.DN, password); err != nil {
		return "", bindError(err)
	}
	return pickName(entry.GetAttributeValues(l.cfg.UserAttribute), user), nil
}

func bindError(err error) error {
	if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		return ErrBadCredentials
	}
	return fmt.Errorf("login ldap: bind: %w", err)
}

// pickName chooses the canonical name among the attribute's values: the
// one equal to the typed name but for case, else the first valid one, else
// the typed name.
func pickName(vals []string, typed string) string {
	for _, v := range vals {
		if strings.EqualFold(v, typed) && validUser(v) {
			return v
		}
	}
	for _, v := range vals {
		if validUser(v) {
			return v
		}
	}
	return typed
}

func (l *LDAP) tlsConfig() *tls.Config {
	var c *tls.Config
	if l.cfg.TLSConfig != nil {
		c = l.cfg.TLSConfig.Clone()
	} else {
		c = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if c.ServerName == "" {
		c.ServerName = l.u.Hostname()
	}
	return c
}

// connect takes one of the connection slots (waiting at most the timeout,
// then failing with busy) and dials; done closes the connection and frees
// the slot.
func (l *LDAP) connect(ctx context.Context, busy error) (conn *ldap.Conn, done func(), err error) {
	timer := time.NewTimer(l.cfg.Timeout)
	defer timer.Stop()
	select {
	case l.slots <- struct{}{}:
	case <-timer.C:
		return nil, nil, busy
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	if conn, err = l.dial(); err != nil {
		<-l.slots
		return nil, nil, err
	}
	return conn, func() { conn.Close(); <-l.slots }, nil
}

func (l *LDAP) dial() (*ldap.Conn, error) {
	opts := []ldap.DialOpt{ldap.DialWithDialer(&net.Dialer{Timeout: l.cfg.Timeout})}
	if l.u.Scheme == "ldaps" {
		opts = append(opts, ldap.DialWithTLSConfig(l.tlsConfig()))
	}
	conn, err := ldap.DialURL(l.cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("login ldap: connect: %w", err)
	}
	conn.SetTimeout(l.cfg.Timeout)
	if l.cfg.StartTLS {
		if err := conn.StartTLS(l.tlsConfig()); err != nil {
			conn.Close()
			return nil, fmt.Errorf("login ldap: StartTLS: %w", err)
		}
	}
	return conn, nil
}

//go:build linux

package testsso

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/testpeer"
	"github.com/caddy-applink/caddy-applink/internal/testproc"
)

// The issuer's client that oauth2-proxy is: the example's "web" client
// (client_secret_basic, authorization code flow, http redirect URIs
// allowed).
const (
	ClientID     = "web"
	ClientSecret = "secret"
)

// The headers oauth2-proxy's /oauth2/auth answers 202 with
// (--set-xauthrequest): User is the ID token's sub (User.ID), Email the
// email claim, PreferredUsername the preferred_username claim
// (User.Username).
const (
	HeaderUser              = "X-Auth-Request-User"
	HeaderEmail             = "X-Auth-Request-Email"
	HeaderPreferredUsername = "X-Auth-Request-Preferred-Username"
)

// CSS selectors of the issuer's login page (/login/username): a plain
// HTML form POSTed to /login/username with a hidden "id" field.
const (
	UsernameSelector = "#username"
	PasswordSelector = "#password"
	SubmitSelector   = "button[type=submit]"
)

// DefaultCookieName is oauth2-proxy's session cookie.
const DefaultCookieName = "_oauth2_proxy"

// User is one of the issuer's users, who logs in on its login page with
// Username and Password.
type User struct {
	ID       string // the sub claim; Username when empty
	Username string // what the login form takes; the preferred_username claim
	Password string
	Email    string // the email claim (always email_verified)
	// FirstName and LastName make the name claims.
	FirstName, LastName string
}

// DefaultUsers are the issuer's users when Options.Users is empty.
var DefaultUsers = []User{
	{ID: "alice", Username: "alice", Password: "alice-password", Email: "alice@example.org", FirstName: "Alice", LastName: "Example"},
	{ID: "bob", Username: "bob", Password: "bob-password", Email: "bob@example.org", FirstName: "Bob", LastName: "Example"},
}

// Options say how to set up the issuer and oauth2-proxy.
type Options struct {
	// RedirectURL is oauth2-proxy's --redirect-url, the callback the
	// issuer sends the browser back to (registered as the client's
	// redirect URI): http://<caddy host:port>/oauth2/callback behind a
	// Caddy that routes /oauth2/* to oauth2-proxy. Empty: oauth2-proxy's
	// own ProxyURL + "/oauth2/callback".
	RedirectURL string
	// Users of the issuer; DefaultUsers when empty.
	Users []User
	// SkipProviderButton: the sign-in page (/oauth2/sign_in) goes
	// straight to the issuer instead of showing a button.
	SkipProviderButton bool
	// WhitelistDomains are --whitelist-domain values: the hosts an
	// absolute rd= may name. Empty: RedirectURL's host:port.
	WhitelistDomains []string
	// CookieName is --cookie-name; DefaultCookieName when empty.
	CookieName string
	// ExtraArgs are further oauth2-proxy flags.
	ExtraArgs []string
}

// Server is a running issuer and an oauth2-proxy that uses it.
type Server struct {
	// IssuerURL is http://localhost:port/, with the final slash, as the
	// issuer names itself (the example OP always uses localhost).
	IssuerURL string
	// ProxyURL is oauth2-proxy's base, http://127.0.0.1:port;
	// ProxyAddr its host:port.
	ProxyURL  string
	ProxyAddr string
	// RedirectURL is oauth2-proxy's --redirect-url.
	RedirectURL string
	CookieName  string
	Users       []User

	dir          string
	issuer       *testproc.Proc
	proxy        *testproc.Proc
	issuerLog    *testproc.LogBuffer
	proxyLog     *testproc.LogBuffer
	once         sync.Once
	issuerPort   int
	proxyPort    int
	cookieSecret string // the cookie secret
}

// Shared is one issuer and oauth2-proxy for a whole test binary, started
// on first use. TestMain should call Stop.
type Shared struct {
	Options Options

	peer testpeer.Once[*Server]
}

// Need returns the running servers, starting them on first use; when the
// programs cannot be built it skips t (see Missing), and it fails t if
// they do not start.
func (s *Shared) Need(t testing.TB) *Server {
	t.Helper()
	if _, err := Build(); err != nil {
		Missing(t, err)
	}
	srv, err := s.peer.Get(func() (*Server, error) { return Start(s.Options) })
	if err != nil {
		t.Fatalf("starting the SSO peers: %v", err)
	}
	return srv
}

// Stop stops the servers if they were started.
func (s *Shared) Stop() {
	if srv, ok := s.peer.Started(); ok {
		srv.Stop()
	}
}

// Start builds the programs (unless cached, see Build) and starts the
// issuer, then oauth2-proxy. It retries a few times, as a free port can
// be taken before a program binds it.
func Start(opts Options) (*Server, error) {
	bins, err := Build()
	if err != nil {
		return nil, err
	}
	return testproc.OnFreePorts(func() (*Server, error) { return startOnce(opts, bins) })
}

// usersFile is the example OP's USERS_FILE: its storage.User records by ID.
func usersFile(users []User) ([]byte, error) {
	type record struct {
		ID, Username, Password, FirstName, LastName, Email string
		EmailVerified                                      bool
		PreferredLanguage                                  string
	}
	m := make(map[string]record, len(users))
	for _, u := range users {
		if u.Username == "" {
			return nil, errors.New("testsso: a user without a username")
		}
		id := u.ID
		if id == "" {
			id = u.Username
		}
		if _, dup := m[id]; dup {
			return nil, fmt.Errorf("testsso: two users of ID %q", id)
		}
		m[id] = record{ID: id, Username: u.Username, Password: u.Password, FirstName: u.FirstName,
			LastName: u.LastName, Email: u.Email, EmailVerified: true, PreferredLanguage: "en"}
	}
	return json.Marshal(m)
}

// env is the environment without the variables a program reads its
// settings from (prefix), then extra.
func env(prefixes []string, extra ...string) []string {
	var out []string
next:
	for _, kv := range os.Environ() {
		for _, p := range prefixes {
			if strings.HasPrefix(kv, p) {
				continue next
			}
		}
		out = append(out, kv)
	}
	return append(out, extra...)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func startOnce(opts Options, bins Binaries) (*Server, error) {
	removeStale()
	dir, err := os.MkdirTemp("", dirPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return nil, err
	}
	s := &Server{
		dir:       dir,
		issuerLog: &testproc.LogBuffer{Max: 256 << 10},
		proxyLog:  &testproc.LogBuffer{Max: 256 << 10},
		Users:     opts.Users,
		// 16 random bytes as 32 hex digits: a 32-byte AES key to oauth2-proxy.
		cookieSecret: randomHex(16),
	}
	if len(s.Users) == 0 {
		s.Users = DefaultUsers
	}
	if err := s.start(opts, bins); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) start(opts Options, bins Binaries) error {
	var err error
	if s.issuerPort, err = testproc.FreePort(); err != nil {
		return err
	}
	for s.proxyPort == 0 || s.proxyPort == s.issuerPort {
		if s.proxyPort, err = testproc.FreePort(); err != nil {
			return err
		}
	}
	s.IssuerURL = "http://localhost:" + strconv.Itoa(s.issuerPort) + "/"
	s.ProxyAddr = "127.0.0.1:" + strconv.Itoa(s.proxyPort)
	s.ProxyURL = "http://" + s.ProxyAddr
	s.RedirectURL = opts.RedirectURL
	if s.RedirectURL == "" {
		s.RedirectURL = s.ProxyURL + "/oauth2/callback"
	}
	redirect, err := url.Parse(s.RedirectURL)
	if err != nil || redirect.Host == "" {
		return fmt.Errorf("testsso: redirect URL %q is not absolute", s.RedirectURL)
	}
	s.CookieName = opts.CookieName
	if s.CookieName == "" {
		s.CookieName = DefaultCookieName
	}

	users, err := usersFile(s.Users)
	if err != nil {
		return err
	}
	usersPath := filepath.Join(s.dir, "users.json")
	if err := os.WriteFile(usersPath, users, 0o600); err != nil {
		return err
	}

	// The issuer: the example reads PORT, REDIRECT_URI (of every client)
	// and USERS_FILE, and listens on :PORT (every interface).
	cmd := exec.Command(bins.Issuer)
	cmd.Dir = s.dir
	cmd.Env = env([]string{"PORT=", "REDIRECT_URI=", "USERS_FILE="},
		"PORT="+strconv.Itoa(s.issuerPort), "REDIRECT_URI="+s.RedirectURL, "USERS_FILE="+usersPath)
	cmd.Stdout, cmd.Stderr = s.issuerLog, s.issuerLog
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if s.issuer, err = testproc.Start(cmd); err != nil {
		return err
	}
	discovery := s.IssuerURL + ".well-known/openid-configuration"
	if err := s.issuer.Await(15*time.Second, func() bool { return answers200(discovery) }); err != nil {
		return fmt.Errorf("issuer on port %d: %v\n%s", s.issuerPort, err, s.issuerLog)
	}

	whitelist := opts.WhitelistDomains
	if len(whitelist) == 0 {
		whitelist = []string{redirect.Host}
	}
	args := []string{
		"--provider=oidc",
		"--provider-display-name=testsso",
		"--oidc-issuer-url=" + s.IssuerURL,
		"--client-id=" + ClientID,
		"--client-secret=" + ClientSecret,
		"--redirect-url=" + s.RedirectURL,
		"--http-address=" + s.ProxyAddr,
		"--reverse-proxy",
		"--set-xauthrequest",
		"--upstream=static://202",
		"--email-domain=*",
		"--cookie-name=" + s.CookieName,
		"--cookie-secret=" + s.cookieSecret,
		"--cookie-secure=false",
		"--scope=openid email profile",
		"--code-challenge-method=S256",
	}
	for _, d := range whitelist {
		args = append(args, "--whitelist-domain="+d)
	}
	if opts.SkipProviderButton {
		args = append(args, "--skip-provider-button")
	}
	args = append(args, opts.ExtraArgs...)
	cmd = exec.Command(bins.Proxy, args...)
	cmd.Dir = s.dir
	cmd.Env = env([]string{"OAUTH2_PROXY_"})
	cmd.Stdout, cmd.Stderr = s.proxyLog, s.proxyLog
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if s.proxy, err = testproc.Start(cmd); err != nil {
		return err
	}
	if err := s.proxy.Await(15*time.Second, func() bool { return answers200(s.ProxyURL + "/ping") }); err != nil {
		return fmt.Errorf("oauth2-proxy on %s: %v\n%s\nissuer:\n%s", s.ProxyAddr, err, s.proxyLog, s.issuerLog)
	}
	return nil
}

var probe = &http.Client{Timeout: 2 * time.Second}

func answers200(u string) bool {
	resp, err := probe.Get(u)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// dirPrefix names the servers' directories: the test process's pid follows.
const dirPrefix = "applink-sso-"

// removeStale removes the directories of test processes that are gone.
func removeStale() {
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*-*"))
	for _, m := range matches {
		pid, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(filepath.Base(m), dirPrefix), "-", 2)[0])
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(m)
		}
	}
}

// Stop ends oauth2-proxy, then the issuer (SIGTERM to each process
// group, SIGKILL after 5s), and removes their directory. It may be
// called repeatedly.
func (s *Server) Stop() {
	s.once.Do(func() {
		if s.proxy != nil {
			s.proxy.Stop(syscall.SIGTERM, 5*time.Second)
		}
		if s.issuer != nil {
			s.issuer.Stop(syscall.SIGTERM, 5*time.Second)
		}
		_ = os.RemoveAll(s.dir)
	})
}

// Log is what both programs have written so far (each capped at 256 KiB),
// for failure messages.
func (s *Server) Log() string {
	return "== oauth2-proxy\n" + s.proxyLog.String() + "== issuer\n" + s.issuerLog.String()
}

// User returns the user of that username, for its password.
func (s *Server) User(username string) (User, bool) {
	for _, u := range s.Users {
		if u.Username == username {
			if u.ID == "" {
				u.ID = u.Username
			}
			return u, true
		}
	}
	return User{}, false
}

// AuthURL is oauth2-proxy's forward-auth endpoint.
func (s *Server) AuthURL() string { return s.ProxyURL + "/oauth2/auth" }

// StartURL is oauth2-proxy's /oauth2/start?rd=rd.
func (s *Server) StartURL(rd string) string {
	return s.ProxyURL + "/oauth2/start?rd=" + url.QueryEscape(rd)
}

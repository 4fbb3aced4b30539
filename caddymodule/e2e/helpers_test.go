//go:build linux

package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"

	_ "github.com/caddy-applink/caddy-applink/caddymodule" // the applink handler
	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/testkit"
	"github.com/caddy-applink/caddy-applink/internal/testpeer"
)

// Ports of this package's in-process Caddy: free ones, taken when the test
// binary starts (`go test ./...` runs packages in parallel, and a
// developer's applink or the demo may run beside them).
var (
	freePorts                      = testkit.FreePorts(3)
	adminPort, httpPort, httpsPort = freePorts[0], freePorts[1], freePorts[2]
)

// proxyBase is base_url: what clients sign against and browsers open.
var proxyBase = "http://localhost:" + strconv.Itoa(httpPort)

// The provider's endpoints, as Atlassian serves them.
const (
	requestTokenPath = "/plugins/servlet/oauth/request-token"
	authorizePath    = "/plugins/servlet/oauth/authorize"
	accessTokenPath  = "/plugins/servlet/oauth/access-token"
	userTokensPath   = "/plugins/servlet/oauth/users/access-tokens"
)

// The linked application of every test.
const (
	consumerKey  = "python:linked-app"
	consumerName = "Python Linked App"
	consumerDesc = "Files issues for you from the build pipeline."
	serviceUser  = "svc-app"
)

// missing skips a test whose external program is not installed, or fails
// it when APPLINK_REQUIRE_INTEROP=1 (CI installs everything).
func missing(t testing.TB, pkg string, err error) {
	t.Helper()
	testpeer.Require(t, pkg, err)
}

// appKeys is the consumer's key pair, generated once per test binary.
var appKeys = testkit.SharedKeyPair("app")

func pubFile() string  { return appKeys().PubFile }
func privFile() string { return appKeys().PrivFile }

// recorder is the product behind the proxy: it records what reached it
// and echoes the identity it got.
type (
	recorder = testkit.Recorder
	recorded = testkit.Recorded
)

func newRecorder(t testing.TB) *recorder { return testkit.NewRecorder(t) }

// find returns the requests recorded since mark whose query parameter
// "case" is name.
func find(rec *recorder, mark int, name string) []recorded {
	var out []recorded
	for _, r := range rec.Since(mark) {
		if u, err := url.ParseRequestURI(r.URI); err == nil && u.Query().Get("case") == name {
			out = append(out, r)
		}
	}
	return out
}

// checkUpstream asserts what the product got for a 3LO request: exactly
// one identity (user), mode 3lo, and no OAuth credential.
func checkUpstream(t testing.TB, r recorded, user string) {
	t.Helper()
	var ids []string
	for k, v := range r.Header {
		if strings.EqualFold(strings.ReplaceAll(k, "_", "-"), "X-Forwarded-User") {
			ids = append(ids, k+"="+strings.Join(v, ","))
		}
	}
	if len(ids) != 1 || ids[0] != "X-Forwarded-User="+user {
		t.Errorf("%s %s: identity headers upstream %v, want exactly X-Forwarded-User=%s", r.Method, r.URI, ids, user)
	}
	if m := r.Header.Get("X-Applink-Mode"); m != "3lo" {
		t.Errorf("%s %s: {applink.mode} = %q, want 3lo", r.Method, r.URI, m)
	}
	if c := r.Header.Get("X-Applink-Consumer"); c != consumerKey {
		t.Errorf("%s %s: {applink.consumer} = %q, want %s", r.Method, r.URI, c, consumerKey)
	}
	if a := r.Header.Get("Authorization"); a != "" {
		t.Errorf("%s %s: Authorization reached the upstream: %q", r.Method, r.URI, a)
	}
	if strings.Contains(r.URI, "oauth_") || strings.Contains(r.Body, "oauth_") {
		t.Errorf("%s %s: OAuth parameters reached the upstream (body %q)", r.Method, r.URI, r.Body)
	}
}

// proxyConfig is one Caddyfile of this package's proxy.
type proxyConfig struct {
	Login   string // the applink login line(s)
	State   string // the applink state line, "" for the default (Caddy's data dir)
	Applink string // more applink subdirectives
	Site    string // more site directives
	LogFile string // Caddy's log, "" for none
	// Down serves the site without the applink handler (the proxy as good
	// as stopped: its shared state is released).
	Down bool
}

func (c proxyConfig) caddyfile(rec *recorder) string {
	options := []string{testkit.TrustLoopback}
	if c.LogFile != "" {
		options = append(options, "log {\n\toutput file "+c.LogFile+"\n\tformat json\n}")
	}
	global := caddyGlobals(options...)
	if c.Down {
		return global + proxyBase + " {\n\trespond \"down for maintenance\" 503\n}\n"
	}
	return global + fmt.Sprintf(`
%s {
	applink {
		base_url %s
		consumer %s {
			name %q
			public_key_file %s
			two_legged %s
			impersonation
			description %q
		}
		%s
		%s
		%s
	}
	request_header X-Applink-Mode "{applink.mode}"
	request_header X-Applink-Consumer "{applink.consumer}"
	%s
	reverse_proxy %s
}
`, proxyBase, proxyBase, consumerKey, consumerName, pubFile(), serviceUser,
		consumerDesc, c.Login, c.State, c.Applink, c.Site, rec.Addr())
}

// caddyGlobals is the global options block of this package's Caddy.
func caddyGlobals(options ...string) string {
	return testkit.CaddyGlobals(adminPort, httpPort, httpsPort, options...)
}

// loadCaddy loads the Caddyfile cfg into this package's in-process Caddy.
func loadCaddy(t *testing.T, cfg string) *caddytest.Tester {
	t.Helper()
	return testkit.LoadCaddy(t, adminPort, 20*time.Second, cfg)
}

var firstLoad sync.Once

// loadProxy loads cfg into this package's in-process Caddy.
func loadProxy(t *testing.T, rec *recorder, cfg proxyConfig) *caddytest.Tester {
	t.Helper()
	tester := loadCaddy(t, cfg.caddyfile(rec))
	// The in-memory nonce store refuses requests stamped with the second it
	// was created in; it outlives config reloads, so this is paid once.
	firstLoad.Do(testkit.WaitNextSecond)
	return tester
}

// newClient is an HTTP client that reaches "localhost" on 127.0.0.1 (a
// trusted proxy, so that the SSO login header counts), keeps cookies like a
// browser when jar is set, and never follows redirects.
func newClient(jar bool) *http.Client { return newClientVia("127.0.0.1", jar) }

// newClientVia is newClient reaching "localhost" on ip instead.
func newClientVia(ip string, jar bool) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	c := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if host, port, err := net.SplitHostPort(addr); err == nil && host == "localhost" {
					addr = net.JoinHostPort(ip, port)
				}
				return d.DialContext(ctx, network, addr)
			},
			MaxIdleConnsPerHost: 16,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if jar {
		c.Jar, _ = cookiejar.New(nil)
	}
	return c
}

// do sends req and returns the response (body read) and its body.
func do(t testing.TB, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	return testkit.Do(t, c, req)
}

// problemOf returns oauth_problem of a refusal's WWW-Authenticate header.
func problemOf(resp *http.Response) string {
	return testkit.Problem(resp.Header.Get("WWW-Authenticate"))
}

// signed builds a request signed by the test's consumer (RSA-SHA1, OAuth
// parameters in the Authorization header) with the internal/oauth1
// helpers. target is path and query as sent; form, when not empty, is sent
// as an application/x-www-form-urlencoded body; token is the oauth_token
// ("" for none).
func signed(t testing.TB, method, target, form, token string, extra ...oauth1.Param) *http.Request {
	t.Helper()
	req, err := signRequest(method, target, form, token, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// signRequest is signed for goroutines: it returns its error.
func signRequest(method, target, form, token string, extra ...oauth1.Param) (*http.Request, error) {
	w, err := testkit.OAuth{Method: method, Target: target, Form: form, Base: proxyBase,
		Consumer: consumerKey, Key: appKeys().Key, Token: &token, NoToken: token == "", Extra: extra}.Sign()
	if err != nil {
		return nil, err
	}
	return w.Request(proxyBase)
}

// tokenCall sends a signed POST to a token endpoint and returns the status,
// the problem and the decoded answer.
func tokenCall(t testing.TB, c *http.Client, path, token string, extra ...oauth1.Param) (int, string, url.Values) {
	t.Helper()
	resp, body := do(t, c, signed(t, http.MethodPost, path, "", token, extra...))
	v, _ := url.ParseQuery(body)
	return resp.StatusCode, problemOf(resp), v
}

// approveAs plays a user behind the SSO (login header X-Remote-User): it
// opens the authorize URL as a browser would and presses Allow. It returns
// the redirect to the consumer's callback, or nil and the page shown.
func approveAs(t testing.TB, authorizeURL, user string) (*url.URL, string) {
	t.Helper()
	a, err := testkit.Approve(newClient(true), authorizeURL, user, true)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(a.Page, `id="user">`+user+`<`) || !strings.Contains(a.Page, consumerName) {
		t.Errorf("approval page does not name %s and %s:\n%s", user, consumerName, a.Page)
	}
	switch a.Status {
	case http.StatusSeeOther:
		loc, err := url.Parse(a.Location)
		if err != nil {
			t.Fatal(err)
		}
		return loc, a.Result
	case http.StatusOK:
		return nil, a.Result
	}
	t.Fatalf("approval by %s: %d %s", user, a.Status, a.Result)
	return nil, ""
}

package caddymodule

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	"golang.org/x/crypto/bcrypt"

	// The remote Jira is our own applink handler; the local app proxies to
	// it through the applink transport.
	"github.com/caddy-applink/caddy-applink/internal/rsakey"
)

// Ports of this package's in-process Caddy. Every package with caddytest
// tests has its own (caddymodule 2999/9080, transport 2998/9180-9182,
// publish 2997/9280, cli 2996/9380, e2e 2995/9480/9843, adversarial
// 2994/9580, cmd/applink 2019-2023/8080-8099).
const (
	danceAdminPort = 2993
	danceHTTPPort  = 9680
	danceHTTPSPort = 9943
)

// The two sites of the test, on one port: the remote Jira (our applink
// handler as service provider) and the local app (applink_dance and the
// transport in mode 3lo), told apart by host.
var (
	jiraBase = fmt.Sprintf("http://localhost:%d", danceHTTPPort)
	appBase  = fmt.Sprintf("http://127.0.0.1:%d", danceHTTPPort)
)

const (
	danceConsumerKey = "caddy-applink:app"
	stateKey         = "0123456789abcdef-dance-test-key"
	password         = "s3cret"
)

var (
	danceKeysOnce sync.Once
	danceKeyDir   string
	pwHash        string
)

func danceTestKeys(t testing.TB) {
	t.Helper()
	danceKeysOnce.Do(func() {
		k, err := rsakey.Generate(2048)
		if err != nil {
			panic(err)
		}
		if danceKeyDir, err = os.MkdirTemp("", "applink-dance-keys"); err != nil {
			panic(err)
		}
		priv, _ := rsakey.EncodePrivatePEM(k)
		pub, _ := rsakey.EncodePublicPEM(&k.PublicKey)
		_ = os.WriteFile(filepath.Join(danceKeyDir, "app.pem"), priv, 0o600)
		_ = os.WriteFile(filepath.Join(danceKeyDir, "app.pub.pem"), pub, 0o644)
		h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
		if err != nil {
			panic(err)
		}
		pwHash = string(h)
	})
}

// danceRecorder is the remote Jira's product: it records who each request
// reached it as.
type danceRecorder struct {
	srv   *httptest.Server
	mu    sync.Mutex
	seen  []http.Header
	count atomic.Int64
}

func newDanceRecorder(t *testing.T) *danceRecorder {
	rec := &danceRecorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.seen = append(rec.seen, r.Header.Clone())
		rec.mu.Unlock()
		rec.count.Add(1)
		fmt.Fprintf(w, "user=%s mode=%s", r.Header.Get("X-Forwarded-User"), r.Header.Get("X-Applink-Mode"))
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (rec *danceRecorder) addr() string { return strings.TrimPrefix(rec.srv.URL, "http://") }

func (rec *danceRecorder) last() http.Header {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.seen) == 0 {
		return nil
	}
	return rec.seen[len(rec.seen)-1]
}

// config is the whole Caddyfile: the remote Jira (provider, header login
// from the SSO in front, trusted from 127.0.0.1) in front of rec, and the
// local app, where basic_auth establishes the local user, applink_dance
// obtains tokens and the transport uses them. jiraExtra goes into the
// applink block, transportExtra into the transport's.
func config(dir string, rec *danceRecorder, jiraExtra, transportExtra string) string {
	state := fmt.Sprintf("state file %s {\n\t\t\tencryption_key %s\n\t\t}", filepath.Join(dir, "app.db"), stateKey)
	return fmt.Sprintf(`{
	skip_install_trust
	admin localhost:%[1]d
	http_port %[2]d
	https_port %[3]d
	grace_period 1ns
	servers {
		trusted_proxies static 127.0.0.1/32
	}
	log {
		output file %[4]s
		format json
		level DEBUG
	}
}

%[5]s {
	applink {
		base_url %[5]s
		login header X-Remote-User
		state file %[6]s
		consumer %[7]s {
			name "Local app"
			description "The local app of the dance tests"
			public_key_file %[8]s/app.pub.pem
		}
		%[9]s
	}
	request_header X-Applink-Mode {applink.mode}
	reverse_proxy %[10]s
}

%[11]s {
	basic_auth {
		alice %[12]s
		bob %[12]s
	}
	applink_dance {
		base_url %[11]s
		consumer_key %[7]s
		private_key_file %[8]s/app.pem
		link jira {
			remote_base_url %[5]s
		}
		%[13]s
	}
	reverse_proxy localhost:%[2]d {
		transport applink {
			consumer_key %[7]s
			private_key_file %[8]s/app.pem
			remote_base_url %[5]s
			mode 3lo
			user {http.auth.user.id}
			link_id jira
			%[13]s
			%[14]s
		}
	}
}
`, danceAdminPort, danceHTTPPort, danceHTTPSPort, filepath.Join(dir, "caddy.log"),
		jiraBase, filepath.Join(dir, "jira.db"), danceConsumerKey, danceKeyDir, jiraExtra,
		rec.addr(), appBase, pwHash, state, transportExtra)
}

// start loads the config and waits for the next second (the applink
// handler's nonce store refuses the second it was created in).
func start(t *testing.T, rec *danceRecorder, jiraExtra, transportExtra string) string {
	t.Helper()
	danceTestKeys(t)
	dir := t.TempDir()
	tester := caddytest.NewTester(t).WithDefaultOverrides(caddytest.Config{AdminPort: danceAdminPort, LoadRequestTimeout: 20 * time.Second})
	tester.InitServer(config(dir, rec, jiraExtra, transportExtra), "caddyfile")
	if t.Failed() {
		t.FailNow()
	}
	waitForNonceFloor()
	return filepath.Join(dir, "caddy.log")
}

// danceBrowser is one person: a cookie jar, the local app's password (basic
// auth) and, at the remote, the identity the SSO in front of Jira asserts
// (X-Remote-User, honoured from the trusted 127.0.0.1). It follows no
// redirect by itself.
type danceBrowser struct {
	*http.Client
	user, remoteUser string
}

func newBrowser(user, remoteUser string) *danceBrowser {
	jar, _ := cookiejar.New(nil)
	b := &danceBrowser{user: user, remoteUser: remoteUser}
	b.Client = &http.Client{Jar: jar, Timeout: 10 * time.Second,
		Transport:     b,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return b
}

var dialer = &net.Dialer{Timeout: 5 * time.Second}

var baseTransport = &http.Transport{DialContext: dialer.DialContext, DisableKeepAlives: true}

func (b *danceBrowser) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	switch "http://" + r.URL.Host {
	case appBase:
		if b.user != "" {
			r.SetBasicAuth(b.user, password)
		}
	case jiraBase:
		if b.remoteUser != "" {
			r.Header.Set("X-Remote-User", b.remoteUser)
		}
	}
	return baseTransport.RoundTrip(r)
}

type page struct {
	status int
	header http.Header
	body   string
	url    string
}

func (b *danceBrowser) get(t *testing.T, raw string) page {
	t.Helper()
	return b.do(t, "GET", raw, "")
}

func (b *danceBrowser) do(t *testing.T, method, raw, form string) page {
	t.Helper()
	var body io.Reader
	if form != "" {
		body = strings.NewReader(form)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, raw, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, raw, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, header: resp.Header, body: string(data), url: raw}
}

// location resolves the Location of p against its URL.
func (p page) location(t *testing.T) string {
	t.Helper()
	loc := p.header.Get("Location")
	if loc == "" {
		t.Fatalf("%s: %d without Location: %s", p.url, p.status, p.body)
	}
	u, _ := url.Parse(p.url)
	l, err := u.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return l.String()
}

var (
	csrfRe    = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	linkHdrRe = regexp.MustCompile(`^<([^>]+)>; rel="authenticate"$`)
)

// decide plays the user on the remote's approval page (reached at
// authURL): Allow or Deny. It returns the remote's answer (a redirect to
// our callback).
func (b *danceBrowser) decide(t *testing.T, authURL string, allow bool) page {
	t.Helper()
	p := b.get(t, authURL)
	m := csrfRe.FindStringSubmatch(p.body)
	if p.status != 200 || m == nil || !strings.Contains(p.body, "Local app") || !strings.Contains(p.body, `id="user">`+b.remoteUser+`<`) {
		t.Fatalf("approval page %d: %s", p.status, p.body)
	}
	u, _ := url.Parse(authURL)
	form := url.Values{"oauth_token": {u.Query().Get("oauth_token")}, "oauth_callback": {u.Query().Get("oauth_callback")}, "csrf": {m[1]}}
	if allow {
		form.Set("approve", "Allow")
	} else {
		form.Set("deny", "Deny")
	}
	return b.do(t, "POST", jiraBase+"/plugins/servlet/oauth/authorize", form.Encode())
}

// admin calls Caddy's admin API.
func admin(t *testing.T, method, path, body string, out any) {
	t.Helper()
	req, _ := http.NewRequest(method, fmt.Sprintf("http://localhost:%d%s", danceAdminPort, path), strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("admin %s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("admin %s: %v: %s", path, err, data)
		}
	}
}

// accessTokenIDs lists the remote's access tokens of user (their IDs).
func accessTokenIDs(t *testing.T, user string) []string {
	t.Helper()
	var list []struct {
		ID   string `json:"id"`
		Kind string `json:"kind"`
	}
	admin(t, "GET", "/applink/tokens?kind=access&user="+url.QueryEscape(user), "", &list)
	var ids []string
	for _, e := range list {
		ids = append(ids, e.ID)
	}
	return ids
}

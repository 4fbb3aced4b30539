package caddymodule

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/caddy-applink/caddy-applink/internal/testkit"
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
	// danceKeys is the local app's key pair (app.pem, app.pub.pem).
	danceKeys = testkit.SharedKeyPair("app")
	// pwHash is password's bcrypt hash, for basic_auth.
	pwHash = sync.OnceValue(func() string {
		h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
		if err != nil {
			panic(err)
		}
		return string(h)
	})
)

// The remote Jira's product is a testkit.Recorder; the remote's applink
// handler tells it the mode in X-Applink-Mode.

// config is the whole Caddyfile: the remote Jira (provider, header login
// from the SSO in front, trusted from 127.0.0.1) in front of rec, and the
// local app, where basic_auth establishes the local user, applink_dance
// obtains tokens and the transport uses them. jiraExtra goes into the
// applink block, transportExtra into the transport's.
func config(dir string, rec *recorder, jiraExtra, transportExtra string) string {
	state := fmt.Sprintf("state file %s {\n\t\t\tencryption_key %s\n\t\t}", filepath.Join(dir, "app.db"), stateKey)
	return testkit.CaddyGlobals(danceAdminPort, danceHTTPPort, danceHTTPSPort, testkit.NoGrace, testkit.TrustLoopback,
		jsonLog(filepath.Join(dir, "caddy.log"))) + fmt.Sprintf(`
%[1]s {
	applink {
		base_url %[1]s
		login header X-Remote-User
		state file %[2]s
		consumer %[3]s {
			name "Local app"
			description "The local app of the dance tests"
			public_key_file %[4]s
		}
		%[5]s
	}
	request_header X-Applink-Mode {applink.mode}
	reverse_proxy %[6]s
}

%[7]s {
	basic_auth {
		alice %[8]s
		bob %[8]s
	}
	applink_dance {
		base_url %[7]s
		consumer_key %[3]s
		private_key_file %[9]s
		link jira {
			remote_base_url %[1]s
		}
		%[10]s
	}
	reverse_proxy localhost:%[11]d {
		transport applink {
			consumer_key %[3]s
			private_key_file %[9]s
			remote_base_url %[1]s
			mode 3lo
			user {http.auth.user.id}
			link_id jira
			%[10]s
			%[12]s
		}
	}
}
`, jiraBase, filepath.Join(dir, "jira.db"), danceConsumerKey, danceKeys().PubFile, jiraExtra,
		rec.Addr(), appBase, pwHash(), danceKeys().PrivFile, state, danceHTTPPort, transportExtra)
}

// start loads the config and waits until the applink handler's nonce
// store takes requests stamped now.
func start(t *testing.T, rec *recorder, jiraExtra, transportExtra string) string {
	t.Helper()
	dir := t.TempDir()
	testkit.LoadCaddy(t, danceAdminPort, 20*time.Second, config(dir, rec, jiraExtra, transportExtra))
	waitForNonceFloor()
	return filepath.Join(dir, "caddy.log")
}

// reachedAs reports whether p is the remote product's answer to a request
// that reached it as user, in 3LO.
func reachedAs(t *testing.T, rec *recorder, p page, user string) bool {
	t.Helper()
	return p.status == 200 && p.body == "user="+user && rec.Last(t).Header.Get("X-Applink-Mode") == "3lo"
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
	resp, data := testkit.Do(t, b.Client, req)
	return page{status: resp.StatusCode, header: resp.Header, body: data, url: raw}
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

var linkHdrRe = regexp.MustCompile(`^<([^>]+)>; rel="authenticate"$`)

// decide plays the user on the remote's approval page (reached at
// authURL): Allow or Deny. It returns the remote's answer (a redirect to
// our callback).
func (b *danceBrowser) decide(t *testing.T, authURL string, allow bool) page {
	t.Helper()
	p := b.get(t, authURL)
	csrf := testkit.CSRF(p.body)
	if p.status != 200 || csrf == "" || !strings.Contains(p.body, "Local app") || !strings.Contains(p.body, `id="user">`+b.remoteUser+`<`) {
		t.Fatalf("approval page %d: %s", p.status, p.body)
	}
	u, _ := url.Parse(authURL)
	form := url.Values{"oauth_token": {u.Query().Get("oauth_token")}, "oauth_callback": {u.Query().Get("oauth_callback")}, "csrf": {csrf}}
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
	resp, data := testkit.Do(t, http.DefaultClient, req)
	if resp.StatusCode != 200 {
		t.Fatalf("admin %s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(data), out); err != nil {
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

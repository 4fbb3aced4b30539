//go:build linux

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dghubble "github.com/dghubble/oauth1"
)

// callbackServer is the linked application's oauth_callback: it records
// where the browser came back with.
type callbackServer struct {
	srv  *httptest.Server
	mu   sync.Mutex
	hits []url.Values
}

func newCallbackServer(t *testing.T) *callbackServer {
	c := &callbackServer{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth/callback" { // the browser also asks for /favicon.ico
			http.NotFound(w, r)
			return
		}
		c.mu.Lock()
		c.hits = append(c.hits, r.URL.Query())
		c.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>Linked app</title><h1 id="linked">Back in the linked application</h1>`)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *callbackServer) last() (url.Values, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.hits) == 0 {
		return nil, 0
	}
	return c.hits[len(c.hits)-1], len(c.hits)
}

// linkedApp is the linked application's side in the browser test, with
// dghubble/oauth1 (RSA-SHA1) as its OAuth client.
type linkedApp struct {
	cfg  *dghubble.Config
	http *http.Client
}

func newLinkedApp(callback string) *linkedApp {
	c := newClient(false)
	return &linkedApp{http: c, cfg: &dghubble.Config{
		ConsumerKey: consumerKey,
		CallbackURL: callback,
		Endpoint: dghubble.Endpoint{
			RequestTokenURL: proxyBase + requestTokenPath,
			AuthorizeURL:    proxyBase + authorizePath,
			AccessTokenURL:  proxyBase + accessTokenPath,
		},
		Signer:     &dghubble.RSASigner{PrivateKey: appKeys().Key},
		HTTPClient: c,
	}}
}

// requestToken returns a fresh request token, its secret and the URL to
// send the user to.
func (a *linkedApp) requestToken(t *testing.T) (string, string, string) {
	t.Helper()
	token, secret, err := a.cfg.RequestToken()
	if err != nil {
		t.Fatalf("request token: %v", err)
	}
	u, err := a.cfg.AuthorizationURL(token)
	if err != nil {
		t.Fatal(err)
	}
	return token, secret, u.String()
}

// accessClient exchanges an approved request token and returns an HTTP
// client that signs with the access token.
func (a *linkedApp) accessClient(t *testing.T, token, secret, verifier string) *http.Client {
	t.Helper()
	access, accessSecret, err := a.cfg.AccessToken(token, secret, verifier)
	if err != nil {
		t.Fatalf("access token: %v", err)
	}
	ctx := context.WithValue(context.Background(), dghubble.HTTPClient, a.http)
	c := a.cfg.Client(ctx, dghubble.NewToken(access, accessSecret))
	c.CheckRedirect = a.http.CheckRedirect
	c.Timeout = 10 * time.Second
	return c
}

// call3LO makes a 3LO request with api and returns status, problem, and
// what reached the product.
func call3LO(t *testing.T, rec *recorder, api *http.Client, name string) (int, string, []recorded) {
	t.Helper()
	mark := rec.Mark()
	resp, _ := do(t, api, mustRequest(t, http.MethodGet, proxyBase+"/rest/api/2/myself?case="+name, nil))
	return resp.StatusCode, problemOf(resp), find(rec, mark, name)
}

// reachesAs makes a 3LO request with api and checks that it succeeded and
// reached the product exactly once, as user.
func reachesAs(t *testing.T, rec *recorder, api *http.Client, name, user string) {
	t.Helper()
	status, problem, reached := call3LO(t, rec, api, name)
	if status != http.StatusOK || len(reached) != 1 {
		t.Fatalf("3LO request: %d %s, reached the product %d times", status, problem, len(reached))
	}
	checkUpstream(t, reached[0], user)
}

// TestApprovalPageInRealBrowser: a user approves a linked application in
// headless Chromium (driven through chromedriver's WebDriver API). The
// proxy's `login ldap` form binds to a real slapd; the approval page names
// the application and the user, carries no script and renders; Allow sends
// the browser back to the application's callback with the verifier (or, for
// an "oob" callback, shows it); the application (dghubble/oauth1) gets its
// access token and its requests reach the product as the user. On the
// user's token page, in the same browser, the application is listed, and
// Revoke ends its access: the next request gets token_rejected.
//
// While Chromium refuses the redirect to the callback (the approval page's
// CSP), the callback subtest skips with "bug: ..."; the out-of-band subtest
// covers the exchange, the requests and the token page meanwhile.
func TestApprovalPageInRealBrowser(t *testing.T) {
	requireChromium(t)
	directory := needSlapd(t)
	start := time.Now()

	rec := newRecorder(t)
	cb := newCallbackServer(t)
	loadProxy(t, rec, proxyConfig{
		// No `state`: tokens go to the default file in Caddy's data directory.
		Login:   "login ldap " + directory.url + " {\n\t\t\tuser_dn \"" + ldapUserDN + "\"\n\t\t}",
		LogFile: filepath.Join(t.TempDir(), "caddy.log"),
	})
	if _, err := os.Stat(filepath.Join(os.Getenv("XDG_DATA_HOME"), "caddy", "applink", "state.db")); err != nil {
		t.Errorf("default state file: %v", err)
	}
	b := startChromedriver(t).newBrowser(t)
	t.Logf("Chromium ready after %s", time.Since(start).Round(time.Millisecond))

	var apis []*http.Client // access tokens the browser approved

	t.Run("login, approve, back to the callback", func(t *testing.T) {
		b.t = t
		app := newLinkedApp(cb.srv.URL + "/oauth/callback?app=1")
		token, secret, authURL := app.requestToken(t)

		// The user follows the link: nobody is logged in, so the LDAP form.
		b.open(authURL)
		user := b.waitFor("input#username", 10*time.Second)
		if title := b.title(); !strings.Contains(title, "Log in") || b.scripts() != 0 {
			t.Errorf("login page: title %q, %d scripts", title, b.scripts())
		}
		// A wrong password first: refused by the directory, form shown again.
		b.logIn(user, "alice", "not-her-password")
		if msg := b.textOf("p.error"); !strings.Contains(msg, "Wrong user name or password") {
			t.Errorf("wrong password: %q", msg)
		}
		b.logIn(b.waitFor("input#username", 5*time.Second), "alice", ldapUsers["alice"])

		// Back on the approval page, logged in as alice.
		allow := checkApprovalPage(t, b, token, secret)
		shot := b.screenshot()
		if colours := checkRendered(t, shot, "approval.png"); colours["primary"] == 0 {
			t.Errorf("approval page screenshot shows no Allow button colour: %v", colours)
		}

		// Allow: the browser goes back to the linked application.
		b.click(allow)
		u, refused := b.waitNavigation(cb.srv.URL+"/oauth/callback", 10*time.Second)
		if u == "" {
			if len(refused) > 0 {
				t.Fatalf("Chromium does not follow the approval's redirect to the consumer's callback "+
					"(%s): the approval page's Content-Security-Policy has form-action 'self', which Chromium "+
					"also applies to the redirect after the form POST; the token is approved but the verifier "+
					"never reaches the application. Console: %v", cb.srv.URL, refused)
			}
			t.Fatalf("the browser is at %s, not back at the callback; console: %v", b.currentURL(), b.console())
		}
		if got := b.textOf("#linked"); got != "Back in the linked application" {
			t.Errorf("callback page %q", got)
		}
		q, hits := cb.last()
		if hits != 1 || q.Get("oauth_token") != token || q.Get("oauth_verifier") == "" || q.Get("app") != "1" {
			t.Fatalf("callback got %v (%d hits)", q, hits)
		}

		// The application exchanges the request token and calls the product.
		api := app.accessClient(t, token, secret, q.Get("oauth_verifier"))
		reachesAs(t, rec, api, "callback-approved", "alice")
		apis = append(apis, api)
	})

	t.Run("approve out of band, verifier shown", func(t *testing.T) {
		b.t = t
		app := newLinkedApp("oob")
		token, secret, authURL := app.requestToken(t)
		b.open(authURL)
		if ids, _ := b.findAll("input#username"); len(ids) > 0 { // the first subtest did not log in
			b.logIn(ids[0], "alice", ldapUsers["alice"])
		}
		allow := checkApprovalPage(t, b, token, secret)
		b.click(allow)
		verifier := b.textOf("code#verifier")
		if got := b.textOf("h1#result"); !strings.Contains(got, "You allowed "+consumerName) {
			t.Errorf("after Allow: %q", got)
		}
		if u, _ := url.Parse(b.currentURL()); u.Host != "localhost:"+strconv.Itoa(httpPort) || u.Query().Get("oauth_verifier") != "" {
			t.Errorf("after Allow the browser is at %s", u)
		}
		api := app.accessClient(t, token, secret, verifier)
		reachesAs(t, rec, api, "oob-approved", "alice")
		apis = append(apis, api)
	})

	t.Run("tokens page lists and revokes", func(t *testing.T) {
		b.t = t
		if len(apis) == 0 {
			t.Skip("no access token was approved")
		}
		b.open(proxyBase + userTokensPath)
		rows := b.waitFor("td.consumer", 5*time.Second)
		if got := b.text(rows); got != consumerName {
			t.Errorf("tokens page lists %q, want %q", got, consumerName)
		}
		if got := b.textOf("#user"); got != "alice" {
			t.Errorf("tokens page user %q", got)
		}
		if all, _ := b.findAll("td.consumer"); len(all) != len(apis) || b.scripts() != 0 {
			t.Errorf("tokens page: %d rows for %d tokens, %d scripts", len(all), len(apis), b.scripts())
		}
		_ = checkRendered(t, b.screenshot(), "tokens.png")
		for left := len(apis) - 1; left >= 0; left-- {
			b.click(b.waitFor("td form button[type=submit]", 5*time.Second))
			b.waitCount("td.consumer", left, 5*time.Second)
			if got := b.textOf("#revoked"); got != "Access revoked." {
				t.Errorf("after Revoke: %q", got)
			}
		}
		if got := b.textOf("#none"); !strings.Contains(got, "No application can act as you") {
			t.Errorf("after revoking every token the page says %q", got)
		}
		// The next 3LO request with a revoked token is refused.
		for i, api := range apis {
			status, problem, reached := call3LO(t, rec, api, "after-revoke")
			if status != http.StatusUnauthorized || problem != "token_rejected" || len(reached) != 0 {
				t.Errorf("revoked token %d: %d %s, reached the product %d times", i+1, status, problem, len(reached))
			}
		}
	})
	b.t = t
	t.Logf("browser test done in %s", time.Since(start).Round(time.Millisecond))
}

// checkApprovalPage waits for the approval page and checks it names the
// consumer and the user, has no script and no secret; it returns the Allow
// button.
func checkApprovalPage(t *testing.T, b *browser, token, secret string) string {
	t.Helper()
	allow := b.waitFor("button#allow", 10*time.Second)
	if u, _ := url.Parse(b.currentURL()); u.Path != authorizePath || u.Query().Get("oauth_token") != token {
		t.Errorf("the browser is at %s, want the authorize page", u)
	}
	if got := b.textOf("#user"); got != "alice" {
		t.Errorf("approval page user %q, want alice", got)
	}
	page := b.bodyText()
	for _, want := range []string{"Allow " + consumerName + " to access your account?", consumerKey, consumerDesc, "Deny"} {
		if !strings.Contains(page, want) {
			t.Errorf("approval page lacks %q:\n%s", want, page)
		}
	}
	src := b.source()
	if n := b.scripts(); n != 0 || strings.Contains(strings.ToLower(src), "<script") {
		t.Errorf("approval page has %d script elements", n)
	}
	if strings.Contains(src, secret) {
		t.Error("approval page shows the request token secret")
	}
	return allow
}

func mustRequest(t testing.TB, method, u string, body *strings.Reader) *http.Request {
	t.Helper()
	var req *http.Request
	var err error
	if body == nil {
		req, err = http.NewRequest(method, u, nil)
	} else {
		req, err = http.NewRequest(method, u, body)
	}
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// checkRendered saves a screenshot under the test's temporary directory
// (and in $APPLINK_SCREENSHOT_DIR when set, to look at) and checks it is a
// real rendering of the page: a PNG of the window's size in which the page's
// own colours appear (the grey background and the blue of the primary
// button or of the header text).
func checkRendered(t *testing.T, shot []byte, name string) map[string]int {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("APPLINK_SCREENSHOT_DIR"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, name), shot, 0o644)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
		return nil
	}
	bounds := img.Bounds()
	if bounds.Dx() < 300 || bounds.Dy() < 300 {
		t.Errorf("screenshot %s is %v", name, bounds)
	}
	colours := map[string]int{}
	for y := bounds.Min.Y; y < bounds.Max.Y; y += 2 {
		for x := bounds.Min.X; x < bounds.Max.X; x += 2 {
			colours[classify(img, x, y)]++
		}
	}
	if colours["background"] == 0 || colours["white"] == 0 || colours["text"] == 0 {
		t.Errorf("screenshot %s does not look rendered: %v (saved at %s)", name, colours, path)
	}
	t.Logf("screenshot %s: %v, %v", name, bounds.Size(), path)
	return colours
}

// classify names the page colours a pixel is close to.
func classify(img image.Image, x, y int) string {
	r, g, b, _ := img.At(x, y).RGBA()
	r, g, b = r>>8, g>>8, b>>8
	near := func(cr, cg, cb uint32) bool {
		d := func(a, b uint32) uint32 {
			if a > b {
				return a - b
			}
			return b - a
		}
		return d(r, cr) < 4 && d(g, cg) < 4 && d(b, cb) < 4
	}
	switch {
	case near(0xf4, 0xf5, 0xf7):
		return "background" // body{background:#f4f5f7}
	case near(0xff, 0xff, 0xff):
		return "white" // main{background:#fff}
	case near(0x00, 0x52, 0xcc):
		return "primary" // the Allow button
	case near(0x17, 0x2b, 0x4d):
		return "text" // body{color:#172b4d}
	}
	return "other"
}

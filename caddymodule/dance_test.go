package caddymodule

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/consumer"
	"github.com/caddy-applink/caddy-applink/internal/provider"
	"github.com/caddy-applink/caddy-applink/internal/store"
	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

// dance runs the danceBrowser dance from the Link header of a refused request
// to the return to redirectUrl, checking every hop, and returns where it
// ended.
func dance(t *testing.T, b *danceBrowser, refused page) string {
	t.Helper()
	m := linkHdrRe.FindStringSubmatch(refused.header.Get("Link"))
	if refused.status != 401 || m == nil {
		t.Fatalf("want 401 with a Link to the dance, got %d %q: %s", refused.status, refused.header.Get("Link"), refused.body)
	}
	start := appBase + m[1]
	p := b.get(t, start)
	if p.status != 302 {
		t.Fatalf("login-dance/authorize: %d %s", p.status, p.body)
	}
	authURL := p.location(t)
	au, _ := url.Parse(authURL)
	cb, _ := url.Parse(au.Query().Get("oauth_callback"))
	if au.Scheme+"://"+au.Host != jiraBase || au.Path != "/plugins/servlet/oauth/authorize" || au.Query().Get("oauth_token") == "" ||
		cb.Scheme+"://"+cb.Host != appBase || cb.Path != "/plugins/servlet/applinks/oauth/login-dance/access" || cb.Query().Get("applicationLinkID") != "jira" {
		t.Fatalf("authorize redirect %s", authURL)
	}
	p = b.decide(t, authURL, true)
	if p.status != 303 {
		t.Fatalf("approval: %d %s", p.status, p.body)
	}
	back := p.location(t)
	bu, _ := url.Parse(back)
	if bu.Scheme+"://"+bu.Host != appBase || bu.Query().Get("oauth_verifier") == "" || bu.Query().Get("oauth_token") != au.Query().Get("oauth_token") {
		t.Fatalf("the remote sent the danceBrowser to %s", back)
	}
	p = b.get(t, back)
	if p.status != 303 {
		t.Fatalf("login-dance/access: %d %s", p.status, p.body)
	}
	return p.location(t)
}

// TestBrowserDance: a user without a token gets 401 and a link to the
// dance; the dance through the remote's approval page stores a token; the
// request then reaches the remote's product as the approving user, in
// 3LO. A denial stores nothing. A token revoked at the remote is forgotten
// after the remote's token_rejected, and the user is sent to the dance
// again.
func TestBrowserDance(t *testing.T) {
	rec := newRecorder(t)
	logFile := start(t, rec, "", "")
	const target = "/rest/api/2/myself?expand=groups"

	alice := newBrowser("alice", "alice")
	p := alice.get(t, appBase+target)
	if p.status != 401 || p.header.Get("X-Applink-Refused") != "no_token" || !strings.Contains(p.body, "login-dance/authorize?applicationLinkID=jira") {
		t.Fatalf("before the dance: %d %v %s", p.status, p.header, p.body)
	}
	if got, want := p.header.Get("Link"), `</plugins/servlet/applinks/oauth/login-dance/authorize?applicationLinkID=jira&redirectUrl=%2Frest%2Fapi%2F2%2Fmyself%3Fexpand%3Dgroups>; rel="authenticate"`; got != want {
		t.Errorf("Link %s\nwant %s", got, want)
	}
	if rec.Count.Load() != 0 {
		t.Fatal("the remote was contacted without a token")
	}

	if ret := dance(t, alice, p); ret != appBase+target {
		t.Fatalf("returned to %s, want %s", ret, appBase+target)
	}
	p = alice.get(t, appBase+target)
	if !reachedAs(t, rec, p, "alice") {
		t.Fatalf("after the dance: %d %s", p.status, p.body)
	}
	h := rec.Last(t).Header
	if h.Get("Authorization") != "" || h.Get("X-Forwarded-User") != "alice" {
		t.Errorf("upstream headers %v", h)
	}
	if es := testkit.LogEntries(t, logFile, "login dance finished"); len(es) != 1 || es[0]["user"] != "alice" || es[0]["link"] != "jira" {
		t.Errorf("log: %v", es)
	}

	// bob has no token; his dance ends in a denial: a page, nothing stored.
	bob := newBrowser("bob", "bob")
	p = bob.get(t, appBase+"/rest/api/2/issue/X-1")
	m := linkHdrRe.FindStringSubmatch(p.header.Get("Link"))
	if p.status != 401 || m == nil {
		t.Fatalf("bob: %d %s", p.status, p.body)
	}
	start := bob.get(t, appBase+m[1])
	denied := bob.decide(t, start.location(t), false)
	back := denied.location(t)
	if u, _ := url.Parse(back); u.Query().Get("oauth_verifier") != "denied" {
		t.Fatalf("denial sent the danceBrowser to %s", back)
	}
	p = bob.get(t, back)
	if p.status != 403 || !strings.Contains(p.body, "Access denied") || !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") {
		t.Errorf("denied: %d %s", p.status, p.body)
	}
	if p = bob.get(t, appBase+"/rest/api/2/issue/X-1"); p.status != 401 || p.header.Get("X-Applink-Refused") != "no_token" {
		t.Errorf("bob after the denial: %d %s", p.status, p.body)
	}
	// bob cannot finish alice's kind of answer with a forged token.
	p = bob.get(t, appBase+"/plugins/servlet/applinks/oauth/login-dance/access?applicationLinkID=jira&oauth_token=forged&oauth_verifier=x")
	if p.status != 400 {
		t.Errorf("forged answer: %d %s", p.status, p.body)
	}
	// Error pages.
	for _, c := range []struct {
		b      *danceBrowser
		path   string
		status int
		text   string
	}{
		{bob, "/plugins/servlet/applinks/oauth/login-dance/authorize?applicationLinkID=confluence", 404, "Unknown application link"},
		{bob, "/plugins/servlet/applinks/oauth/login-dance/authorize", 400, "applicationLinkID"},
		{bob, "/plugins/servlet/applinks/oauth/login-dance/authorize?applicationLinkID=jira&redirectUrl=https://evil.example.com/", 400, "redirectUrl"},
		{newBrowser("", ""), "/plugins/servlet/applinks/oauth/login-dance/authorize?applicationLinkID=jira", 401, ""}, // basic_auth's
	} {
		if p := c.b.get(t, appBase+c.path); p.status != c.status || !strings.Contains(p.body, c.text) {
			t.Errorf("%s: %d %s", c.path, p.status, p.body)
		}
	}

	// Revoked at the remote: the remote's token_rejected reaches the client
	// once, the transport forgets the token, and the next request is sent
	// to the dance.
	var out map[string]int
	admin(t, "POST", "/applink/tokens/revoke", `{"user":"alice"}`, &out)
	if out["revoked"] != 1 {
		t.Fatalf("revoke: %v", out)
	}
	before := rec.Count.Load()
	p = alice.get(t, appBase+target)
	if p.status != 401 || !strings.Contains(p.header.Get("WWW-Authenticate"), `oauth_problem="token_rejected"`) {
		t.Errorf("after the revocation: %d %v %s", p.status, p.header, p.body)
	}
	if es := testkit.LogEntries(t, logFile, "remote rejected the user's access token"); len(es) != 1 || es[0]["user"] != "alice" {
		t.Errorf("log: %v", es)
	}
	p = alice.get(t, appBase+target)
	if p.status != 401 || p.header.Get("X-Applink-Refused") != "no_token" || p.header.Get("Link") == "" {
		t.Errorf("next request: %d %v %s", p.status, p.header, p.body)
	}
	if rec.Count.Load() != before {
		t.Error("a refused request reached the remote's product")
	}
	// A new dance restores access.
	dance(t, alice, p)
	if p = alice.get(t, appBase+target); !reachedAs(t, rec, p, "alice") {
		t.Errorf("after a second dance: %d %s", p.status, p.body)
	}

	// At rest, the token is sealed under the state's encryption key.
	testkit.LoadCaddy(t, danceAdminPort, 20*time.Second, testkit.CaddyGlobals(danceAdminPort, danceHTTPPort, danceHTTPSPort))
	db, err := store.OpenBolt(filepath.Join(filepath.Dir(logFile), "app.db"))
	if err != nil {
		t.Fatalf("the state file is still in use after unloading: %v", err)
	}
	defer db.Close()
	recd, err := db.GetRemote(context.Background(), jiraBase, "alice")
	if err != nil || recd.Token != "" || recd.SessionHandle != "" || len(recd.Sealed) == 0 || recd.SessionEnds.IsZero() {
		t.Errorf("stored record %+v, %v: want sealed, with a session end", recd, err)
	}
	sealer, _ := provider.NewSealer(stateKey)
	tokens := &consumer.Tokens{Store: db, Sealer: sealer}
	if s, err := tokens.Get(context.Background(), jiraBase, "alice"); err != nil || len(s.Token) != 32 || s.SessionHandle == "" {
		t.Errorf("opened record %+v, %v", s, err)
	}
}

// TestBrowserDanceRenewal: with short-lived access tokens at the remote,
// the transport renews through the session handle before expiry and after
// it, and requests keep passing as the user.
func TestBrowserDanceRenewal(t *testing.T) {
	rec := newRecorder(t)
	logFile := start(t, rec, "access_token_ttl 3s\n\t\tsession_ttl 1h", "renew_before 2s")
	alice := newBrowser("alice", "alice")
	dance(t, alice, alice.get(t, appBase+"/rest/x"))
	issued := time.Now()
	first := accessTokenIDs(t, "alice")
	if len(first) != 1 {
		t.Fatalf("remote tokens after the dance: %v", first)
	}
	if p := alice.get(t, appBase+"/rest/x"); !reachedAs(t, rec, p, "alice") {
		t.Fatalf("fresh token: %d %s", p.status, p.body)
	}
	if ids := accessTokenIDs(t, "alice"); len(ids) != 1 || ids[0] != first[0] {
		t.Fatalf("a fresh token (3s left, window 2s) was renewed: %v", ids)
	}

	// Within the window: renewed before use.
	time.Sleep(time.Until(issued.Add(1500 * time.Millisecond)))
	if p := alice.get(t, appBase+"/rest/x"); !reachedAs(t, rec, p, "alice") {
		t.Fatalf("within the window: %d %s", p.status, p.body)
	}
	second := accessTokenIDs(t, "alice")
	if len(second) != 1 || second[0] == first[0] {
		t.Fatalf("not renewed within the window: %v then %v", first, second)
	}
	if es := testkit.LogEntries(t, logFile, "access token renewed"); len(es) != 1 || es[0]["user"] != "alice" {
		t.Errorf("renewal log: %v", es)
	}

	// Expired at both ends, the session alive: renewed on use.
	time.Sleep(3500 * time.Millisecond)
	if p := alice.get(t, appBase+"/rest/x"); !reachedAs(t, rec, p, "alice") {
		t.Fatalf("after expiry: %d %s", p.status, p.body)
	}
	third := accessTokenIDs(t, "alice")
	if len(third) != 1 || third[0] == second[0] {
		t.Fatalf("not renewed after expiry: %v then %v", second, third)
	}
}

// TestAdminListsAndForgetsConsumerSideTokens: the admin API shows the
// tokens the proxy holds as a consumer (never their values), a pending
// dance as pending, and forgetting a user's token sends that user back to
// the dance without contacting the remote. An empty forget is refused.
func TestAdminListsAndForgetsConsumerSideTokens(t *testing.T) {
	rec := newRecorder(t)
	start(t, rec, "", "")
	const target = "/rest/api/2/myself"

	alice := newBrowser("alice", "alice")
	dance(t, alice, alice.get(t, appBase+target))
	if p := alice.get(t, appBase+target); p.status != 200 {
		t.Fatalf("after the dance: %d %s", p.status, p.body)
	}
	// bob starts a dance and does not finish it.
	bob := newBrowser("bob", "bob")
	m := linkHdrRe.FindStringSubmatch(bob.get(t, appBase+target).header.Get("Link"))
	if m == nil || bob.get(t, appBase+m[1]).status != 302 {
		t.Fatal("bob's dance did not start")
	}

	var raw []map[string]any
	admin(t, "GET", "/applink/remote-tokens", "", &raw)
	states := map[string]string{}
	for _, e := range raw {
		if e["remote"] != jiraBase {
			t.Errorf("entry for remote %v", e["remote"])
		}
		for k := range e {
			if k == "token" || k == "secret" || k == "session_handle" || k == "sealed" {
				t.Errorf("the listing shows %q: %v", k, e)
			}
		}
		states[e["user"].(string)] = e["state"].(string)
	}
	if states["alice"] != "active" || states["bob"] != "pending" || len(states) != 2 {
		t.Fatalf("states %v, want alice active and bob pending", states)
	}
	var one []map[string]any
	admin(t, "GET", "/applink/remote-tokens?user=alice&remote="+url.QueryEscape(jiraBase), "", &one)
	if len(one) != 1 || one[0]["user"] != "alice" {
		t.Errorf("filtered listing %v", one)
	}
	// The listings answer GET only.
	for _, path := range []string{"/applink/tokens", "/applink/remote-tokens"} {
		post := testkit.NewRequest(t, http.MethodPost, fmt.Sprintf("http://localhost:%d%s", danceAdminPort, path), "", "")
		if resp, body := testkit.Do(t, http.DefaultClient, post); resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: %d %s, want 405", path, resp.StatusCode, body)
		}
	}

	req, _ := http.NewRequest("POST", fmt.Sprintf("http://localhost:%d/applink/remote-tokens/forget", danceAdminPort), strings.NewReader(`{}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("an empty forget: %d, want 400", resp.StatusCode)
	}

	var out map[string]int
	admin(t, "POST", "/applink/remote-tokens/forget", `{"user":"alice"}`, &out)
	if out["forgotten"] != 1 {
		t.Fatalf("forget: %v", out)
	}
	before := rec.Count.Load()
	if p := alice.get(t, appBase+target); p.status != 401 || p.header.Get("X-Applink-Refused") != "no_token" || p.header.Get("Link") == "" {
		t.Errorf("after forgetting: %d %v %s", p.status, p.header, p.body)
	}
	if rec.Count.Load() != before {
		t.Error("a request without a token reached the remote")
	}
	// Forgetting is local: the remote still lists the access token it issued.
	if ids := accessTokenIDs(t, "alice"); len(ids) != 1 {
		t.Errorf("the remote's tokens of alice: %v", ids)
	}
	admin(t, "GET", "/applink/remote-tokens", "", &raw)
	if len(raw) != 1 || raw[0]["user"] != "bob" {
		t.Errorf("after forgetting alice: %v", raw)
	}
	// A dance in progress is forgotten by its remote too.
	admin(t, "POST", "/applink/remote-tokens/forget", `{"remote":"`+jiraBase+`","user":"bob"}`, &out)
	if admin(t, "GET", "/applink/remote-tokens", "", &raw); out["forgotten"] != 1 || len(raw) != 0 {
		t.Errorf("forgetting bob's dance: %v, left %v", out, raw)
	}
}

package login

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeJira plays Jira's /rest/api/2/myself: 200 with the user's JSON for a
// known JSESSIONID, 401 otherwise, 500 in failing mode. It records what it
// was sent.
type fakeJira struct {
	srv     *httptest.Server
	calls   atomic.Int32
	failing atomic.Bool
	slow    atomic.Bool

	mu   sync.Mutex
	seen []http.Header
}

func newFakeJira(t *testing.T) *fakeJira {
	j := &fakeJira{}
	mux := http.NewServeMux()
	mux.HandleFunc("/rest/api/2/myself", func(w http.ResponseWriter, r *http.Request) {
		j.calls.Add(1)
		j.mu.Lock()
		j.seen = append(j.seen, r.Header.Clone())
		j.mu.Unlock()
		if j.slow.Load() {
			time.Sleep(500 * time.Millisecond)
		}
		if j.failing.Load() {
			http.Error(w, "oops", http.StatusInternalServerError)
			return
		}
		users := map[string]string{
			"good": `{"self":"http://jira/rest/api/2/user?username=alice","key":"JIRAUSER10100","name":"alice","displayName":"Alice"}`,
			"bob":  `{"key":"bob","name":"bob"}`,
		}
		c, err := r.Cookie("JSESSIONID")
		if err != nil || users[c.Value] == "" {
			w.Header().Set("WWW-Authenticate", `OAuth realm="http%3A%2F%2Fjira"`)
			http.Error(w, `{"errorMessages":["You are not authenticated."]}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		_, _ = w.Write([]byte(users[c.Value]))
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		j.calls.Add(1)
		http.Redirect(w, r, "/rest/api/2/myself", http.StatusFound)
	})
	j.srv = httptest.NewServer(mux)
	t.Cleanup(j.srv.Close)
	return j
}

func (j *fakeJira) lastSeen() http.Header {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.seen[len(j.seen)-1]
}

func newTestUpstream(t *testing.T, j *fakeJira, path string) *Upstream {
	t.Helper()
	u, err := NewUpstream(UpstreamConfig{
		WhoAmIURL: j.srv.URL + path,
		LoginURL:  "https://jira.example.com/login.jsp?os_destination={return}",
		Timeout:   200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func browserReq(cookie string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "https://jira.example.com/plugins/servlet/oauth/authorize?oauth_token=t", nil)
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	return r
}

func TestUpstreamLoggedIn(t *testing.T) {
	j := newFakeJira(t)
	u := newTestUpstream(t, j, "/rest/api/2/myself")
	r := browserReq("JSESSIONID=good; applink_session=mine; applink_csrf=c")
	r.Header.Set("Authorization", "Basic YWRtaW46YWRtaW4=")
	r.Header.Set("X-Forwarded-User", "admin")
	r.Header.Set("X-Atlassian-Token", "no-check")
	got, err := u.User(r)
	if err != nil || got != "alice" {
		t.Fatalf("User = %q, %v; want alice (the name, not the key)", got, err)
	}
	seen := j.lastSeen()
	if seen.Get("Authorization") != "" || seen.Get("X-Forwarded-User") != "" || seen.Get("X-Atlassian-Token") != "" {
		t.Fatalf("forwarded more than the cookies: %v", seen)
	}
	if c := seen.Values("Cookie"); len(c) != 1 || c[0] != "JSESSIONID=good" {
		t.Fatalf("forwarded cookies %q, want only the product's", c)
	}
}

func TestUpstreamNotLoggedIn(t *testing.T) {
	j := newFakeJira(t)
	u := newTestUpstream(t, j, "/rest/api/2/myself")
	// No cookie at all: nobody, and no call.
	if got, err := u.User(browserReq("")); got != "" || err != nil || j.calls.Load() != 0 {
		t.Fatalf("no cookie: %q %v, %d calls", got, err, j.calls.Load())
	}
	// Only our own cookies: nobody, no call.
	if got, err := u.User(browserReq("applink_session=x")); got != "" || err != nil || j.calls.Load() != 0 {
		t.Fatalf("own cookies only: %q %v, %d calls", got, err, j.calls.Load())
	}
	// A cookie Jira does not know: 401, nobody; not cached.
	for i := 1; i <= 2; i++ {
		if got, err := u.User(browserReq("JSESSIONID=stale")); got != "" || err != nil {
			t.Fatalf("401: %q %v", got, err)
		}
		if j.calls.Load() != int32(i) {
			t.Fatalf("a not-logged-in answer was cached")
		}
	}
	// Challenge: 302 to the login page with the return URL encoded.
	w := httptest.NewRecorder()
	u.Challenge(w, browserReq(""), "/plugins/servlet/oauth/authorize?oauth_token=a+b&x=1")
	want := "https://jira.example.com/login.jsp?os_destination=%2Fplugins%2Fservlet%2Foauth%2Fauthorize%3Foauth_token%3Da%2Bb%26x%3D1"
	if w.Code != http.StatusFound || w.Header().Get("Location") != want {
		t.Fatalf("Challenge: %d %q, want 302 %q", w.Code, w.Header().Get("Location"), want)
	}
	// An off-site return URL becomes "/".
	w = httptest.NewRecorder()
	u.Challenge(w, browserReq(""), "//evil.example/")
	if loc := w.Header().Get("Location"); loc != "https://jira.example.com/login.jsp?os_destination=%2F" {
		t.Fatalf("Challenge with //evil: %q", loc)
	}
	if u.Handle(httptest.NewRecorder(), browserReq("")) {
		t.Fatal("Handle claimed a request")
	}
}

func TestUpstreamRedirectIsNotLoggedIn(t *testing.T) {
	j := newFakeJira(t)
	u := newTestUpstream(t, j, "/redirect")
	got, err := u.User(browserReq("JSESSIONID=good"))
	if got != "" || err != nil {
		t.Fatalf("redirect: %q %v", got, err)
	}
	if j.calls.Load() != 1 {
		t.Fatalf("the redirect was followed (%d calls)", j.calls.Load())
	}
}

func TestUpstreamFailuresFailClosed(t *testing.T) {
	j := newFakeJira(t)
	u := newTestUpstream(t, j, "/rest/api/2/myself")
	j.failing.Store(true)
	if got, err := u.User(browserReq("JSESSIONID=good")); err == nil || got != "" {
		t.Fatalf("500: %q %v, want an error", got, err)
	}
	// Errors are not cached: once Jira is back, the answer is fresh.
	j.failing.Store(false)
	if got, err := u.User(browserReq("JSESSIONID=good")); err != nil || got != "alice" {
		t.Fatalf("after recovery: %q %v", got, err)
	}
	// Time-out.
	j.slow.Store(true)
	if got, err := u.User(browserReq("JSESSIONID=bob")); err == nil || got != "" {
		t.Fatalf("slow: %q %v, want an error", got, err)
	}
	j.slow.Store(false)
	// Unknown path (404) is an error, not "nobody".
	u404 := newTestUpstream(t, j, "/nope")
	if _, err := u404.User(browserReq("JSESSIONID=good")); err == nil {
		t.Fatal("404: no error")
	}
	// Network failure.
	j.srv.Close()
	if got, err := u.User(browserReq("JSESSIONID=bob")); err == nil || got != "" {
		t.Fatalf("server down: %q %v", got, err)
	}
	if err := func() error { _, err := u.User(browserReq("JSESSIONID=bob")); return err }(); strings.Contains(err.Error(), "JSESSIONID") {
		t.Fatalf("the error shows the cookie: %v", err)
	}
}

func TestUpstreamCache(t *testing.T) {
	j := newFakeJira(t)
	u := newTestUpstream(t, j, "/rest/api/2/myself")
	now := time.Unix(1_800_000_000, 0)
	u.now = func() time.Time { return now }
	for i := 0; i < 3; i++ {
		if got, _ := u.User(browserReq("JSESSIONID=good")); got != "alice" {
			t.Fatalf("call %d: %q", i, got)
		}
	}
	if j.calls.Load() != 1 {
		t.Fatalf("%d calls for three lookups of one cookie, want 1", j.calls.Load())
	}
	// Another browser's cookies: its own answer, not alice's.
	if got, _ := u.User(browserReq("JSESSIONID=bob")); got != "bob" {
		t.Fatalf("bob's cookie answered %q", got)
	}
	if got, _ := u.User(browserReq("JSESSIONID=stale")); got != "" {
		t.Fatalf("a stale cookie answered %q", got)
	}
	if j.calls.Load() != 3 {
		t.Fatalf("%d calls, want 3", j.calls.Load())
	}
	// Our own cookies do not split the cache.
	if got, _ := u.User(browserReq("JSESSIONID=good; applink_csrf=zzz")); got != "alice" || j.calls.Load() != 3 {
		t.Fatalf("with applink_csrf: %q, %d calls", got, j.calls.Load())
	}
	// After CacheTTL (30s by default), asked again.
	now = now.Add(30 * time.Second)
	if got, _ := u.User(browserReq("JSESSIONID=good")); got != "alice" || j.calls.Load() != 4 {
		t.Fatalf("after the TTL: %q, %d calls", got, j.calls.Load())
	}
	// Bounded.
	u.maxCache = 2
	u.store([32]byte{1}, "x")
	u.store([32]byte{2}, "y")
	u.store([32]byte{3}, "z")
	if len(u.cache) > 2 {
		t.Fatalf("%d cache entries, max 2", len(u.cache))
	}
	// Negative TTL: no cache.
	nc, _ := NewUpstream(UpstreamConfig{WhoAmIURL: j.srv.URL + "/rest/api/2/myself", LoginURL: "/login.jsp", CacheTTL: -1})
	before := j.calls.Load()
	nc.User(browserReq("JSESSIONID=good"))
	nc.User(browserReq("JSESSIONID=good"))
	if j.calls.Load() != before+2 {
		t.Fatal("cached with a negative TTL")
	}
}

func TestParseWhoAmI(t *testing.T) {
	cases := []struct {
		name, ct, body, user string
		wantErr              bool
	}{
		{"jira", "application/json;charset=UTF-8", `{"key":"JIRAUSER10100","name":"alice"}`, "alice", false},
		{"bamboo", "application/json", `{"name":"bob","fullName":"Bob","email":"b@x"}`, "bob", false},
		{"confluence", "application/json", `{"type":"known","username":"carol","userKey":"8a8"}`, "carol", false},
		{"confluence anonymous", "application/json", `{"type":"anonymous","displayName":"Anonymous"}`, "", false},
		{"bitbucket", "application/json", `{"slug":"dave","id":3}`, "dave", false},
		{"key only", "application/json", `{"key":"erin"}`, "erin", false},
		{"oauth2-proxy userinfo", "application/json", `{"user":"ivy","email":"ivy@example.org","preferredUsername":"Ivy"}` + "\n", "ivy", false},
		{"product name before user", "application/json", `{"user":"x","name":"jo"}`, "jo", false},
		{"null name, username", "application/json", `{"name":null,"username":"frank"}`, "frank", false},
		{"empty object", "application/json", `{}`, "", false},
		{"no content type", "", `{"name":"gina"}`, "gina", false},
		{"text", "text/plain;charset=UTF-8", "henry\n", "henry", false},
		{"empty text", "text/plain", "  \n", "", false},
		{"html", "text/html", "<html>login</html>", "", true},
		{"bad json", "application/json", `{"name":`, "", true},
		{"array", "application/json", `["alice"]`, "", true},
		{"control char", "application/json", `{"name":"a\u0001b"}`, "", true},
		{"too long", "application/json", `{"name":"` + strings.Repeat("a", 256) + `"}`, "", true},
	}
	for _, c := range cases {
		got, err := parseWhoAmI(c.ct, []byte(c.body))
		if got != c.user || (err != nil) != c.wantErr {
			t.Errorf("%s: %q, %v; want %q, error %v", c.name, got, err, c.user, c.wantErr)
		}
	}
}

func TestUpstreamConfig(t *testing.T) {
	for _, c := range []UpstreamConfig{
		{WhoAmIURL: "/rest/api/2/myself", LoginURL: "/login.jsp"},
		{WhoAmIURL: "ftp://jira/x", LoginURL: "/login.jsp"},
		{WhoAmIURL: "http://jira:8080/rest/api/2/myself", LoginURL: ""},
		{WhoAmIURL: "http://jira:8080/rest/api/2/myself", LoginURL: "//evil.example/login"},
		{WhoAmIURL: "http://jira:8080/rest/api/2/myself", LoginURL: "javascript:alert(1)"},
	} {
		if _, err := NewUpstream(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	// A caller's client is copied, not changed.
	client := &http.Client{}
	if _, err := NewUpstream(UpstreamConfig{WhoAmIURL: "http://jira:8080/x", LoginURL: "/login.jsp?os_destination={return}", Client: client}); err != nil {
		t.Fatal(err)
	}
	if client.CheckRedirect != nil {
		t.Fatal("the caller's client was modified")
	}
}

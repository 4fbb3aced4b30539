package signer

import (
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

func TestNew(t *testing.T) {
	good := Config{ConsumerKey: "k", PrivateKey: testKey(), RemoteBaseURL: "https://jira.example.com/jira"}
	if _, err := New(good); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	broken := *testKey()
	broken.D = new(big.Int).Add(broken.D, big.NewInt(2))
	for name, mutate := range map[string]func(*Config){
		"empty consumer key": func(c *Config) { c.ConsumerKey = "" },
		"nil key":            func(c *Config) { c.PrivateKey = nil },
		"inconsistent key":   func(c *Config) { c.PrivateKey = &broken },
		"empty base URL":     func(c *Config) { c.RemoteBaseURL = "" },
		"relative base URL":  func(c *Config) { c.RemoteBaseURL = "/jira" },
		"ftp base URL":       func(c *Config) { c.RemoteBaseURL = "ftp://jira.example.com" },
		"base URL w/ query":  func(c *Config) { c.RemoteBaseURL = "https://jira.example.com/?a=b" },
		"base URL w/ user":   func(c *Config) { c.RemoteBaseURL = "https://u:p@jira.example.com/" },
		"base URL w/ frag":   func(c *Config) { c.RemoteBaseURL = "https://jira.example.com/#x" },
		"unparsable URL":     func(c *Config) { c.RemoteBaseURL = "https://jira example.com/%zz" },
	} {
		cfg := good
		mutate(&cfg)
		if s, err := New(cfg); err == nil {
			t.Errorf("%s: New succeeded (%+v)", name, s)
		}
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range []Mode{Mode2LO, ModeImpersonation, Mode3LO} {
		if got, err := ParseMode(string(m)); err != nil || got != m {
			t.Errorf("ParseMode(%q) = %q, %v", m, got, err)
		}
	}
	for _, s := range []string{"", "2LO", "2lo-impersonation", "anonymous"} {
		if _, err := ParseMode(s); !errors.Is(err, ErrUnknownMode) {
			t.Errorf("ParseMode(%q): err = %v, want ErrUnknownMode", s, err)
		}
	}
}

// TestSignGolden pins the header and the base string for fixed time and
// nonce, and checks the signature with crypto/rsa directly.
func TestSignGolden(t *testing.T) {
	s := newSigner(t, "https://Jira.Example.com:443/jira/", fixed)
	req := testkit.NewRequest(t, "GET", "http://10.0.0.7:8080/jira/rest/api/2/search?jql=a+b&expand=y&expand=x&oauth_token=evil", "", "")
	req.Header.Set("Authorization", "Basic YWRtaW46YWRtaW4=")
	signed, err := s.SignRequest(req, ModeImpersonation, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	wantBase := "GET&https%3A%2F%2Fjira.example.com%2Fjira%2Frest%2Fapi%2F2%2Fsearch&" +
		"expand%3Dx%26expand%3Dy%26jql%3Da%2520b%26oauth_consumer_key%3Dcaddy-applink%253Atest" +
		"%26oauth_nonce%3Dn0nce%26oauth_signature_method%3DRSA-SHA1%26oauth_timestamp%3D1700000000" +
		"%26oauth_token%3D%26oauth_version%3D1.0%26xoauth_requestor_id%3Dalice"
	checkSignedBase(t, signed, wantBase)
	if signed.URL != "https://jira.example.com/jira/rest/api/2/search" {
		t.Errorf("URL = %s", signed.URL)
	}
	wantHeader := `OAuth oauth_consumer_key="caddy-applink%3Atest", oauth_token="", ` +
		`oauth_signature_method="RSA-SHA1", oauth_timestamp="1700000000", oauth_nonce="n0nce", ` +
		`oauth_version="1.0", oauth_signature="` + oauth1.PercentEncode(signed.Signature) + `"`
	if got := req.Header.Values("Authorization"); len(got) != 1 || got[0] != wantHeader {
		t.Errorf("Authorization\n got %q\nwant %q", got, wantHeader)
	}
	if signed.Authorization != wantHeader {
		t.Errorf("Signed.Authorization = %q", signed.Authorization)
	}
	if got, want := req.URL.RawQuery, "jql=a+b&expand=y&expand=x&xoauth_requestor_id=alice"; got != want {
		t.Errorf("query = %q, want %q", got, want)
	}
	if signed.Mode != ModeImpersonation || signed.User != "alice" {
		t.Errorf("Signed = %+v", signed)
	}
}

// TestSignedURL covers the path rules: the path is taken as Go will send it,
// the host from the remote base URL, the context path prepended when absent.
func TestSignedURL(t *testing.T) {
	for _, tc := range []struct{ base, target, want string }{
		{"https://jira.example.com", "http://127.0.0.1:1", "https://jira.example.com/"},
		{"https://jira.example.com/jira", "http://127.0.0.1:1/jira/rest", "https://jira.example.com/jira/rest"},
		{"https://jira.example.com/jira", "http://127.0.0.1:1/jira", "https://jira.example.com/jira"},
		{"https://jira.example.com/jira", "http://127.0.0.1:1/rest/api", "https://jira.example.com/jira/rest/api"},
		{"https://jira.example.com/jira", "http://127.0.0.1:1/jiraX/a", "https://jira.example.com/jira/jiraX/a"},
		{"http://jira.example.com:80/", "http://x/a%2Fb%20c;jsessionid=1", "http://jira.example.com/a%2Fb%20c;jsessionid=1"},
		{"HTTP://JIRA.example.com:8080", "http://x/%7euser/J%C3%BCrgen", "http://jira.example.com:8080/%7euser/J%C3%BCrgen"},
		{"https://[::1]:8443/ctx", "http://x/ctx/a", "https://[::1]:8443/ctx/a"},
	} {
		s := newSigner(t, tc.base)
		req := testkit.NewRequest(t, "GET", tc.target, "", "")
		signed, err := s.SignRequest(req, Mode2LO, "", nil)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.base, tc.target, err)
		}
		if signed.URL != tc.want {
			t.Errorf("%s + %s: signed URL %s, want %s", tc.base, tc.target, signed.URL, tc.want)
		}
		if !strings.HasPrefix(signed.BaseString, "GET&"+oauth1.PercentEncode(tc.want)+"&") {
			t.Errorf("base string %s does not use %s", signed.BaseString, tc.want)
		}
	}
	// A RawPath that does not match Path is ignored by Go when it sends the
	// request, and so by the signer.
	s := newSigner(t, "https://jira.example.com")
	u := &url.URL{Scheme: "http", Host: "x", Path: "/a b/c", RawPath: "/x"}
	req := &http.Request{Method: "GET", URL: u, Header: http.Header{}}
	signed, err := s.SignRequest(req, Mode2LO, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://jira.example.com/a%20b/c"; signed.URL != want {
		t.Errorf("signed %s, want %s (request URI %s)", signed.URL, want, req.URL.RequestURI())
	}
	if got, _, _ := strings.Cut(req.URL.RequestURI(), "?"); "https://jira.example.com"+got != signed.URL {
		t.Errorf("signed %s but Go sends %s", signed.URL, got)
	}
}

func TestSignModes(t *testing.T) {
	s := newSigner(t, "https://jira.example.com", fixed)
	header := func(req *http.Request) map[string]string {
		_, ps, err := oauth1.ParseAuthorizationHeader(req.Header.Get("Authorization"))
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, p := range ps {
			if !strings.HasPrefix(p.Key, "oauth_") {
				t.Errorf("non-oauth parameter %q in header", p.Key)
			}
			m[p.Key] = p.Value
		}
		return m
	}

	req := testkit.NewRequest(t, "GET", "http://x/rest", "", "")
	if err := s.Sign(req, Mode2LO, "ignored", &Token{Token: "ignored"}); err != nil {
		t.Fatal(err)
	}
	if h := header(req); h["oauth_token"] != "" || req.URL.RawQuery != "" {
		t.Errorf("2lo: header %v, query %q", h, req.URL.RawQuery)
	}
	if _, ok := header(req)["oauth_token"]; !ok {
		t.Error("2lo: oauth_token absent (Atlassian would serve the request anonymously)")
	}

	req = testkit.NewRequest(t, "GET", "http://x/rest", "", "")
	if err := s.Sign(req, Mode3LO, "ignored", &Token{Token: testToken, Secret: testTokenSecret}); err != nil {
		t.Fatal(err)
	}
	if h := header(req); h["oauth_token"] != testToken || req.URL.RawQuery != "" {
		t.Errorf("3lo: header %v, query %q", h, req.URL.RawQuery)
	}

	req = testkit.NewRequest(t, "GET", "http://x/rest", "", "")
	if err := s.Sign(req, ModeImpersonation, "jürgen o'brien+1@example.com", nil); err != nil {
		t.Fatal(err)
	}
	if h := header(req); h["oauth_token"] != "" {
		t.Errorf("impersonation: header %v", h)
	}
	q, err := url.ParseQuery(req.URL.RawQuery)
	if err != nil || !reflect.DeepEqual(q["xoauth_requestor_id"], []string{"jürgen o'brien+1@example.com"}) {
		t.Errorf("impersonation: query %q", req.URL.RawQuery)
	}
}

// TestSignErrorsLeaveRequestAlone: a refused request is not half-signed.
func TestSignErrorsLeaveRequestAlone(t *testing.T) {
	s := newSigner(t, "https://jira.example.com", func(c *Config) { c.MaxFormBytes = 16 })
	for _, tc := range []struct {
		name, target, ctype, body string
		mode                      Mode
		user                      string
		token                     *Token
		want                      error
	}{
		{"impersonation without user", "http://x/a?xoauth_requestor_id=admin", "", "", ModeImpersonation, "", nil, ErrNoUser},
		{"impersonation with control char", "http://x/a", "", "", ModeImpersonation, "al\nice", nil, ErrBadUser},
		{"impersonation with invalid utf-8", "http://x/a", "", "", ModeImpersonation, "al\xffice", nil, ErrBadUser},
		{"impersonation with a name the verifier refuses (256 characters)", "http://x/a", "", "", ModeImpersonation, strings.Repeat("u", 256), nil, ErrBadUser},
		{"impersonation with a C1 control", "http://x/a", "", "", ModeImpersonation, "al\u0085ice", nil, ErrBadUser},
		{"3lo without token", "http://x/a", "", "", Mode3LO, "alice", nil, ErrNoToken},
		{"3lo with empty token", "http://x/a", "", "", Mode3LO, "alice", &Token{Secret: "s"}, ErrNoToken},
		{"unknown mode", "http://x/a", "", "", Mode("2LO"), "", nil, ErrUnknownMode},
		{"empty mode", "http://x/a", "", "", Mode(""), "", nil, ErrUnknownMode},
		{"form too large", "http://x/a", formType, "a=0123456789abcdef", Mode2LO, "", nil, ErrFormTooLarge},
		{"bad query encoding", "http://x/a?q=%zz", "", "", Mode2LO, "", nil, nil},
		{"bad form encoding", "http://x/a", formType, "q=%z", Mode2LO, "", nil, nil},
		// What the remote's Tomcat would read as other characters.
		{"query that is not UTF-8", "http://x/a?q=%E9", "", "", Mode2LO, "", nil, ErrParams},
		{"form that is not UTF-8", "http://x/a", formType, "q=%E9", Mode2LO, "", nil, ErrParams},
		{"query in UTF-16", "http://x/a?q=1", "text/plain; charset=UTF-16", "x", Mode2LO, "", nil, ErrCharset},
		{"impersonation in UTF-16", "http://x/a", "application/json; charset=UTF-16", "x", ModeImpersonation, "alice", nil, ErrCharset},
		{"two charsets", "http://x/a?q=1", "text/plain; charset=utf-8; charset=utf-16", "x", Mode2LO, "", nil, ErrCharset},
		{"user not in ISO-8859-1", "http://x/a", "text/plain; charset=ISO-8859-1", "x", ModeImpersonation, "Ōtani", nil, ErrParams},
		{"impersonation with a leading space", "http://x/a", "", "", ModeImpersonation, " alice", nil, ErrBadUser},
		{"impersonation with a trailing space", "http://x/a", "", "", ModeImpersonation, "alice ", nil, ErrBadUser},
	} {
		req := testkit.NewRequest(t, "POST", tc.target, tc.ctype, tc.body)
		req.Header.Set("Authorization", "Basic eDp5")
		before := req.URL.String()
		err := s.Sign(req, tc.mode, tc.user, tc.token)
		if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		if req.URL.String() != before || req.Header.Get("Authorization") != "Basic eDp5" {
			t.Errorf("%s: request changed: %s %v", tc.name, req.URL, req.Header)
		}
		if got := readBody(t, req); got != tc.body {
			t.Errorf("%s: body %q, want %q", tc.name, got, tc.body)
		}
	}
}

// TestSignStripsIdentity: the local client cannot choose who it is at the
// remote, through headers, the query or a form body.
func TestSignStripsIdentity(t *testing.T) {
	s := newSigner(t, "https://jira.example.com", fixed)
	target := "http://x/a?oauth_token=evil&keep=%7e+1&xoauth_requestor_id=admin&user_id=admin&" +
		"oauth%5Fconsumer_key=x&oauth_signature=x&&keep=2&x%6Fauth_requestor_id=root&OAUTH_TOKEN=kept"
	for _, ctype := range []string{formType, formType + "; charset=UTF-8", "Application/X-WWW-Form-URLEncoded"} {
		for _, method := range []string{"POST", "PUT"} {
			body := "user_id=admin&b=1&oauth_token=evil&xoauth_requestor_id=admin&b=%2B"
			req := testkit.NewRequest(t, method, target, ctype, body)
			req.Header["authorization"] = []string{"Basic YWRtaW46YWRtaW4="} // non-canonical key
			req.Header.Add("Authorization", `OAuth oauth_token="evil"`)
			signed, err := s.SignRequest(req, ModeImpersonation, "alice", nil)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := req.URL.RawQuery, "keep=%7e+1&&keep=2&OAUTH_TOKEN=kept&xoauth_requestor_id=alice"; got != want {
				t.Errorf("query %q, want %q", got, want)
			}
			var authz []string
			for k, v := range req.Header {
				if strings.EqualFold(k, "Authorization") {
					authz = append(authz, v...)
				}
			}
			if len(authz) != 1 || authz[0] != signed.Authorization {
				t.Errorf("Authorization headers %q", authz)
			}
			if got := readBody(t, req); got != "b=1&b=%2B" {
				t.Errorf("%s %s: body %q", method, ctype, got)
			}
			if req.ContentLength != int64(len("b=1&b=%2B")) {
				t.Errorf("ContentLength %d", req.ContentLength)
			}
			signedBody := method == "POST" && !strings.HasPrefix(ctype, "Application")
			var users []string
			bodyParams := 0
			for _, p := range signed.Params {
				if p.Key == "xoauth_requestor_id" || p.Key == "user_id" {
					users = append(users, p.Value)
				}
				if p.Key == "b" {
					bodyParams++
				}
			}
			if !reflect.DeepEqual(users, []string{"alice"}) {
				t.Errorf("signed requestors %q", users)
			}
			if signedBody != (bodyParams == 2) {
				t.Errorf("%s %q: %d body params signed", method, ctype, bodyParams)
			}
		}
	}
}

// TestSignRepeatedAndPlus: all values of repeated keys are signed, "+" is a
// space, "%2B" a plus, a key without "=" an empty value.
func TestSignRepeatedAndPlus(t *testing.T) {
	s := newSigner(t, "https://jira.example.com", fixed)
	req := testkit.NewRequest(t, "POST", "http://x/a?e=2&e=1&e=2&q=a+b&p=1%2B1&flag&empty=", formType+";charset=UTF-8", "e=0&f=x+y")
	signed, err := s.SignRequest(req, Mode2LO, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range signed.Params {
		if !strings.HasPrefix(p.Key, "oauth_") {
			got = append(got, p.Key+"="+p.Value)
		}
	}
	want := []string{"e=2", "e=1", "e=2", "q=a b", "p=1+1", "flag=", "empty=", "e=0", "f=x y"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("signed params %q, want %q", got, want)
	}
	if !strings.Contains(signed.BaseString, "e%3D0%26e%3D1%26e%3D2%26e%3D2%26empty%3D%26f%3Dx%2520y%26flag%3D%26") {
		t.Errorf("base string %s", signed.BaseString)
	}
	if !strings.Contains(signed.BaseString, "p%3D1%252B1%26q%3Da%2520b") {
		t.Errorf("base string %s", signed.BaseString)
	}
}

// TestSignBody: bodies are put back intact and replayable; non-form bodies
// are not read at all.
func TestSignBody(t *testing.T) {
	s := newSigner(t, "https://jira.example.com")

	req := testkit.NewRequest(t, "POST", "http://x/a", formType, "a=1&b=%C3%A9")
	req.ContentLength = -1
	req.TransferEncoding = []string{"chunked"}
	if err := s.Sign(req, Mode2LO, "", nil); err != nil {
		t.Fatal(err)
	}
	if req.ContentLength != 12 || req.TransferEncoding != nil {
		t.Errorf("ContentLength %d, TransferEncoding %v", req.ContentLength, req.TransferEncoding)
	}
	if got := readBody(t, req); got != "a=1&b=%C3%A9" {
		t.Errorf("body %q", got)
	}
	again, err := req.GetBody()
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(again); string(b) != "a=1&b=%C3%A9" {
		t.Errorf("GetBody %q", b)
	}

	// Everything stripped: an empty body.
	req = testkit.NewRequest(t, "POST", "http://x/a", formType, "oauth_token=x")
	if err := s.Sign(req, Mode2LO, "", nil); err != nil {
		t.Fatal(err)
	}
	if req.Body != http.NoBody || req.ContentLength != 0 {
		t.Errorf("body %v, length %d", req.Body, req.ContentLength)
	}

	// A JSON body is neither read nor signed.
	body := &trackingBody{Reader: strings.NewReader(`{"oauth_token":"x"}`)}
	req = testkit.NewRequest(t, "POST", "http://x/a", "application/json", "")
	req.Body = body
	if err := s.Sign(req, Mode2LO, "", nil); err != nil {
		t.Fatal(err)
	}
	if body.reads != 0 || req.Body != body {
		t.Errorf("JSON body was read (%d reads) or replaced", body.reads)
	}
}

type trackingBody struct {
	io.Reader
	reads int
}

func (b *trackingBody) Read(p []byte) (int, error) { b.reads++; return b.Reader.Read(p) }
func (b *trackingBody) Close() error               { return nil }

// TestSignIdempotent: signing a signed request again replaces the signature
// instead of piling up parameters (retries, redirects).
func TestSignIdempotent(t *testing.T) {
	s := newSigner(t, "https://jira.example.com/jira")
	req := testkit.NewRequest(t, "POST", "http://x/jira/a?x=1", formType, "f=1")
	for i := 0; i < 3; i++ {
		if err := s.Sign(req, ModeImpersonation, fmt.Sprintf("user%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := req.URL.RawQuery; got != "x=1&xoauth_requestor_id=user2" {
		t.Errorf("query %q", got)
	}
	if n := len(req.Header.Values("Authorization")); n != 1 {
		t.Errorf("%d Authorization headers", n)
	}
	if got := readBody(t, req); got != "f=1" {
		t.Errorf("body %q", got)
	}
}

func TestSignNonceAndClock(t *testing.T) {
	s := newSigner(t, "https://jira.example.com", func(c *Config) { c.Nonce = func() string { return "" } })
	req := testkit.NewRequest(t, "POST", "http://x/a", formType, "a=1")
	if err := s.Sign(req, Mode2LO, "", nil); err == nil {
		t.Error("empty nonce accepted")
	}
	if got := readBody(t, req); got != "a=1" {
		t.Errorf("body after failure %q", got)
	}

	// Default nonces are unique, default clock is now.
	s = newSigner(t, "https://jira.example.com")
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		signed, err := s.SignRequest(testkit.NewRequest(t, "GET", "http://x/", "", ""), Mode2LO, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		nonce := signed.Params[4].Value
		if signed.Params[4].Key != "oauth_nonce" || len(nonce) != 64 || seen[nonce] {
			t.Fatalf("nonce %q (%s)", nonce, signed.Params[4].Key)
		}
		seen[nonce] = true
	}
}

func TestSignRejectsOddURLs(t *testing.T) {
	s := newSigner(t, "https://jira.example.com")
	for _, u := range []*url.URL{
		{Scheme: "http", Host: "x", Opaque: "//x/a"},
		{Scheme: "http", Host: "x", Path: "relative"},
	} {
		req := &http.Request{Method: "GET", URL: u, Header: http.Header{}}
		if err := s.Sign(req, Mode2LO, "", nil); err == nil {
			t.Errorf("%#v signed", u)
		}
	}
	if err := s.Sign(&http.Request{}, Mode2LO, "", nil); err == nil {
		t.Error("request without URL signed")
	}
}

// TestSignConcurrent is for -race: one Signer, many goroutines.
func TestSignConcurrent(t *testing.T) {
	s := newSigner(t, "https://jira.example.com")
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := fmt.Sprintf("user%d", i)
			req, _ := http.NewRequest("POST", "http://x/a?i=1", strings.NewReader("f=1"))
			req.Header.Set("Content-Type", formType)
			signed, err := s.SignRequest(req, ModeImpersonation, user, nil)
			if err == nil && !strings.HasSuffix(signed.BaseString, "xoauth_requestor_id%3D"+user) {
				err = fmt.Errorf("base string %s lacks %s", signed.BaseString, user)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

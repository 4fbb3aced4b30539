package testkit

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Do sends req with c and returns the response (its body read and closed)
// and the body; it fails t if the round trip fails.
func Do(t testing.TB, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// Problem returns the oauth_problem of a WWW-Authenticate header value, ""
// when it has none.
func Problem(wwwAuthenticate string) string {
	i := strings.Index(wwwAuthenticate, `oauth_problem="`)
	if i < 0 {
		return ""
	}
	rest := wwwAuthenticate[i+len(`oauth_problem="`):]
	if j := strings.IndexByte(rest, '"'); j >= 0 {
		return rest[:j]
	}
	return rest
}

var (
	csrfField    = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	verifierCode = regexp.MustCompile(`<code id="verifier">([^<]+)</code>`)
)

// Approval is what a user met at the approval page and after deciding.
type Approval struct {
	Page       string      // the approval page
	PageHeader http.Header // its response headers
	Status     int         // the status of the answer to the decision
	Header     http.Header // its headers
	Result     string      // its body
	Location   string      // its redirect, "" for none
	Verifier   string      // the verification code it shows (oob), "" for none
}

// Approve plays a user behind the trusted SSO (header X-Remote-User) at the
// approval page authURL: it opens the page, reads its CSRF field and
// presses Allow (allow) or Deny. c keeps the cookies between the two; nil
// is a new client with a cookie jar that follows no redirect. The error is
// a failed round trip, an approval page that is not 200 or one without a
// CSRF field; it returns no error to be usable from any goroutine.
func Approve(c *http.Client, authURL, user string, allow bool) (Approval, error) {
	if c == nil {
		jar, _ := cookiejar.New(nil)
		c = &http.Client{Jar: jar, Timeout: 5 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	u, err := url.Parse(authURL)
	if err != nil {
		return Approval{}, err
	}
	var a Approval
	req, _ := http.NewRequest(http.MethodGet, authURL, nil)
	req.Header.Set("X-Remote-User", user)
	resp, page, err := roundTrip(c, req)
	if err != nil {
		return a, err
	}
	a.Page, a.PageHeader = page, resp.Header
	if resp.StatusCode != http.StatusOK {
		return a, fmt.Errorf("approval page for %s: %d %s", user, resp.StatusCode, page)
	}
	csrf := CSRF(page)
	if csrf == "" {
		return a, errors.New("no CSRF field on the approval page:\n" + page)
	}
	form := url.Values{"oauth_token": {u.Query().Get("oauth_token")}, "csrf": {csrf}}
	if allow {
		form.Set("approve", "Allow")
	} else {
		form.Set("deny", "Deny")
	}
	req, _ = http.NewRequest(http.MethodPost, u.Scheme+"://"+u.Host+u.Path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", FormType)
	req.Header.Set("X-Remote-User", user)
	if resp, a.Result, err = roundTrip(c, req); err != nil {
		return a, err
	}
	a.Status, a.Header, a.Location = resp.StatusCode, resp.Header, resp.Header.Get("Location")
	if v := verifierCode.FindStringSubmatch(a.Result); v != nil {
		a.Verifier = v[1]
	}
	return a, nil
}

// CSRF is the value of a page's CSRF form field (name="csrf", as the
// handler writes it: HTML-escaped), "" when it has none.
func CSRF(page string) string {
	if m := csrfField.FindStringSubmatch(page); m != nil {
		return m[1]
	}
	return ""
}

func roundTrip(c *http.Client, req *http.Request) (*http.Response, string, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// NewRequest builds a client request with an optional body, Content-Type
// and further headers given as name, value pairs.
func NewRequest(t testing.TB, method, url, contentType, body string, header ...string) *http.Request {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	return req
}

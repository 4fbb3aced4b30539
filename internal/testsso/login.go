package testsso

import (
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// Form is an HTML form as a browser would submit it.
type Form struct {
	Action *url.URL // resolved against the page's URL
	Method string   // upper case; GET when the form names none
	Fields url.Values
}

var (
	formRe  = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form>`)
	inputRe = regexp.MustCompile(`(?is)<input\b([^>]*)>`)
	attrRe  = regexp.MustCompile(`(?is)([a-z][a-z0-9_:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))`)
)

func attrs(s string) map[string]string {
	m := map[string]string{}
	for _, a := range attrRe.FindAllStringSubmatch(s, -1) {
		m[strings.ToLower(a[1])] = html.UnescapeString(a[2] + a[3] + a[4])
	}
	return m
}

// ParseForm reads the first form of page (HTML served at base): its
// action, method and the names and values of its inputs. It is enough
// for the issuer's login page, not a general HTML parser.
func ParseForm(base *url.URL, page string) (*Form, error) {
	m := formRe.FindStringSubmatch(page)
	if m == nil {
		return nil, errors.New("no <form> in the page")
	}
	fa := attrs(m[1])
	action, err := base.Parse(fa["action"])
	if err != nil {
		return nil, fmt.Errorf("form action %q: %w", fa["action"], err)
	}
	f := &Form{Action: action, Method: strings.ToUpper(fa["method"]), Fields: url.Values{}}
	if f.Method == "" {
		f.Method = http.MethodGet
	}
	for _, in := range inputRe.FindAllStringSubmatch(m[2], -1) {
		a := attrs(in[1])
		if a["name"] != "" {
			f.Fields.Add(a["name"], a["value"])
		}
	}
	return f, nil
}

// Submit sends the form with the given fields set, as a browser does.
func (f *Form) Submit(c *http.Client, set map[string]string) (*http.Response, error) {
	vals := url.Values{}
	for k, v := range f.Fields {
		vals[k] = append([]string(nil), v...)
	}
	for k, v := range set {
		vals.Set(k, v)
	}
	if f.Method == http.MethodPost {
		return c.PostForm(f.Action.String(), vals)
	}
	u := *f.Action
	u.RawQuery = vals.Encode()
	return c.Get(u.String())
}

// ErrLoginRejected is Login's error when the issuer shows its login page
// again: a wrong username or password.
var ErrLoginRejected = errors.New("the issuer rejected the login")

// Login signs in as a browser does, with c (which must have a cookie jar
// and follow redirects): GET start (oauth2-proxy's /oauth2/start?rd=...,
// directly or through a proxy that routes /oauth2/* to it), which
// redirects to the issuer's login page; submit its form with username
// and password; follow the redirects back through the callback to rd.
// It returns the last response, its body read into body; c's jar then
// holds oauth2-proxy's session cookie.
func Login(c *http.Client, start, username, password string) (resp *http.Response, body string, err error) {
	if c.Jar == nil {
		return nil, "", errors.New("testsso.Login: the client has no cookie jar")
	}
	resp, page, err := get(c, start)
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return resp, page, fmt.Errorf("GET %s ended at %s with %s, not the login page", start, resp.Request.URL, resp.Status)
	}
	form, err := ParseForm(resp.Request.URL, page)
	if err != nil {
		return resp, page, fmt.Errorf("the login page %s: %w", resp.Request.URL, err)
	}
	if _, ok := form.Fields["username"]; !ok {
		return resp, page, fmt.Errorf("the page at %s has no username field: %.300s", resp.Request.URL, page)
	}
	loginPage := form.Action.String()
	r, err := form.Submit(c, map[string]string{"username": username, "password": password})
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return r, "", err
	}
	body = string(b)
	if r.Request.URL.String() == loginPage {
		return r, body, fmt.Errorf("%w (%s): %.300s", ErrLoginRejected, r.Status, body)
	}
	return r, body, nil
}

func get(c *http.Client, u string) (*http.Response, string, error) {
	resp, err := c.Get(u)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

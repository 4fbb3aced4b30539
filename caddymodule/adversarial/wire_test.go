package adversarial

import (
	"fmt"
	"strings"
	"testing"

	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

// response is one answer read off the connection.
type response = testkit.RawResponse

// exchange writes raw to the proxy exactly as given and reads every
// response until the proxy closes the connection (testkit.Exchange).
func exchange(raw string, halfClose bool) ([]response, error) {
	return testkit.Exchange(proxyAddr, raw, halfClose)
}

// --- raw request builders ---

// req builds one HTTP/1.1 request: a Host header unless headers have one,
// the headers as given, Content-Length for a body unless headers frame it
// themselves, and Connection: close.
func req(method, target string, headers []string, body string) string {
	return testkit.RawRequest(hostHdr, method, target, headers, body, false)
}

// reqKeep is req without Connection: close, for the first of pipelined
// requests.
func reqKeep(method, target string, headers []string, body string) string {
	return testkit.RawRequest(hostHdr, method, target, headers, body, true)
}

// chunk frames body as one chunk plus the last chunk, with optional trailer
// lines.
func chunk(body string, trailers ...string) string {
	var b strings.Builder
	if body != "" {
		fmt.Fprintf(&b, "%x\r\n%s\r\n", len(body), body)
	}
	b.WriteString("0\r\n")
	for _, t := range trailers {
		b.WriteString(t + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

const formCT = "Content-Type: " + testkit.FormType

// --- signing ---

// spec is a request signed by hand, so that any part of it can be tampered
// with. Zero values give a valid 2LO RSA-SHA1 GET /rest/a by bamboo, with the
// OAuth parameters in the Authorization header and oauth_token="".
type spec testkit.OAuth

// sign is s's wire form, with this suite's defaults: target /rest/a,
// consumer bamboo with the RSA key, signed for base_url, realm base_url.
func (s spec) sign(t *testing.T) testkit.Signed {
	t.Helper()
	if s.Target == "" {
		s.Target = "/rest/a"
	}
	if s.Consumer == "" {
		s.Consumer = bambooKey
	}
	if s.Key == nil && s.Secret == "" {
		s.Key = consumerKey
	}
	if s.Base == "" {
		s.Base = proxyBase
	}
	if s.Realm == "" {
		s.Realm = proxyBase
	}
	w, err := testkit.OAuth(s).Sign()
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// raw is the whole request for s, with extra header lines.
func (s spec) raw(t *testing.T, extra ...string) string {
	w := s.sign(t)
	return req(w.Method, w.Target, w.Headers(extra...), w.Form)
}

// signedReq is the lazy form of spec.raw, for the case table: timestamps and
// nonces are taken when the case runs.
func signedReq(s spec, extra ...string) func(t *testing.T) string {
	return func(t *testing.T) string { return s.raw(t, extra...) }
}

// plain is an unsigned request.
func plain(method, target string, headers ...string) func(t *testing.T) string {
	return func(*testing.T) string { return req(method, target, headers, "") }
}

// rawBytes sends exactly s.
func rawBytes(s string) func(t *testing.T) string {
	return func(*testing.T) string { return s }
}

func ptr(s string) *string { return &s }

// problemOf extracts oauth_problem from a WWW-Authenticate header.
func problemOf(h string) string { return testkit.Problem(h) }

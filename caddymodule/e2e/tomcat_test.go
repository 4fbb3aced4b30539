//go:build linux

package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/caddy-applink/caddy-applink/internal/hygiene"
	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/testkit"
	"github.com/caddy-applink/caddy-applink/internal/testtomcat"
)

// Each divergence between the proxy and Tomcat + net.oauth that the oracle
// found has a test here, in both directions: a request to the applink
// handler (the proxy verifies and strips; the product behind it is the
// oracle), and one through transport applink (the proxy signs; the oracle
// is the remote product, and its net.oauth must accept the signature).
// docs/protocol.md describes each.

// outResult is what a request through transport applink met.
type outResult struct {
	Status  int
	Header  http.Header
	Body    string
	Remote  *testtomcat.Parsed // what the remote parsed; nil for a local refusal
	Refused string             // X-Applink-Refused of a local refusal
}

// out sends an unsigned request to the proxy, under /out2lo/ or /outimp/,
// where the transport signs it for the oracle.
func (p *oracleProxy) out(t testing.TB, method, target string, headers []string, body string) outResult {
	t.Helper()
	if body != "" || method == http.MethodPost || method == http.MethodPut {
		headers = append(append([]string(nil), headers...), "Content-Length: "+strconv.Itoa(len(body)))
	}
	status, hdr, b := exchange(t, p.addr, testkit.RawRequest(p.host, method, target, headers, body, false))
	res := outResult{Status: status, Header: hdr, Body: b, Refused: hdr.Get("X-Applink-Refused")}
	if hdr.Get("X-Oracle") == "tomcat" {
		var err error
		if res.Remote, err = testtomcat.Decode(b); err != nil {
			t.Fatal(err)
		}
	}
	return res
}

func exchange(t testing.TB, addr, raw string) (int, http.Header, string) {
	t.Helper()
	resps, err := testkit.Exchange(addr, raw, false)
	if err != nil || len(resps) == 0 {
		t.Fatalf("%s: %v (%d answers)", addr, err, len(resps))
	}
	return resps[0].Status, resps[0].Header, resps[0].Body
}

// checkOut asserts that what the transport sent, the remote's net.oauth
// accepts, with exactly user as the impersonated user ("" for 2LO) and no
// other identity parameter.
func checkOut(t testing.TB, name string, res outResult, user string) {
	t.Helper()
	if res.Status >= 500 {
		t.Errorf("%s: %d %.300s", name, res.Status, res.Body)
	}
	r := res.Remote
	if r == nil {
		if res.Refused == "" && !tomcatRefused(oracleResult{Header: res.Header, Body: res.Body}) {
			t.Errorf("%s: neither the remote's answer nor a local refusal: %d %.300s", name, res.Status, res.Body)
		}
		return
	}
	if r.OAuth.Problem != "" {
		t.Errorf("%s: the remote's net.oauth refuses the transport's signature: %s %s\n   base string %s",
			name, r.OAuth.Problem, strOr(r.OAuth.Error), r.Base())
	}
	// The names the remote reads an identity or OAuth from (Seraph's in
	// any case, as the transport strips them).
	for _, n := range r.Names() {
		if oauth1.IsOAuthParam(n) || hygiene.IsSeraphParam(n) || oauth1.IsRequestorParam(n) && !(user != "" && n == "xoauth_requestor_id") {
			t.Errorf("%s: the remote got parameter %q = %q", name, n, r.Param(n))
		}
	}
	got := r.Param("xoauth_requestor_id")
	switch {
	case user == "" && got != nil:
		t.Errorf("%s: 2LO sent xoauth_requestor_id %q", name, got)
	case user != "" && !slices.Equal(got, []string{user}):
		t.Errorf("%s: the remote reads the impersonated user as %q, want exactly %q", name, got, user)
	}
}

// utf16Pct is s in UTF-16BE, every byte percent-encoded: a query name that
// Tomcat, decoding the query in a declared UTF-16, reads as s.
func utf16Pct(s string) string {
	var b strings.Builder
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&b, "%%%02X%%%02X", byte(u>>8), byte(u))
	}
	return b.String()
}

// verdict is net.oauth's verdict in d, for messages.
func verdict(d *testtomcat.Parsed) string {
	if d == nil {
		return "(Tomcat refused the request)"
	}
	return d.OAuth.Problem + strOr(d.OAuth.Error)
}

// TestTomcatEmptyName: Tomcat skips a query or form pair without a name
// ("&=x", parse failure NO_NAME), so net.oauth does not sign it; the
// proxy signed it, and refused net.oauth's signature.
func TestTomcatEmptyName(t *testing.T) {
	p := loadOracleProxy(t)
	for _, r := range []oracleRequest{
		{Target: "/rest/api/2/search?jql=x&=x", OAuth: oauth2LO(consumerKey)},
		{Target: "/rest/a?=&=x&q=1&=%zz", OAuth: oauth2LO(hmacConsumer), HMAC: true},
		{Method: "POST", Target: "/rest/a", Headers: []string{"Content-Type: " + testkit.FormType}, Body: "=x&f=1",
			OAuth: oauth2LO(consumerKey)},
		{Target: "/rest/a?q=1&=x", OAuth: oauth2LO(consumerKey), Loc: oauth1.InQuery},
	} {
		res := p.run(t, r)
		checkOracle(t, r.Target, r, res)
		if res.Direct == nil || res.Direct.ParseFailedReason == nil || *res.Direct.ParseFailedReason != "NO_NAME" {
			t.Errorf("%s: Tomcat did not skip the nameless pair: %+v", r.Target, res.Direct)
		}
		if res.Product == nil {
			t.Errorf("%s: refused %d %s (%s)", r.Target, res.Status, res.Problem, proxyBaseString(res.Header))
		}
	}
	// Anonymous: the pair goes through as it came, the rest is stripped.
	r := oracleRequest{Target: "/rest/a?=x&os_username=admin&keep=1"}
	res := p.run(t, r)
	checkOracle(t, "anonymous", r, res)
	if res.Product == nil || res.Product.QueryString == nil || *res.Product.QueryString != "=x&keep=1" {
		t.Errorf("anonymous: %d, product %+v", res.Status, res.Product)
	}

	// Outgoing: the transport does not sign it either.
	checkOut(t, "2lo", p.out(t, "GET", "/out2lo/rest/a?=x&q=1", nil, ""), "")
	checkOut(t, "2lo form", p.out(t, "POST", "/out2lo/rest/a", []string{"Content-Type: " + testkit.FormType}, "=x&f=1"), "")
	checkOut(t, "impersonation", p.out(t, "GET", "/outimp/rest/a?=x&as=alice", nil, ""), "alice")
}

// TestTomcatNotUTF8: Tomcat replaces percent-decoded bytes that are not
// UTF-8 with U+FFFD, and net.oauth signs that character; the proxy signed
// the bytes. Such requests are refused now, both ways: their parameters
// would reach the product as other characters than were signed.
func TestTomcatNotUTF8(t *testing.T) {
	p := loadOracleProxy(t)
	for _, r := range []oracleRequest{
		{Target: "/rest/a?q=%E9", OAuth: oauth2LO(consumerKey)},
		{Target: "/rest/a?%FF=1", OAuth: oauth2LO(consumerKey)},
		{Target: "/rest/a?xoauth_requestor_id=al%C3ice", OAuth: oauth2LO(consumerKey)},
		{Method: "POST", Target: "/rest/a", Headers: []string{"Content-Type: " + testkit.FormType}, Body: "f=%FE",
			OAuth: oauth2LO(consumerKey)},
		{Target: "/rest/a", OAuth: oauth2LO(consumerKey, oauth1.Param{Key: "oauth_callback", Value: "\xff"})},
	} {
		res := p.run(t, r)
		checkOracle(t, r.Target, r, res)
		if res.Direct == nil || res.Direct.OAuth.Problem != "" {
			t.Fatalf("%s: net.oauth does not accept it (%q): the test proves nothing", r.Target, verdict(res.Direct))
		}
		if !strings.Contains(res.Direct.Base(), "%25EF%25BF%25BD") {
			t.Errorf("%s: net.oauth's base string has no U+FFFD: %s", r.Target, res.Direct.Base())
		}
		if res.Status != 400 || res.Problem != oauth1.ParameterRejected {
			t.Errorf("%s: %d %s, want 400 parameter_rejected", r.Target, res.Status, res.Problem)
		}
	}
	// Anonymous: nothing to verify; the bytes go through as they came.
	r := oracleRequest{Target: "/rest/a?q=%E9&os_username=%FF"}
	res := p.run(t, r)
	checkOracle(t, "anonymous", r, res)
	if res.Product == nil || *res.Product.QueryString != "q=%E9" {
		t.Errorf("anonymous: %d %+v", res.Status, res.Product)
	}

	for _, c := range []struct{ name, method, target, ctype, body string }{
		{"query", "GET", "/out2lo/rest/a?q=%E9", "", ""},
		{"form", "POST", "/out2lo/rest/a", testkit.FormType, "f=%FE"},
		{"impersonation query", "GET", "/outimp/rest/a?as=alice&q=%FF", "", ""},
	} {
		var h []string
		if c.ctype != "" {
			h = []string{"Content-Type: " + c.ctype}
		}
		res := p.out(t, c.method, c.target, h, c.body)
		checkOut(t, c.name, res, "alice")
		if res.Status != 400 || res.Refused != "unsignable_parameters" {
			t.Errorf("outgoing %s: %d %q %q, want a local 400 unsignable_parameters", c.name, res.Status, res.Refused, res.Body)
		}
	}
}

// TestTomcatFormCharset: Tomcat decodes query and form in the charset the
// Content-Type declares (the query too, with useBodyEncodingForURI), and
// net.oauth signs the characters in UTF-8; the proxy signed the bytes.
// ISO-8859-1 is read as Tomcat reads it now; another charset's non-ASCII
// bytes are refused.
func TestTomcatFormCharset(t *testing.T) {
	p := loadOracleProxy(t)
	latin1 := "Content-Type: " + testkit.FormType + "; charset=ISO-8859-1"
	for _, r := range []oracleRequest{
		{Method: "POST", Target: "/rest/a?q=%E9", Headers: []string{latin1}, Body: "f=%FC&g=%C3%A9", OAuth: oauth2LO(consumerKey)},
		{Method: "POST", Target: "/rest/a", Headers: []string{latin1}, Body: "xoauth_requestor_id=J%FCrgen", OAuth: oauth2LO(consumerKey)},
		{Method: "POST", Target: "/rest/a", Headers: []string{latin1}, Body: "f=%E9", OAuth: oauth2LO(hmacConsumer), HMAC: true, Loc: oauth1.InForm},
		{Target: "/rest/a?q=%E9", Headers: []string{"Content-Type: text/plain; charset=latin1"}, OAuth: oauth2LO(consumerKey)},
	} {
		res := p.run(t, r)
		checkOracle(t, r.Body+r.Target, r, res)
		if res.Product == nil {
			t.Errorf("%s %s: refused %d %s (%s)", r.Target, r.Body, res.Status, res.Problem, proxyBaseString(res.Header))
		}
	}
	// The impersonated user is what Tomcat decoded.
	r := oracleRequest{Method: "POST", Target: "/rest/a", Headers: []string{latin1}, Body: "xoauth_requestor_id=J%FCrgen", OAuth: oauth2LO(consumerKey)}
	if res := p.run(t, r); res.Product == nil || !slices.Equal(res.Product.Header("X-Forwarded-User"), []string{"JÃ¼rgen"}) {
		// Tomcat reads header bytes as ISO-8859-1: the UTF-8 of "Jürgen".
		t.Errorf("Latin-1 requestor: %+v", res.Product)
	}

	// Another ASCII-compatible charset: ASCII passes, the rest is refused.
	cp1252 := "Content-Type: " + testkit.FormType + "; charset=windows-1252"
	ok := oracleRequest{Method: "POST", Target: "/rest/a", Headers: []string{cp1252}, Body: "f=a+b", OAuth: oauth2LO(consumerKey)}
	if res := p.run(t, ok); res.Product == nil {
		t.Errorf("windows-1252, ASCII: %d %s", res.Status, res.Problem)
	}
	bad := oracleRequest{Method: "POST", Target: "/rest/a", Headers: []string{cp1252}, Body: "f=%80", OAuth: oauth2LO(consumerKey)}
	if res := p.run(t, bad); res.Status != 400 || res.Problem != oauth1.ParameterRejected {
		t.Errorf("windows-1252, non-ASCII: %d %s", res.Status, res.Problem)
	} else {
		checkOracle(t, "windows-1252", bad, res)
	}
	// Not ASCII-compatible: refused before anything is read.
	u16 := oracleRequest{Method: "POST", Target: "/rest/a", Headers: []string{"Content-Type: " + testkit.FormType + "; charset=UTF-16BE"},
		Body: utf16Pct("f") + "=" + utf16Pct("1"), OAuth: oauth2LO(consumerKey)}
	if res := p.run(t, u16); res.Status != 415 || res.Problem != oauth1.ParameterRejected {
		t.Errorf("UTF-16 form: %d %s", res.Status, res.Problem)
	}

	// Outgoing: ISO-8859-1 query and form signed as the remote reads them,
	// the impersonated user encoded in the request's charset.
	checkOut(t, "latin-1 form", p.out(t, "POST", "/out2lo/rest/a?q=%E9", []string{latin1}, "f=%FC"), "")
	checkOut(t, "latin-1 impersonation", p.out(t, "POST", "/outimp/rest/a?as=J%C3%BCrgen", []string{latin1}, "f=%FC"), "Jürgen")
	checkOut(t, "utf-8 impersonation", p.out(t, "GET", "/outimp/rest/a?as=J%C3%BCrgen", nil, ""), "Jürgen")
	res := p.out(t, "POST", "/outimp/rest/a?as=%C5%8Ctani", []string{latin1}, "f=1")
	if res.Status != 400 || res.Refused != "unsignable_parameters" {
		t.Errorf("a user ISO-8859-1 cannot encode: %d %q", res.Status, res.Refused)
	}
	res = p.out(t, "POST", "/out2lo/rest/a", []string{cp1252}, "f=%80")
	if res.Status != 400 || res.Refused != "unsignable_parameters" {
		t.Errorf("windows-1252 non-ASCII form: %d %q", res.Status, res.Refused)
	}
}

// TestTomcatMediaTypeCase: Tomcat parses a form body only for the exact
// media type "application/x-www-form-urlencoded", so net.oauth signs no
// other body; the proxy compared it ignoring case and signed the body
// (while the project's own signer did not: the two disagreed).
func TestTomcatMediaTypeCase(t *testing.T) {
	p := loadOracleProxy(t)
	for _, ct := range []string{"Application/X-WWW-Form-Urlencoded", "APPLICATION/X-WWW-FORM-URLENCODED; charset=UTF-8"} {
		r := oracleRequest{Method: "POST", Target: "/rest/a?q=1", Headers: []string{"Content-Type: " + ct},
			Body: "f=1&os_username=admin&xoauth_requestor_id=admin", OAuth: oauth2LO(consumerKey)}
		res := p.run(t, r)
		checkOracle(t, ct, r, res)
		if res.Direct == nil || len(res.Direct.Params) != 1 {
			t.Errorf("%s: Tomcat parsed the body: %+v", ct, res.Direct)
		}
		if res.Product == nil || res.Product.Body != "f=1" || !slices.Equal(res.Product.Header("X-Forwarded-User"), []string{serviceUser}) {
			t.Errorf("%s: %d %s, product %+v", ct, res.Status, res.Problem, res.Product)
		}
		checkOut(t, "out "+ct, p.out(t, "POST", "/out2lo/rest/a?q=1", []string{"Content-Type: " + ct}, "f=1&oauth_token=x"), "")
		checkOut(t, "out imp "+ct, p.out(t, "POST", "/outimp/rest/a?as=bob", []string{"Content-Type: " + ct}, "f=1&xoauth_requestor_id=x"), "bob")
	}
	// The exact media type: the body is signed on both sides.
	r := oracleRequest{Method: "POST", Target: "/rest/a", Headers: []string{"Content-Type: " + testkit.FormType},
		Body: "f=1", OAuth: oauth2LO(consumerKey)}
	res := p.run(t, r)
	checkOracle(t, "exact", r, res)
	if res.Product == nil || res.Product.Param("f") == nil {
		t.Errorf("exact media type: %d %s", res.Status, res.Problem)
	}
	checkOut(t, "out exact", p.out(t, "POST", "/out2lo/rest/a", []string{"Content-Type: " + testkit.FormType}, "f=1"), "")
}

// TestTomcatVersionSpellings: net.oauth parses oauth_version with
// Double.parseDouble and accepts 1.0 in any spelling; the proxy accepted
// "1.0" only. NaN, which net.oauth lets through, is refused on purpose.
func TestTomcatVersionSpellings(t *testing.T) {
	p := loadOracleProxy(t)
	for _, v := range []string{"1.0", "1", "1.00", " 1.0 ", "1e0", "+1.0", "0x1p0", "1.0d"} {
		r := oracleRequest{Target: "/rest/a", OAuth: oauth2LO(consumerKey, oauth1.Param{Key: "oauth_version", Value: v})}
		res := p.run(t, r)
		checkOracle(t, v, r, res)
		if res.Direct == nil || res.Direct.OAuth.Problem != "" || res.Product == nil {
			t.Errorf("oauth_version %q: net.oauth %q, proxy %d %s", v, verdict(res.Direct), res.Status, res.Problem)
		}
	}
	for _, v := range []string{"2.0", "1.0a", "", "0.9", "NaN"} {
		r := oracleRequest{Target: "/rest/a", OAuth: oauth2LO(consumerKey, oauth1.Param{Key: "oauth_version", Value: v})}
		res := p.run(t, r)
		checkOracle(t, v, r, res)
		if res.Status != 400 || res.Problem != oauth1.VersionRejected {
			t.Errorf("oauth_version %q: %d %s, want version_rejected", v, res.Status, res.Problem)
		}
		if want := v != "NaN"; res.Direct != nil && (res.Direct.OAuth.Problem != "") != want {
			t.Errorf("oauth_version %q: net.oauth says %q", v, res.Direct.OAuth.Problem)
		}
	}
}

// TestTomcatQueryCharset: with useBodyEncodingForURI="true" Tomcat decodes
// the query in the Content-Type's charset, on any request: a UTF-16
// os_username, os_password or xoauth_requestor_id reached the product
// while the stripper, reading bytes, saw other names.
func TestTomcatQueryCharset(t *testing.T) {
	p := loadOracleProxy(t)
	q := utf16Pct("os_username") + "=" + utf16Pct("admin") + "&" + utf16Pct("os_password") + "=" + utf16Pct("pw") +
		"&" + utf16Pct("xoauth_requestor_id") + "=" + utf16Pct("admin")
	for _, ct := range []string{"text/plain; charset=UTF-16BE", "application/json;charset=\"UTF-16BE\"",
		"text/plain; mycharset=UTF-16BE", "text/plain; Charset=UTF-16BE", "text/plain; charset=utf-8; charset=UTF-16BE"} {
		for _, r := range []oracleRequest{
			{Target: "/rest/a?" + q, Headers: []string{"Content-Type: " + ct}},
			{Target: "/rest/a?" + q, Headers: []string{"Content-Type: " + ct}, OAuth: oauth2LO(consumerKey)},
			{Method: "POST", Target: "/rest/a?" + q, Headers: []string{"Content-Type: " + ct}, Body: "{}", OAuth: oauth2LO(consumerKey)},
		} {
			res := p.run(t, r)
			checkOracle(t, ct, r, res)
			if res.Status != 415 || res.Problem != oauth1.ParameterRejected {
				t.Errorf("%s (signed %v): %d %s, want 415 parameter_rejected", ct, r.signed(), res.Status, res.Problem)
			}
		}
	}
	// What the product would have got.
	r := oracleRequest{Target: "/rest/a?" + q, Headers: []string{"Content-Type: text/plain; charset=UTF-16BE"}}
	if d := p.run(t, r).Direct; d == nil || d.OSUsername == nil || *d.OSUsername != "admin" {
		t.Errorf("Tomcat does not decode the query in UTF-16 (the test proves nothing): %+v", d)
	}
	// Without a query or form, nothing is decoded in the charset.
	r = oracleRequest{Method: "POST", Target: "/rest/a", Headers: []string{"Content-Type: application/json; charset=UTF-16"},
		Body: "{}", OAuth: oauth2LO(consumerKey)}
	if res := p.run(t, r); res.Product == nil {
		t.Errorf("UTF-16 JSON without a query: %d %s", res.Status, res.Problem)
	}

	// Outgoing: refused locally.
	for _, target := range []string{"/out2lo/rest/a?" + q, "/outimp/rest/a?as=bob&" + q, "/outimp/rest/a?as=bob"} {
		res := p.out(t, "GET", target, []string{"Content-Type: text/plain; charset=UTF-16BE"}, "")
		if res.Status != 415 || res.Refused != "unsignable_parameters" || res.Remote != nil {
			t.Errorf("outgoing %s: %d %q", target, res.Status, res.Refused)
		}
	}
}

// TestTomcatRequestorWhitespace: Tomcat hands the product
// xoauth_requestor_id " alice " as it came, but the product's HTTP parser
// drops the spaces of the identity header, so the product ran as "alice"
// while logs, {http.auth.user.id} and metrics said " alice ". Such names
// are refused now, both ways.
func TestTomcatRequestorWhitespace(t *testing.T) {
	p := loadOracleProxy(t)
	for _, q := range []string{"xoauth_requestor_id=%20alice%20", "xoauth_requestor_id=alice+", "user_id=+alice"} {
		r := oracleRequest{Target: "/rest/a?" + q, OAuth: oauth2LO(consumerKey)}
		res := p.run(t, r)
		checkOracle(t, q, r, res)
		if res.Status != 400 || res.Problem != oauth1.ParameterRejected {
			t.Errorf("%s: %d %s, want parameter_rejected", q, res.Status, res.Problem)
		}
		if d := res.Direct; d == nil || productUser(d, false) == strings.TrimSpace(productUser(d, false)) {
			t.Errorf("%s: Tomcat trimmed the parameter itself: %+v", q, d)
		}
	}
	// The product's side of it: Tomcat trims a header value.
	raw := testkit.RawRequest(p.host, "GET", "/rest/a", []string{"X-Forwarded-User:  alice "}, "", false)
	if _, d, err := p.tomcat.Send(raw); err != nil || d == nil || !slices.Equal(d.Header("X-Forwarded-User"), []string{"alice"}) {
		t.Errorf("Tomcat reads the identity header as %+v (%v)", d, err)
	}
	// Outgoing.
	for _, as := range []string{"%20alice%20", "alice%20", "%20alice"} {
		res := p.out(t, "GET", "/outimp/rest/a?as="+as, nil, "")
		if res.Status != 401 || res.Refused != "bad_user" {
			t.Errorf("outgoing as %q: %d %q", as, res.Status, res.Refused)
		}
	}
	checkOut(t, "inner space", p.out(t, "GET", "/outimp/rest/a?as=alice%20smith", nil, ""), "alice smith")
}

// TestTomcatAuthorizationHeader: net.oauth reads the Authorization header
// with regular expressions and URLDecoder, not as RFC 5849 does: a raw "+"
// is a space, "," splits inside quotes, a byte above 0x7E (ISO-8859-1 to
// Tomcat) can leave the header unread, and "realm" is left out in any
// case. The proxy refuses the first three and leaves out Realm too.
func TestTomcatAuthorizationHeader(t *testing.T) {
	p := loadOracleProxy(t)
	// hdr renders ps with a realm and some values spelled raw; the
	// signature is over net.oauth's reading of that header.
	hdr := func(ps []oauth1.Param, realm string, raw map[string]string) func(string) string {
		return func(sig string) string {
			var parts []string
			if realm != "" {
				parts = append(parts, realm)
			}
			for _, q := range ps {
				v := oauth1.PercentEncode(q.Value)
				if r, ok := raw[q.Key]; ok {
					v = r
				}
				parts = append(parts, q.Key+`="`+v+`"`)
			}
			return "OAuth " + strings.Join(append(parts, `oauth_signature="`+sig+`"`), ", ")
		}
	}
	cases := []struct {
		name  string
		realm string
		raw   map[string]string
		pass  bool
	}{
		{"REALM in capitals", `REALM="x"`, nil, true},
		{"Realm", `Realm="https://x,y+z"`, nil, true},
		{"raw + in the nonce", "", map[string]string{"oauth_nonce": "a+b"}, false},
		{"raw , in the nonce", "", map[string]string{"oauth_nonce": "a,b"}, false},
		{"byte 0x85 in the realm", "realm=\"\x85\"", nil, false},
		{"nonce not UTF-8", "", map[string]string{"oauth_nonce": "n%FF"}, false},
	}
	for _, c := range cases {
		ps := oauth2LO(consumerKey)
		r := oracleRequest{Target: "/rest/a", OAuth: ps, Auth: hdr(ps, c.realm, c.raw)}
		res := p.run(t, r)
		checkOracle(t, c.name, r, res)
		if c.pass && res.Product == nil {
			t.Errorf("%s: refused %d %s (%s)", c.name, res.Status, res.Problem, proxyBaseString(res.Header))
		}
		if !c.pass && (res.Status != 400 || res.Problem != oauth1.ParameterRejected) {
			t.Errorf("%s: %d %s, want parameter_rejected", c.name, res.Status, res.Problem)
		}
	}
}

// TestTomcatPathBrackets: Go and Jira's Tomcat (relaxedPathChars="[]|")
// take a raw "[" or "]" in a path, but net.oauth builds its base string
// URI with java.net.URI, which throws on them: the product could verify no
// such request, and the proxy accepted it. Found by TestTomcatOracle.
func TestTomcatPathBrackets(t *testing.T) {
	p := loadOracleProxy(t)
	// Signed as RFC 5849 (and the proxy's verifier) would have it.
	ps := oauth2LO(consumerKey)
	r := oracleRequest{Target: "/rest/a[1]", OAuth: ps, Base: oauth1.BaseString("GET", p.base+"/rest/a[1]", ps)}
	res := p.run(t, r)
	checkOracle(t, r.Target, r, res)
	if res.Direct == nil || res.Direct.OAuth.Error == nil || !strings.Contains(*res.Direct.OAuth.Error, "URISyntaxException") {
		t.Errorf("net.oauth does not throw (the test proves nothing): %q", verdict(res.Direct))
	}
	if res.Status != 400 || res.Problem != oauth1.ParameterRejected {
		t.Errorf("raw brackets: %d %s, want parameter_rejected", res.Status, res.Problem)
	}
	// Percent-encoded, they are an ordinary path.
	r = oracleRequest{Target: "/rest/a%5B1%5D", OAuth: oauth2LO(consumerKey)}
	if res := p.run(t, r); res.Product == nil {
		t.Errorf("encoded brackets: %d %s", res.Status, res.Problem)
	} else {
		checkOracle(t, r.Target, r, res)
	}
	// Outgoing: sent, and signed, percent-encoded.
	out := p.out(t, "GET", "/outimp/a[1]?as=bob", nil, "")
	checkOut(t, "out", out, "bob")
	if out.Remote == nil || out.Remote.RequestURI != "/outimp/a%5B1%5D" {
		t.Errorf("outgoing: %d %+v", out.Status, out.Remote)
	}
	anon := oracleRequest{Target: "/rest/a[1]?os_username=x"}
	checkOracle(t, "anonymous", anon, p.run(t, anon))
}

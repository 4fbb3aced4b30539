//go:build linux

package e2e

import (
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"

	"github.com/caddy-applink/caddy-applink/internal/hygiene"
	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/testkit"
	"github.com/caddy-applink/caddy-applink/internal/testproc"
	"github.com/caddy-applink/caddy-applink/internal/testtomcat"
)

// The Tomcat oracle (internal/testtomcat) as the product behind the proxy:
// a real Tomcat with Jira's connector settings, whose servlet answers with
// what Tomcat parsed and what net.oauth would sign and decide. The tests
// send each request twice: straight to Tomcat, which says what the
// product would make of the bytes (and gives net.oauth's base string, which
// the test signs), and through Caddy's applink handler, which must let
// through exactly what net.oauth accepts, with the same parameters less
// the ones it strips, and exactly one identity.

// The HMAC-SHA1 consumer, besides the RSA one of the package.
const (
	hmacConsumer = "hmac:bot"
	hmacSecret   = "bot-s3cret"
	hmacUser     = "svc-bot"
)

// tomcatSrv is the package's one Tomcat; TestMain stops it.
var (
	tomcatSrv  = &testtomcat.Shared{}
	tomcatOpts sync.Once
)

// needTomcat returns the running Tomcat, starting it on first use; it
// skips (or fails under APPLINK_REQUIRE_INTEROP=1) without Debian's
// libtomcat9-java and a JDK.
func needTomcat(t testing.TB) *testtomcat.Server {
	t.Helper()
	tomcatOpts.Do(func() {
		tomcatSrv.Options = testtomcat.Options{Consumers: []testtomcat.Consumer{
			{Key: consumerKey, PublicKey: &appKeys().Key.PublicKey},
			{Key: hmacConsumer, Secret: hmacSecret},
		}}
	})
	return tomcatSrv.Need(t)
}

// oracleProxy is Caddy in front of the oracle: the applink handler on
// every path but /out2lo/ and /outimp/, where transport applink signs
// what it sends to Tomcat (as 2LO, and as impersonation of the user the
// query parameter "as" names).
type oracleProxy struct {
	tomcat *testtomcat.Server
	base   string // base_url: http://localhost:port
	addr   string // 127.0.0.1:port
	host   string // localhost:port
}

func oracleCaddyfile(tc *testtomcat.Server, admin, httpPort, httpsPort int) string {
	base := "http://localhost:" + strconv.Itoa(httpPort)
	transport := func(mode, user string) string {
		return fmt.Sprintf(`reverse_proxy %[1]s {
			header_up Host {upstream_hostport}
			transport applink {
				consumer_key %[2]s
				private_key_file %[3]s
				remote_base_url http://%[1]s
				mode %[4]s
				%[5]s
			}
		}`, tc.Addr, consumerKey, privFile(), mode, user)
	}
	return testkit.CaddyGlobals(admin, httpPort, httpsPort) + fmt.Sprintf(`
%[1]s {
	handle /out2lo/* {
		%[2]s
	}
	handle /outimp/* {
		%[3]s
	}
	handle {
		applink {
			base_url %[1]s
			consumer %[4]s {
				public_key_file %[5]s
				two_legged %[6]s
				impersonation
			}
			consumer %[7]s {
				secret %[8]s
				two_legged %[9]s
				impersonation
			}
			debug_base_string
		}
		reverse_proxy %[10]s
	}
}
`, base, transport("2lo", ""), transport("impersonation", "user {http.request.uri.query.as}"),
		consumerKey, pubFile(), serviceUser, hmacConsumer, hmacSecret, hmacUser, tc.Addr)
}

var oracleFirstLoad sync.Once

// loadOracleProxy loads the proxy in front of the oracle into this
// process's Caddy, on the package's ports.
func loadOracleProxy(t *testing.T) *oracleProxy {
	t.Helper()
	tc := needTomcat(t)
	loadCaddy(t, oracleCaddyfile(tc, adminPort, httpPort, httpsPort))
	firstLoad.Do(testkit.WaitNextSecond)
	return newOracleProxy(tc, httpPort)
}

func newOracleProxy(tc *testtomcat.Server, port int) *oracleProxy {
	p := strconv.Itoa(port)
	return &oracleProxy{tomcat: tc, base: "http://localhost:" + p, addr: "127.0.0.1:" + p, host: "localhost:" + p}
}

// fuzzing reports whether this process fuzzes (the coordinator or a
// worker): then it runs the fuzz target only, and several such processes
// run at once, each with its own Caddy, which may not take the package's
// fixed ports.
func fuzzing() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
}

// fuzzCoordinator reports whether this process coordinates fuzzing: it
// starts the workers, with its own os.Args[0], and calls no fuzz function.
func fuzzCoordinator() bool {
	w := flag.Lookup("test.fuzzworker")
	return fuzzing() && (w == nil || w.Value.String() != "true")
}

// loadOracleProxyFor is loadOracleProxy for a fuzz target: on free ports
// while fuzzing. The fuzzing coordinator gets nil: it needs no proxy.
func loadOracleProxyFor(f *testing.F) *oracleProxy {
	f.Helper()
	if fuzzCoordinator() {
		return nil
	}
	tc := needTomcat(f)
	admin, hp, hs := adminPort, httpPort, httpsPort
	if fuzzing() {
		var ports [3]int
		for i := range ports {
			p, err := testproc.FreePort()
			if err != nil {
				f.Fatal(err)
			}
			ports[i] = p
		}
		admin, hp, hs = ports[0], ports[1], ports[2]
	}
	tester := caddytest.NewTester(f).WithDefaultOverrides(caddytest.Config{AdminPort: admin, LoadRequestTimeout: 20 * time.Second})
	// caddytest starts Caddy by rewriting os.Args ("caddy run ..."), which
	// Caddy has read once its admin endpoint answers.
	args := os.Args
	tester.InitServer(oracleCaddyfile(tc, admin, hp, hs), "caddyfile")
	os.Args = args
	if f.Failed() {
		f.FailNow()
	}
	firstLoad.Do(testkit.WaitNextSecond)
	return newOracleProxy(tc, hp)
}

// oracleRequest is one request to check, before its OAuth parameters.
type oracleRequest struct {
	Method  string   // default GET
	Target  string   // path and query as sent, before OAuth query parameters
	Headers []string // more header lines (Content-Type, ...)
	Body    string
	// OAuth, when set, signs the request with these protocol parameters,
	// in Loc: the signature is over net.oauth's base string of the
	// request, as the oracle computes it.
	OAuth []oauth1.Param
	Loc   oauth1.Location
	HMAC  bool   // sign as the HMAC-SHA1 consumer (else RSA-SHA1)
	Realm string // the header's realm; "" for none
	// Auth, when set, renders the Authorization header instead (the
	// signature percent-encoded): for spellings the encoder never makes.
	Auth func(sig string) string
	// Base, when set, is signed instead of net.oauth's base string (for a
	// request net.oauth cannot build one of).
	Base string
}

// oauth2LO is the protocol parameters of a 2LO request from consumer
// (oauth_token="", Atlassian's style), with extra ones.
func oauth2LO(consumer string, extra ...oauth1.Param) []oauth1.Param {
	method := oauth1.RSASHA1
	if consumer == hmacConsumer {
		method = oauth1.HMACSHA1
	}
	ps := []oauth1.Param{
		{Key: "oauth_consumer_key", Value: consumer},
		{Key: "oauth_token", Value: ""},
		{Key: "oauth_signature_method", Value: method},
		{Key: "oauth_timestamp", Value: strconv.FormatInt(time.Now().Unix(), 10)},
		{Key: "oauth_nonce", Value: testkit.Nonce()},
	}
	return append(ps, extra...)
}

// wire renders r as bytes for host, with oauth_signature sig.
func (r oracleRequest) wire(host, sig string) string {
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	target, body := r.Target, r.Body
	headers := append([]string(nil), r.Headers...)
	if r.OAuth != nil {
		ps := append(append([]oauth1.Param(nil), r.OAuth...), oauth1.Param{Key: "oauth_signature", Value: sig})
		switch r.Loc {
		case oauth1.InQuery:
			sep := "?"
			if strings.Contains(target, "?") {
				sep = "&"
			}
			target += sep + testkit.EncodeParams(ps)
		case oauth1.InForm:
			if body != "" {
				body += "&"
			}
			body += testkit.EncodeParams(ps)
		default:
			var h string
			switch {
			case r.Auth != nil:
				h = r.Auth(oauth1.PercentEncode(sig))
			case r.Realm != "":
				h = testkit.AuthHeader(r.Realm, ps)
			default:
				h = "OAuth " + strings.TrimPrefix(testkit.AuthHeader("", ps), `OAuth realm="", `)
			}
			headers = append([]string{"Authorization: " + h}, headers...)
		}
	}
	if body != "" || method == http.MethodPost || method == http.MethodPut {
		headers = append(headers, "Content-Length: "+strconv.Itoa(len(body)))
	}
	return testkit.RawRequest(host, method, target, headers, body, false)
}

// oracleResult is what a request met.
type oracleResult struct {
	// Direct is the oracle's answer to the signed request sent straight
	// to Tomcat: what the product would parse, and net.oauth's verdict.
	// nil when Tomcat itself refused the bytes (DirectStatus).
	Direct       *testtomcat.Parsed
	DirectStatus int
	// The proxy's answer: Product is what reached Tomcat through it (nil
	// when the proxy, or Tomcat, refused).
	Status  int
	Header  http.Header
	Body    string
	Product *testtomcat.Parsed
	Problem string // the proxy's oauth_problem
}

func (p *oracleProxy) run(t testing.TB, r oracleRequest) oracleResult {
	t.Helper()
	var res oracleResult
	sig := "unsigned"
	if r.OAuth != nil {
		// net.oauth's base string of these very bytes: the signature is not
		// part of it.
		_, p0, err := p.tomcat.Send(r.wire(p.host, sig))
		if err != nil {
			t.Fatalf("oracle: %v", err)
		}
		switch {
		case r.Base != "":
			sig = p.sign(t, r, r.Base)
		case p0 != nil:
			sig = p.sign(t, r, p0.Base())
		}
	}
	raw := r.wire(p.host, sig)
	var err error
	if res.DirectStatus, res.Direct, err = p.tomcat.Send(raw); err != nil {
		t.Fatalf("oracle: %v", err)
	}
	resps, err := testkit.Exchange(p.addr, raw, false)
	if err != nil || len(resps) == 0 {
		t.Fatalf("proxy: %v (%d answers)", err, len(resps))
	}
	res.Status, res.Header, res.Body = resps[0].Status, resps[0].Header, resps[0].Body
	res.Problem = testkit.Problem(res.Header.Get("WWW-Authenticate"))
	if res.Header.Get("X-Oracle") == "tomcat" {
		if res.Product, err = testtomcat.Decode(res.Body); err != nil {
			t.Fatal(err)
		}
	}
	return res
}

func (p *oracleProxy) sign(t testing.TB, r oracleRequest, base string) string {
	t.Helper()
	if r.HMAC {
		return oauth1.SignHMACSHA1(hmacSecret, "", base)
	}
	sig, err := oauth1.SignRSASHA1(appKeys().Key, base)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// signed reports whether r carries OAuth parameters.
func (r oracleRequest) signed() bool { return r.OAuth != nil }

// productUser is the user the product would run r as, reading the
// parameters Tomcat parsed as Atlassian's 2LO does: xoauth_requestor_id,
// else user_id, else the consumer's execute-as user.
func productUser(d *testtomcat.Parsed, hmac bool) string {
	switch {
	case d.XOAuthRequestorID != nil:
		return *d.XOAuthRequestorID
	case d.UserID != nil:
		return *d.UserID
	case hmac:
		return hmacUser
	}
	return serviceUser
}

// unstripped is a parsed parameter list without the names the proxy strips.
func unstripped(ps []testtomcat.Values) []testtomcat.Values {
	var out []testtomcat.Values
	for _, v := range ps {
		if !hygiene.DropFromAnyRequest(v.Name) {
			out = append(out, v)
		}
	}
	return out
}

// checkOracle asserts what holds for every request: what passes the proxy
// reaches the product with none of the names the proxy strips, the
// parameters it would have had otherwise, and exactly the identity
// net.oauth and Atlassian's 2LO would give it; what net.oauth accepts the
// proxy either accepts or refuses with a problem other than
// signature_invalid (a signature over net.oauth's base string that the
// proxy finds invalid means its base string differs); the proxy never
// answers 5xx.
func checkOracle(t testing.TB, name string, r oracleRequest, res oracleResult) {
	t.Helper()
	if res.Status >= 500 {
		t.Errorf("%s: the proxy answered %d: %.300s", name, res.Status, res.Body)
	}
	d := res.Direct
	if pr := res.Product; pr != nil {
		for _, n := range pr.Names() {
			if hygiene.DropFromAnyRequest(n) {
				t.Errorf("%s: the product got parameter %q = %q", name, n, pr.Param(n))
			}
		}
		if looksLikeForm(pr.ContentType) {
			for _, n := range formNames(pr.Body) {
				if hygiene.DropFromAnyRequest(n) {
					t.Errorf("%s: the product's unparsed body has %q: %q", name, n, pr.Body)
				}
			}
		}
		// Tomcat reads header bytes as ISO-8859-1: compare the bytes, which
		// the product's authenticator decodes as UTF-8
		// (docs/deployment.md).
		var ids []string
		for _, id := range pr.Header("X-Forwarded-User") {
			ids = append(ids, latin1Bytes(id))
		}
		switch {
		case !r.signed() && len(ids) != 0:
			t.Errorf("%s: anonymous request reached the product as %q", name, ids)
		case r.signed() && d == nil:
			t.Errorf("%s: the proxy passed (as %q) what Tomcat refuses (%d)", name, ids, res.DirectStatus)
		case r.signed() && d.OAuth.Problem != "":
			t.Errorf("%s: the proxy passed (as %q) what net.oauth refuses: %s %s", name, ids, d.OAuth.Problem, strOr(d.OAuth.Error))
		case r.signed() && !slices.Equal(ids, []string{productUser(d, r.HMAC)}):
			t.Errorf("%s: the product got identity %q; net.oauth and Atlassian's 2LO give %q", name, ids, productUser(d, r.HMAC))
		}
		if r.signed() && len(pr.Header("Authorization")) != 0 {
			t.Errorf("%s: Authorization reached the product", name)
		}
		if d != nil {
			if got, want := unstripped(pr.Params), unstripped(d.Params); !equalValues(got, want) {
				t.Errorf("%s: the product parsed %q through the proxy, %q without it", name, got, want)
			}
		}
		return
	}
	if d != nil && d.OAuth.Problem == "" && res.Problem == oauth1.SignatureInvalid {
		t.Errorf("%s: net.oauth accepts the signature, the proxy finds it invalid:\n   net.oauth %s\n   proxy     %s",
			name, d.Base(), proxyBaseString(res.Header))
	}
	if res.Status != http.StatusForbidden && res.Problem == "" && res.Header.Get("X-Oracle") == "" && res.Status >= 400 &&
		res.Header.Get("WWW-Authenticate") == "" && !tomcatRefused(res) {
		t.Errorf("%s: refused %d without an oauth_problem: %.200s", name, res.Status, res.Body)
	}
}

// tomcatRefused: Tomcat itself answered (an error page, not the servlet),
// or Go's HTTP server refused the request line before Caddy saw it.
func tomcatRefused(res oracleResult) bool {
	return strings.Contains(res.Body, "Apache Tomcat") || strings.Contains(res.Header.Get("Content-Type"), "text/html") ||
		strings.HasPrefix(res.Body, "400 Bad Request")
}

func proxyBaseString(h http.Header) string {
	_, ps, err := oauth1.ParseAuthorizationHeader(h.Get("WWW-Authenticate"))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	for _, p := range ps {
		if p.Key == "oauth_signature_base_string" {
			return p.Value
		}
	}
	return "(none)"
}

func equalValues(a, b []testtomcat.Values) bool {
	return slices.EqualFunc(a, b, func(x, y testtomcat.Values) bool { return x.Name == y.Name && slices.Equal(x.Values, y.Values) })
}

// formNames is every parameter name of a form body, decoded leniently.
func formNames(body string) []string {
	var out []string
	for _, seg := range strings.Split(body, "&") {
		k, _, _ := strings.Cut(seg, "=")
		if n, err := url.QueryUnescape(k); err == nil {
			out = append(out, n)
		} else {
			out = append(out, k)
		}
	}
	return out
}

// latin1Bytes is the bytes behind a string Tomcat decoded as ISO-8859-1.
func latin1Bytes(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		b = append(b, byte(r))
	}
	return string(b)
}

// looksLikeForm: a Content-Type whose media type is a form's, in any case
// (the proxy strips identity parameters from such bodies too).
func looksLikeForm(ct *string) bool {
	if ct == nil {
		return false
	}
	mt, _, _ := strings.Cut(*ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), testkit.FormType)
}

func strOr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

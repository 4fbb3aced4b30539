//go:build linux

package e2e

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

// The differential test over many requests, and its fuzz target: random
// queries, bodies, content types and charsets, anonymous or signed in each
// location, through the applink handler and through transport applink,
// each checked against the Tomcat oracle with checkOracle and checkOut.

// oracleInput is one generated or fuzzed request.
type oracleInput struct {
	Method  string
	Path    string // after "/rest"
	Query   string // after "?" ("" for none)
	CType   string // Content-Type ("" for none)
	Body    string
	Loc     oauth1.Location // 0: anonymous
	HMAC    bool
	Version string // oauth_version, "" for none
}

// sanitize makes in sendable as one HTTP/1.1 request: a query with only
// the bytes a request target may hold raw (others percent-encoded), a
// Content-Type without control characters, bounded sizes.
func (in oracleInput) sanitize() oracleInput {
	in.Method = []string{"GET", "POST", "PUT", "DELETE"}[methodIndex(in.Method)]
	in.Query = targetBytes(in.Query, "#", 600)
	// The path stays under /rest, clear of the transport's routes and the
	// provider's endpoints, whatever its dot segments.
	in.Path = targetBytes(in.Path, "#?", 200)
	for _, w := range []string{"out2lo", "outimp", "plugins"} {
		in.Path = strings.ReplaceAll(in.Path, w, "x")
	}
	if !strings.HasPrefix(in.Path, "/") {
		in.Path = "/" + in.Path
	}
	var ct strings.Builder
	for i := 0; i < len(in.CType) && i < 200; i++ {
		if c := in.CType[i]; c >= ' ' && c != 0x7f || c == '\t' {
			ct.WriteByte(c)
		}
	}
	in.CType = strings.TrimSpace(ct.String())
	if len(in.Body) > 2000 {
		in.Body = in.Body[:2000]
	}
	if in.Loc > oauth1.InForm {
		in.Loc %= oauth1.InForm + 1
	}
	if in.Loc == oauth1.InForm && (in.Method != "POST" || !oauth1.IsFormType([]string{in.CType})) {
		in.Loc = oauth1.InHeader // net.oauth would not read a form it does not parse
	}
	if len(in.Version) > 40 {
		in.Version = in.Version[:40]
	}
	return in
}

// targetBytes is s, at most max bytes of it, with the bytes a request
// target may not hold raw, and those of also, percent-encoded.
func targetBytes(s, also string, max int) string {
	var b strings.Builder
	for i := 0; i < len(s) && i < max; i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(also, c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func methodIndex(m string) int {
	for i, v := range []string{"GET", "POST", "PUT", "DELETE"} {
		if m == v {
			return i
		}
	}
	if m == "" {
		return 0
	}
	return int(m[0]) % 4
}

// request is the incoming request of in, to path.
func (in oracleInput) request(path string) oracleRequest {
	r := oracleRequest{Method: in.Method, Target: path, Body: in.Body}
	if in.Query != "" {
		r.Target += "?" + in.Query
	}
	if in.CType != "" {
		r.Headers = []string{"Content-Type: " + in.CType}
	}
	if in.Loc != 0 {
		consumer := consumerKey
		if in.HMAC {
			consumer = hmacConsumer
		}
		var extra []oauth1.Param
		if in.Version != "" {
			extra = append(extra, oauth1.Param{Key: "oauth_version", Value: in.Version})
		}
		r.OAuth, r.Loc, r.HMAC = oauth2LO(consumer, extra...), in.Loc, in.HMAC
	}
	return r
}

// check runs in through the handler and through the transport (2LO, and
// impersonating "alice"), and checks both against the oracle.
func (p *oracleProxy) check(t testing.TB, in oracleInput) {
	t.Helper()
	in = in.sanitize()
	name := fmt.Sprintf("%s %.60s?%.80s [%s] %.80q loc=%d hmac=%v v=%q", in.Method, in.Path, in.Query, in.CType, in.Body, in.Loc, in.HMAC, in.Version)
	r := in.request("/rest" + in.Path)
	checkOracle(t, name, r, p.run(t, r))
	if in.Loc != 0 {
		return // the transport signs unsigned requests
	}
	var h []string
	if in.CType != "" {
		h = []string{"Content-Type: " + in.CType}
	}
	q := ""
	if in.Query != "" {
		q = "?" + in.Query
	}
	// Dot segments may take a path out of the transport's routes (to the
	// handler): only what reached the remote through them is checked.
	routed := func(res outResult) bool {
		return res.Remote == nil || strings.HasPrefix(res.Remote.RequestURI, "/out")
	}
	if res := p.out(t, in.Method, "/out2lo"+in.Path+q, h, in.Body); routed(res) {
		checkOut(t, "out "+name, res, "")
	}
	sep := "?"
	if q != "" {
		sep = q + "&"
	}
	res := p.out(t, in.Method, "/outimp"+in.Path+sep+"as=alice", h, in.Body)
	// A query that names "as" again changes the user the placeholder
	// gives: only the first counts.
	if strings.Contains(in.Query, "as=") && res.Remote != nil || !routed(res) {
		return
	}
	checkOut(t, "out imp "+name, res, "alice")
}

// Ingredients of the generated requests.
var (
	oraclePaths = []string{"/fuzz", "/fuzz", "/fuzz", "/a;jsessionid=1/b", "/./a", "/x/../a", "//a", "/%7Ea", "/%c3%a9",
		"/%C3%A9", "/a%20b", "/a+b", "/%2e%2e/a", "/a%2Fb", "/a/", "/[x]", "/a|b", "/%E9"}
	oracleQueries = []string{"", "a=1", "a=1&a=2&b=", "q=a+b%20c%2B", "=x", "&&a&", "%7E=~", "x=%E9", "x=%C3%A9",
		"os_username=admin&os_password=pw&os_authType=basic", "OS_USERNAME=a&Os_Cookie=b", "os%5Fusername=a",
		"xoauth_requestor_id=alice", "user_id=bob", "xoauth_requestor_id=J%C3%BCrgen", "oauth_token=x", "oauth_foo=1",
		"a=%zz", "a=%F0%9F%98%80", "a=1;b=2", "a=%00", "a=[]|{}^`\"<>\\", "xoauth_requestor_id=%20alice"}
	oracleCTypes = []string{"", testkit.FormType, testkit.FormType + "; charset=UTF-8", "Application/x-www-form-urlencoded",
		testkit.FormType + "; charset=ISO-8859-1", "text/plain; charset=UTF-16BE", "application/json",
		"text/plain; charset=windows-1252", testkit.FormType + `; charset="`, testkit.FormType + "; Charset=utf-16",
		"multipart/form-data; boundary=x"}
	oracleBodies = []string{"", "f=1", "f=%E9&g=1", "xoauth_requestor_id=carol", "os_username=x&f=2", "oauth_nonce=dup",
		"=x&f=1", "f=%FC", "{\"a\":1}"}
	oracleVersions = []string{"", "", "", "1.0", "1", "2.0", "NaN"}
)

// TestTomcatOracle runs a deterministic sample of combinations of the
// ingredients above through checkOracle and checkOut.
func TestTomcatOracle(t *testing.T) {
	p := loadOracleProxy(t)
	rng := rand.New(rand.NewPCG(12, 5849))
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	n := 160
	if testing.Short() {
		n = 30
	}
	for range n {
		in := oracleInput{
			Method:  []string{"GET", "POST", "PUT"}[rng.IntN(3)],
			Path:    pick(oraclePaths),
			Query:   pick(oracleQueries),
			CType:   pick(oracleCTypes),
			Body:    pick(oracleBodies),
			Loc:     oauth1.Location(rng.IntN(4)),
			HMAC:    rng.IntN(4) == 0,
			Version: pick(oracleVersions),
		}
		if in.Method == "GET" && rng.IntN(2) == 0 {
			in.Body = ""
		}
		p.check(t, in)
	}
}

// FuzzTomcatOracle is TestTomcatOracle's checks over fuzzed requests. Each
// fuzzing process starts its own Tomcat and Caddy (on free ports).
func FuzzTomcatOracle(f *testing.F) {
	p := loadOracleProxyFor(f)
	for _, s := range []struct {
		method, path, query, ctype, body string
		loc                              uint8
		hmac                             bool
		version                          string
	}{
		{"GET", "/api/2/search", "jql=x&=x", "", "", 1, false, ""},
		{"POST", "/a", "q=%E9", testkit.FormType + "; charset=ISO-8859-1", "f=%FC", 1, false, "1"},
		{"POST", "/a;x=1", "", "Application/X-WWW-Form-Urlencoded", "f=1&xoauth_requestor_id=admin", 1, true, ""},
		{"GET", "/a", "%00o%00s%00_%00u%00s%00e%00r%00n%00a%00m%00e=%00a", "text/plain; charset=UTF-16BE", "", 0, false, ""},
		{"GET", "/%7Ea", "xoauth_requestor_id=%20alice%20", "", "", 2, false, "1.00"},
		{"POST", "/x/../a", "a=1", testkit.FormType, "f=1&=x", 3, false, " 1.0 "},
		{"PUT", "//a", "os_username=a", testkit.FormType, "os_password=b", 0, false, ""},
		{"GET", "/%c3%a9", "x=%FF", "", "", 1, true, "NaN"},
	} {
		f.Add(s.method, s.path, s.query, s.ctype, s.body, s.loc, s.hmac, s.version)
	}
	f.Fuzz(func(t *testing.T, method, path, query, ctype, body string, loc uint8, hmac bool, version string) {
		p.check(t, oracleInput{Method: method, Path: path, Query: query, CType: ctype, Body: body,
			Loc: oauth1.Location(loc), HMAC: hmac, Version: version})
	})
}

package adversarial

import (
	"fmt"
	"mime"
	"strings"
	"testing"
	"unicode/utf16"
)

// kind is what may become of a hostile request.
type kind int

const (
	refusedK kind = iota // the handler's OAuth refusal: status, WWW-Authenticate, form body
	pageK                // the same refusal as an HTML page (the approval page)
	blockedK             // refused before or outside OAuth (403 icon-uri, 400/431/501/505 from the HTTP server)
	passedK              // forwarded: with no identity, or with exactly the one it is entitled to
)

// outcome is what one response on the connection must be.
type outcome struct {
	kind    kind
	status  int
	problem string   // refused: oauth_problem
	params  []string // refused: more parameters the challenge and body must carry

	user      string  // passed: "" = no identity at all, else the one X-Forwarded-User value
	uri       *string // passed: the exact request-target the upstream must get
	body      *string // passed: the exact body the upstream must get
	method    string  // passed: the exact method the upstream must get
	allowAuth string  // passed anonymously: an Authorization value left for the product (Bearer)
}

func refused(status int, problem string, params ...string) outcome {
	return outcome{kind: refusedK, status: status, problem: problem, params: params}
}

func refusedPage(status int, problem string) outcome {
	return outcome{kind: pageK, status: status, problem: problem}
}

func blocked(status int) outcome { return outcome{kind: blockedK, status: status} }

// anon: forwarded with no identity, no credential, no OAuth or impersonation
// parameter.
func anon() outcome { return outcome{kind: passedK} }

// as: forwarded with exactly one X-Forwarded-User, user.
func as(user string) outcome { return outcome{kind: passedK, user: user} }

func (o outcome) withURI(uri string) outcome   { o.uri = &uri; return o }
func (o outcome) withBody(b string) outcome    { o.body = &b; return o }
func (o outcome) withMethod(m string) outcome  { o.method = m; return o }
func (o outcome) allowing(auth string) outcome { o.allowAuth = auth; return o }

func (o outcome) String() string {
	switch o.kind {
	case refusedK:
		s := fmt.Sprintf("refused %d %s", o.status, o.problem)
		if len(o.params) > 0 {
			s += " +" + strings.Join(o.params, ",")
		}
		return s
	case pageK:
		return fmt.Sprintf("refused %d %s (page)", o.status, o.problem)
	case blockedK:
		return fmt.Sprintf("blocked %d", o.status)
	}
	s := "passed, no identity"
	if o.user != "" {
		s = "passed as " + o.user
	}
	if o.uri != nil {
		s += ", URI " + *o.uri
	}
	return s
}

// checker collects failures, so that a case marked as a known bug can be
// skipped when (and only when) it still fails.
type checker struct{ errs []string }

func (c *checker) errorf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

// checkResponse checks one response against its outcome.
func (c *checker) checkResponse(i int, want outcome, got response) {
	fromUpstream := got.Header.Get("X-Upstream") == "yes"
	wa := got.Header.Get("Www-Authenticate")
	switch want.kind {
	case refusedK:
		if got.Status != want.status {
			c.errorf("response %d: status %d, want %d (WWW-Authenticate %q, body %.200q)", i, got.Status, want.status, wa, got.Body)
		}
		if !strings.HasPrefix(wa, realm+", ") {
			c.errorf("response %d: WWW-Authenticate %q does not start with the realm", i, wa)
		}
		if p := problemOf(wa); p != want.problem {
			c.errorf("response %d: oauth_problem %q, want %q (%s)", i, p, want.problem, wa)
		}
		if !strings.HasPrefix(got.Body, "oauth_problem="+want.problem) {
			c.errorf("response %d: body %.200q does not start with oauth_problem=%s", i, got.Body, want.problem)
		}
		if ct := got.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			c.errorf("response %d: Content-Type %q, want the form encoding", i, ct)
		}
		for _, p := range want.params {
			if !strings.Contains(wa, ", "+p+`="`) || !strings.Contains(got.Body, "&"+p+"=") {
				c.errorf("response %d: challenge %q / body %q lack %s", i, wa, got.Body, p)
			}
		}
		if fromUpstream {
			c.errorf("response %d: the refusal came from the upstream", i)
		}
	case pageK:
		if got.Status != want.status {
			c.errorf("response %d: status %d, want %d (WWW-Authenticate %q)", i, got.Status, want.status, wa)
		}
		if !strings.HasPrefix(wa, realm+", ") || problemOf(wa) != want.problem {
			c.errorf("response %d: WWW-Authenticate %q, want the realm and oauth_problem %q", i, wa, want.problem)
		}
		if ct := got.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			c.errorf("response %d: Content-Type %q, want a page", i, ct)
		}
		if fromUpstream {
			c.errorf("response %d: the refusal came from the upstream", i)
		}
	case blockedK:
		if got.Status != want.status {
			c.errorf("response %d: status %d, want %d (WWW-Authenticate %q, body %.200q)", i, got.Status, want.status, wa, got.Body)
		}
		if fromUpstream {
			c.errorf("response %d: a blocked request was answered by the upstream", i)
		}
	case passedK:
		if got.Status != 200 || !fromUpstream || got.Body != "ok" {
			c.errorf("response %d: status %d, from upstream %v, body %.200q (WWW-Authenticate %q); want the upstream's 200", i, got.Status, fromUpstream, got.Body, wa)
		}
	}
}

// checkForwarded checks a request the upstream got against the outcome that
// let it through, and against what no forwarded request may ever carry.
func (c *checker) checkForwarded(i int, want outcome, s seen) {
	var ids []string
	for _, f := range s.Fields {
		n := normName(f[0])
		switch {
		case n == "x-forwarded-user":
			ids = append(ids, f[0]+": "+f[1])
		case strings.HasPrefix(n, "x-seraph-trusted-app"):
			c.errorf("upstream request %d carries %s", i, f[0])
		case n == "proxy-authorization":
			c.errorf("upstream request %d carries %s", i, f[0])
		case n == "authorization":
			if want.user != "" || f[1] != want.allowAuth {
				c.errorf("upstream request %d carries %s: %.80s", i, f[0], f[1])
			}
		case n == "cookie" && want.user != "":
			c.errorf("upstream request %d carries a Cookie next to the verified identity", i)
		}
	}
	if want.user == "" {
		if len(ids) > 0 {
			c.errorf("upstream request %d carries an identity: %q", i, ids)
		}
	} else if len(ids) != 1 || ids[0] != "X-Forwarded-User: "+want.user {
		c.errorf("upstream request %d identity %q, want exactly [X-Forwarded-User: %s]", i, ids, want.user)
	}
	for k, v := range s.Trailer {
		n := normName(k)
		if n == "x-forwarded-user" || strings.HasPrefix(n, "x-seraph-trusted-app") || n == "authorization" ||
			n == "proxy-authorization" || n == "cookie" {
			c.errorf("upstream request %d carries the trailer %s: %q", i, k, v)
		}
	}
	_, query, _ := strings.Cut(s.URI, "?")
	for _, k := range paramNames([]byte(query), "") {
		if bad := forbiddenParam(k); bad != "" {
			c.errorf("upstream request %d: query carries %s (%q)", i, bad, k)
		}
	}
	if ct := s.Header.Values("Content-Type"); len(ct) > 0 {
		mt, params, _ := mime.ParseMediaType(ct[0])
		if mt == "" {
			mt, _, _ = strings.Cut(ct[0], ";")
		}
		if strings.EqualFold(strings.TrimSpace(mt), "application/x-www-form-urlencoded") {
			for _, k := range paramNames(s.Body, params["charset"]) {
				if bad := forbiddenParam(k); bad != "" {
					c.errorf("upstream request %d: form body carries %s (%q), as the product decodes it", i, bad, k)
				}
			}
		}
	}
	if want.uri != nil && s.URI != *want.uri {
		c.errorf("upstream request %d: URI %q, want %q (forwarded exactly as signed)", i, s.URI, *want.uri)
	}
	if want.body != nil && string(s.Body) != *want.body {
		c.errorf("upstream request %d: body %.200q, want %.200q", i, s.Body, *want.body)
	}
	if want.method != "" && s.Method != want.method {
		c.errorf("upstream request %d: method %q, want %q", i, s.Method, want.method)
	}
}

// normName is how a servlet container or CGI gateway may fold a header name.
func normName(name string) string {
	return strings.NewReplacer("_", "-", ".", "-").Replace(strings.ToLower(strings.TrimSpace(name)))
}

// forbiddenParam names what a forwarded parameter name is, if the product
// would read it as a credential or an identity selector.
func forbiddenParam(name string) string {
	switch {
	case strings.HasPrefix(name, "oauth_"):
		return "an OAuth parameter"
	}
	switch strings.ToLower(name) {
	case "xoauth_requestor_id", "user_id":
		return "an impersonation selector"
	case "os_username", "os_password", "os_authtype", "os_cookie":
		return "a Seraph login parameter"
	}
	return ""
}

// paramNames decodes the names of a query string or form body as Tomcat
// does: split the bytes at '&' and '=', percent-decode, then decode with the
// charset (UTF-8 unless a UTF-16 charset is declared).
func paramNames(raw []byte, charset string) []string {
	var names []string
	for _, pair := range strings.Split(string(raw), "&") {
		if pair == "" {
			continue
		}
		name, _, _ := strings.Cut(pair, "=")
		names = append(names, decodeCharset(lenientUnescape(name), charset))
	}
	return names
}

func lenientUnescape(s string) []byte {
	var out []byte
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '+':
			out = append(out, ' ')
		case s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			out = append(out, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			out = append(out, s[i])
		}
	}
	return out
}

func decodeCharset(b []byte, charset string) string {
	var be bool
	switch strings.ToLower(strings.Trim(charset, `" `)) {
	case "utf-16be", "utf-16", "unicodebigunmarked", "x-utf-16be":
		be = true
	case "utf-16le", "x-utf-16le", "unicodelittleunmarked":
	default:
		return string(b)
	}
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		if be {
			u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
		} else {
			u = append(u, uint16(b[i+1])<<8|uint16(b[i]))
		}
	}
	return string(utf16.Decode(u))
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// row is one line of the summary table.
type row struct{ name, want, got, result string }

func printTable(t *testing.T, rows []row) {
	t.Helper()
	var b strings.Builder
	counts := map[string]int{}
	for i, r := range rows {
		fmt.Fprintf(&b, "%3d  %-4s  %-62.62s  %-40.40s  %s\n", i+1, r.result, r.name, r.want, r.got)
		counts[r.result]++
	}
	t.Logf("hostile requests: %d (ok %d, bug %d, FAIL %d)\n%s", len(rows), counts["ok"], counts["bug"], counts["FAIL"], b.String())
}

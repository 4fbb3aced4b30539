package adversarial

import (
	"bufio"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
)

// response is one answer read off the connection.
type response struct {
	Status int
	Header http.Header
	Body   string
}

// exchange writes raw to the proxy exactly as given and reads every response
// until the proxy closes the connection. Writing runs concurrently, so that
// an answer sent before the request was fully written (431, 413) is read.
// With halfClose the write side is shut after raw, to end a truncated body.
func exchange(raw string, halfClose bool) ([]response, error) {
	conn, err := net.Dial("tcp", proxyAddr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	go func() {
		_, _ = io.WriteString(conn, raw)
		if halfClose {
			_ = conn.(*net.TCPConn).CloseWrite()
		}
	}()
	method, _, _ := strings.Cut(raw, " ")
	br := bufio.NewReader(conn)
	var out []response
	for {
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || len(out) > 0 && isReset(err) {
				return out, nil
			}
			return out, err
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 {
			continue // 100 Continue: the answer follows
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil && isReset(err) && resp.Close {
			// net/http answers a malformed request and closes at once; the
			// reset stands for the end of a close-delimited body.
			err = nil
		}
		if err != nil {
			return out, fmt.Errorf("reading body of response %d: %w", len(out)+1, err)
		}
		out = append(out, response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)})
		if resp.Close {
			return out, nil
		}
	}
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

// --- raw request builders ---

// req builds one HTTP/1.1 request: a Host header unless headers have one,
// the headers as given, Content-Length for a body unless headers frame it
// themselves, and Connection: close.
func req(method, target string, headers []string, body string) string {
	return buildReq(method, target, headers, body, true)
}

// reqKeep is req without Connection: close, for the first of pipelined
// requests.
func reqKeep(method, target string, headers []string, body string) string {
	return buildReq(method, target, headers, body, false)
}

func buildReq(method, target string, headers []string, body string, close bool) string {
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\n")
	hasHost, framed := false, false
	for _, h := range headers {
		name, _, _ := strings.Cut(h, ":")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "host":
			hasHost = true
		case "content-length", "transfer-encoding":
			framed = true
		}
	}
	if !hasHost {
		b.WriteString("Host: " + hostHdr + "\r\n")
	}
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	if body != "" && !framed {
		b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	}
	if close {
		b.WriteString("Connection: close\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return b.String()
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

const formCT = "Content-Type: application/x-www-form-urlencoded"

// --- signing ---

// spec is a request signed by hand, so that any part of it can be tampered
// with. Zero values give a valid 2LO RSA-SHA1 GET /rest/a by bamboo, with the
// OAuth parameters in the Authorization header and oauth_token="".
type spec struct {
	Method    string // sent; default GET
	SignVerb  string // signed; default Method
	Target    string // request-target sent, before OAuth query params; default /rest/a
	SignedAs  string // path?query signed; default Target
	Base      string // base URL signed against; default proxyBase
	Form      string // form body sent (with Content-Type form)
	SignForm  *string
	Loc       oauth1.Location // default InHeader
	Consumer  string
	Key       *rsa.PrivateKey
	Secret    string // HMAC-SHA1 with this consumer secret
	SigMethod string // claimed signature method; default from Key/Secret
	Token     *string
	NoToken   bool // leave oauth_token out (oauthlib style)
	Timestamp string
	Nonce     *string
	Version   *string
	Extra     []oauth1.Param // more oauth params, in the same place, signed
	Omit      string         // an oauth parameter to leave out
	Signature *string        // send this instead of the real signature
	Realm     string
}

var nonceSeq atomic.Int64

// signed is a spec's wire form.
type signed struct {
	Target string // with OAuth query params if Loc is InQuery
	Auth   string // Authorization header value, if Loc is InHeader
	Form   string // form body, with OAuth params if Loc is InForm
}

func (s spec) sign(t *testing.T) signed {
	t.Helper()
	if s.Method == "" {
		s.Method = "GET"
	}
	if s.Target == "" {
		s.Target = "/rest/a"
	}
	if s.Consumer == "" {
		s.Consumer = bambooKey
	}
	if s.Key == nil && s.Secret == "" {
		s.Key = consumerKey
	}
	sigMethod := s.SigMethod
	if sigMethod == "" {
		sigMethod = oauth1.RSASHA1
		if s.Secret != "" {
			sigMethod = oauth1.HMACSHA1
		}
	}
	if s.Timestamp == "" {
		s.Timestamp = strconv.FormatInt(time.Now().Unix(), 10)
	}
	nonce := fmt.Sprintf("adv-%d-%d", time.Now().UnixNano(), nonceSeq.Add(1))
	if s.Nonce != nil {
		nonce = *s.Nonce
	}
	version := "1.0"
	if s.Version != nil {
		version = *s.Version
	}
	o := []oauth1.Param{
		{Key: "oauth_consumer_key", Value: s.Consumer},
		{Key: "oauth_signature_method", Value: sigMethod},
		{Key: "oauth_timestamp", Value: s.Timestamp},
		{Key: "oauth_nonce", Value: nonce},
		{Key: "oauth_version", Value: version},
	}
	if !s.NoToken {
		tok := ""
		if s.Token != nil {
			tok = *s.Token
		}
		o = append(o, oauth1.Param{Key: "oauth_token", Value: tok})
	}
	if s.Omit != "" {
		kept := o[:0]
		for _, p := range o {
			if p.Key != s.Omit {
				kept = append(kept, p)
			}
		}
		o = kept
	}
	o = append(o, s.Extra...)

	signedAs := s.Target
	if s.SignedAs != "" {
		signedAs = s.SignedAs
	}
	path, query, _ := strings.Cut(signedAs, "?")
	all := append([]oauth1.Param(nil), o...)
	qp, err := oauth1.ParseForm(query)
	if err != nil {
		t.Fatalf("signed query: %v", err)
	}
	all = append(all, qp...)
	form := s.Form
	if s.SignForm != nil {
		form = *s.SignForm
	}
	fp, err := oauth1.ParseForm(form)
	if err != nil {
		t.Fatalf("signed form: %v", err)
	}
	all = append(all, fp...)
	baseURL := s.Base
	if baseURL == "" {
		baseURL = proxyBase
	}
	base, err := oauth1.ParseBaseURL(baseURL)
	if err != nil {
		t.Fatal(err)
	}
	verb := s.Method
	if s.SignVerb != "" {
		verb = s.SignVerb
	}
	bs := oauth1.BaseString(verb, base.SignedURL(path), all)
	var sig string
	if s.Secret != "" {
		sig = oauth1.SignHMACSHA1(s.Secret, "", bs)
	} else if sig, err = oauth1.SignRSASHA1(s.Key, bs); err != nil {
		t.Fatal(err)
	}
	if s.Signature != nil {
		sig = *s.Signature
	}
	if s.Omit != "oauth_signature" {
		o = append(o, oauth1.Param{Key: "oauth_signature", Value: sig})
	}

	out := signed{Target: s.Target, Form: s.Form}
	switch s.Loc {
	case oauth1.InQuery:
		sep := "?"
		if strings.Contains(out.Target, "?") {
			sep = "&"
		}
		out.Target += sep + encodeParams(o)
	case oauth1.InForm:
		if out.Form != "" {
			out.Form += "&"
		}
		out.Form += encodeParams(o)
	default:
		r := s.Realm
		if r == "" {
			r = proxyBase
		}
		out.Auth = authHeader(r, o)
	}
	return out
}

func authHeader(realm string, ps []oauth1.Param) string {
	var b strings.Builder
	b.WriteString(`OAuth realm="` + oauth1.PercentEncode(realm) + `"`)
	for _, p := range ps {
		b.WriteString(", " + oauth1.PercentEncode(p.Key) + `="` + oauth1.PercentEncode(p.Value) + `"`)
	}
	return b.String()
}

func encodeParams(ps []oauth1.Param) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = oauth1.PercentEncode(p.Key) + "=" + oauth1.PercentEncode(p.Value)
	}
	return strings.Join(parts, "&")
}

// headers returns the request headers carrying s: Authorization and, for a
// form body, Content-Type, followed by extra.
func (w signed) headers(extra ...string) []string {
	var h []string
	if w.Auth != "" {
		h = append(h, "Authorization: "+w.Auth)
	}
	if w.Form != "" {
		h = append(h, formCT)
	}
	return append(h, extra...)
}

// raw is the whole request for s, with extra header lines.
func (s spec) raw(t *testing.T, extra ...string) string {
	w := s.sign(t)
	m := s.Method
	if m == "" {
		m = "GET"
	}
	return req(m, w.Target, w.headers(extra...), w.Form)
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
func problemOf(h string) string {
	i := strings.Index(h, `oauth_problem="`)
	if i < 0 {
		return ""
	}
	rest := h[i+len(`oauth_problem="`):]
	if j := strings.IndexByte(rest, '"'); j >= 0 {
		return rest[:j]
	}
	return rest
}

package testkit

import (
	"crypto/rsa"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
)

// FormType is the Content-Type of a form body.
const FormType = "application/x-www-form-urlencoded"

// OAuth is a request signed by hand with the internal/oauth1 helpers, so
// that a test can tamper with any part of it. Zero values (but Base,
// Consumer and Key or Secret) give a valid 2LO RSA-SHA1 GET with the OAuth
// parameters in the Authorization header and oauth_token="".
type OAuth struct {
	Method   string  // sent; default GET
	SignVerb string  // signed; default Method
	Target   string  // request-target sent (path and query), before OAuth query parameters
	SignedAs string  // path?query signed; default Target
	Base     string  // base URL signed against
	Realm    string  // realm of the Authorization header; default Base
	Form     string  // body sent, with Content-Type FormType
	FormType string  // Content-Type of Form; default application/x-www-form-urlencoded
	SignForm *string // body signed; default Form when it is a form body, none otherwise
	Loc      oauth1.Location

	Consumer    string
	Key         *rsa.PrivateKey
	Secret      string // HMAC-SHA1 with this consumer secret instead of RSA-SHA1
	TokenSecret string // HMAC-SHA1 token secret (3LO)
	SigMethod   string // signature method claimed; default from Key or Secret

	Token     *string        // oauth_token; nil for ""
	NoToken   bool           // leave oauth_token out (oauthlib's style for 2LO)
	Timestamp string         // default now
	Nonce     *string        // default a fresh one
	Version   *string        // default "1.0"
	Extra     []oauth1.Param // more oauth parameters, in the same place, signed
	Omit      string         // an oauth parameter to leave out (oauth_signature too)
	Signature *string        // sent instead of the real signature
}

// Signed is an OAuth request's wire form.
type Signed struct {
	Method   string
	Target   string // with the OAuth query parameters if Loc is InQuery
	Auth     string // Authorization header value, if Loc is InHeader (the default)
	Form     string // body, with the OAuth parameters if Loc is InForm
	FormType string // Content-Type of Form
}

var nonceSeq atomic.Int64

// Nonce is a nonce no other request of the test binary uses.
func Nonce() string {
	return fmt.Sprintf("tk-%d-%d", time.Now().UnixNano(), nonceSeq.Add(1))
}

// Sign signs s.
func (s OAuth) Sign() (Signed, error) {
	if s.Method == "" {
		s.Method = http.MethodGet
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
	nonce := Nonce()
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
		return Signed{}, fmt.Errorf("signed query: %w", err)
	}
	all = append(all, qp...)
	formType := s.FormType
	if formType == "" {
		formType = FormType
	}
	var signedForm string
	if s.SignForm != nil {
		signedForm = *s.SignForm
	} else if oauth1.IsFormType([]string{formType}) {
		// The body Tomcat parses, and so net.oauth signs (any method: a
		// test that sends a PUT sets SignForm).
		signedForm = s.Form
	}
	fp, err := oauth1.ParseForm(signedForm)
	if err != nil {
		return Signed{}, fmt.Errorf("signed form: %w", err)
	}
	all = append(all, fp...)
	base, err := oauth1.ParseBaseURL(s.Base)
	if err != nil {
		return Signed{}, err
	}
	verb := s.Method
	if s.SignVerb != "" {
		verb = s.SignVerb
	}
	bs := oauth1.BaseString(verb, base.SignedURL(path), all)
	var sig string
	if s.Secret != "" {
		sig = oauth1.SignHMACSHA1(s.Secret, s.TokenSecret, bs)
	} else if sig, err = oauth1.SignRSASHA1(s.Key, bs); err != nil {
		return Signed{}, err
	}
	if s.Signature != nil {
		sig = *s.Signature
	}
	if s.Omit != "oauth_signature" {
		o = append(o, oauth1.Param{Key: "oauth_signature", Value: sig})
	}

	out := Signed{Method: s.Method, Target: s.Target, Form: s.Form, FormType: formType}
	switch s.Loc {
	case oauth1.InQuery:
		sep := "?"
		if strings.Contains(out.Target, "?") {
			sep = "&"
		}
		out.Target += sep + EncodeParams(o)
	case oauth1.InForm:
		if out.Form != "" {
			out.Form += "&"
		}
		out.Form += EncodeParams(o)
	default:
		realm := s.Realm
		if realm == "" {
			realm = s.Base
		}
		out.Auth = AuthHeader(realm, o)
	}
	return out, nil
}

// AuthHeader is the Authorization header value carrying ps.
func AuthHeader(realm string, ps []oauth1.Param) string {
	var b strings.Builder
	b.WriteString(`OAuth realm="` + oauth1.PercentEncode(realm) + `"`)
	for _, p := range ps {
		b.WriteString(", " + oauth1.PercentEncode(p.Key) + `="` + oauth1.PercentEncode(p.Value) + `"`)
	}
	return b.String()
}

// EncodeParams is ps percent-encoded as a query or form.
func EncodeParams(ps []oauth1.Param) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = oauth1.PercentEncode(p.Key) + "=" + oauth1.PercentEncode(p.Value)
	}
	return strings.Join(parts, "&")
}

// Headers returns the header lines carrying w (Authorization and, for a
// body, Content-Type), followed by extra: for RawRequest.
func (w Signed) Headers(extra ...string) []string {
	var h []string
	if w.Auth != "" {
		h = append(h, "Authorization: "+w.Auth)
	}
	if w.Form != "" {
		h = append(h, "Content-Type: "+w.FormType)
	}
	return append(h, extra...)
}

// Request is w as an *http.Request to origin (scheme://host[:port]).
func (w Signed) Request(origin string) (*http.Request, error) {
	var body io.Reader
	if w.Form != "" {
		body = strings.NewReader(w.Form)
	}
	req, err := http.NewRequest(w.Method, origin+w.Target, body)
	if err != nil {
		return nil, err
	}
	if w.Form != "" {
		req.Header.Set("Content-Type", w.FormType)
	}
	if w.Auth != "" {
		req.Header.Set("Authorization", w.Auth)
	}
	return req, nil
}

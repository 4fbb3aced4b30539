package oauth1

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Mode is how a request authenticated.
type Mode string

const (
	ModeAnonymous     Mode = ""
	Mode2LO           Mode = "2lo"
	ModeImpersonation Mode = "2lo-impersonation"
	Mode3LO           Mode = "3lo"
)

// Consumer is a linked application allowed to call us, identified by its
// oauth_consumer_key. Atlassian consumers have an RSA public key and no
// secret; a Secret enables HMAC-SHA1 for non-Atlassian clients.
type Consumer struct {
	Key           string
	Name          string
	PublicKey     *rsa.PublicKey
	Secret        string
	TwoLeggedUser string // "" means plain 2LO is not allowed
	Impersonation bool   // 2LO with xoauth_requestor_id allowed
}

// Methods lists the signature methods this consumer may use.
func (c *Consumer) Methods() []string {
	var m []string
	if c.PublicKey != nil {
		m = append(m, RSASHA1)
	}
	if c.Secret != "" {
		m = append(m, HMACSHA1)
	}
	return m
}

// NonceStore remembers (consumer, token, timestamp, nonce) tuples so that a
// signed request cannot be replayed within the timestamp window.
type NonceStore interface {
	// Seen is a cheap pre-check that spares the signature check for replays.
	Seen(ctx context.Context, key string) (bool, error)
	// Record stores key until the given time; it returns false when the key
	// was already stored. It must be atomic.
	Record(ctx context.Context, key string, until time.Time) (bool, error)
	// Since is the time from which the store remembers everything: a memory
	// store forgets on restart, so requests signed before that are refused.
	Since() time.Time
}

// Request is what the verifier needs of an HTTP request, taken before any
// handler rewrote it.
type Request struct {
	Method        string
	RawPath       string   // as received, still percent-encoded, without query
	RawQuery      string   // as received
	Authorization []string // every Authorization header value
	Form          string   // the body, when it is application/x-www-form-urlencoded
}

// Result is the outcome of a successful verification.
type Result struct {
	Mode     Mode
	Consumer *Consumer // nil when anonymous
	User     string    // the user the request runs as
	Location Location  // where the OAuth parameters were
}

// Verifier checks incoming OAuth 1.0a requests as an Atlassian service
// provider does, stricter where Atlassian is lax (see design-notes.md).
type Verifier struct {
	BaseURL   BaseURL
	Consumers func(key string) *Consumer
	Nonces    NonceStore
	Window    time.Duration // timestamp tolerance both ways; 5 min if zero
	Now       func() time.Time
}

// DefaultWindow is Atlassian's (net.oauth's) timestamp window.
const DefaultWindow = 5 * time.Minute

// Size limits of single OAuth parameters; a larger value is refused before
// any work is done with it.
const (
	maxKeyLen       = 255
	maxNonceLen     = 255
	maxTokenLen     = 512
	maxSignatureLen = 2048 // base64 of an 8192-bit RSA signature is 1368
	maxUserLen      = 255
	maxTimestampLen = 12 // seconds until year 33658
)

// requiredParams are the parameters every signed request carries. oauth_token
// is not among them: oauthlib-based clients omit an empty one (2LO).
var requiredParams = []string{
	"oauth_consumer_key", "oauth_signature_method", "oauth_signature",
	"oauth_timestamp", "oauth_nonce",
}

// IsOAuthParam reports whether a name is an OAuth protocol parameter.
func IsOAuthParam(key string) bool { return strings.HasPrefix(key, "oauth_") }

// IsRequestorParam reports whether a name selects the user to impersonate:
// xoauth_requestor_id, or user_id, its deprecated alias at Atlassian.
func IsRequestorParam(key string) bool { return key == "xoauth_requestor_id" || key == "user_id" }

type message struct {
	oauth     map[string]string // single-valued oauth_* params
	all       []Param           // everything signed, oauth_signature excluded
	loc       Location
	requestor string
	hasReq    bool
}

// Verify checks r. It returns a Result with ModeAnonymous when r carries no
// OAuth at all, a Result for a verified request, or a Problem to send back.
func (v *Verifier) Verify(ctx context.Context, r *Request) (*Result, *Problem) {
	msg, p := collect(r)
	if p != nil {
		return nil, p
	}
	if msg == nil {
		return &Result{Mode: ModeAnonymous}, nil
	}
	key := msg.oauth["oauth_consumer_key"]
	p = v.verify(ctx, r, msg)
	if p != nil {
		p.Consumer = key
		return nil, p
	}
	c := v.Consumers(key)
	res := &Result{Consumer: c, Location: msg.loc}
	switch {
	case msg.hasReq && !c.Impersonation:
		return nil, &Problem{Code: PermissionDenied, Consumer: key,
			Advice: "2-legged OAuth with impersonation is not enabled for this consumer",
			Reason: "impersonation not allowed"}
	case msg.hasReq:
		res.Mode, res.User = ModeImpersonation, msg.requestor
	case c.TwoLeggedUser == "":
		return nil, &Problem{Code: PermissionDenied, Consumer: key,
			Advice: "2-legged OAuth is not enabled for this consumer",
			Reason: "2LO not allowed"}
	default:
		res.Mode, res.User = Mode2LO, c.TwoLeggedUser
	}
	return res, nil
}

func (v *Verifier) verify(ctx context.Context, r *Request, msg *message) *Problem {
	o := msg.oauth
	if ver, ok := o["oauth_version"]; ok && ver != "1.0" {
		return problem(VersionRejected, "oauth_version must be 1.0 or absent",
			"oauth_version "+strconv.Quote(truncate(ver)), Param{"oauth_acceptable_versions", "1.0-1.0"})
	}
	for name, limit := range map[string]int{
		"oauth_consumer_key": maxKeyLen, "oauth_nonce": maxNonceLen,
		"oauth_token": maxTokenLen, "oauth_signature": maxSignatureLen,
	} {
		if val := o[name]; len(val) > limit {
			return rejected(name, fmt.Sprintf("%s is longer than %d bytes", name, limit))
		}
	}
	if o["oauth_nonce"] == "" {
		return rejected("oauth_nonce", "oauth_nonce must not be empty")
	}
	if o["oauth_consumer_key"] == "" {
		return rejected("oauth_consumer_key", "oauth_consumer_key must not be empty")
	}
	ts, ok := parseTimestamp(o["oauth_timestamp"])
	if !ok {
		return rejected("oauth_timestamp", "oauth_timestamp must be a number of seconds since 1970")
	}
	now := v.now()
	window := v.window()
	lo, hi := now.Add(-window).Unix(), now.Add(window).Unix()
	if since := v.Nonces.Since().Unix(); since > lo {
		lo = since
	}
	if ts < lo || ts > hi {
		return &Problem{Code: TimestampRefused,
			Params: []Param{{"oauth_acceptable_timestamps", fmt.Sprintf("%d-%d", lo, hi)}},
			Advice: "check the clock of the signing server",
			Reason: fmt.Sprintf("timestamp %d is %ds from now", ts, ts-now.Unix())}
	}

	method := o["oauth_signature_method"]
	key := o["oauth_consumer_key"]
	c := v.Consumers(key)
	known := c != nil
	if !known {
		c = dummyConsumer()
	}
	if method != RSASHA1 && method != HMACSHA1 || !slices.Contains(c.Methods(), method) {
		if !known {
			return problem(ConsumerKeyUnknown, "", "unknown consumer")
		}
		return problem(SignatureMethodRejected, "",
			"method "+strconv.Quote(truncate(method))+" not allowed",
			Param{"oauth_acceptable_signature_methods", strings.Join(c.Methods(), "&")})
	}
	token, hasToken := o["oauth_token"]
	if hasToken && token != "" {
		// 3-legged OAuth needs a token store; none is configured.
		return problem(TokenRejected, "", "3-legged access token presented; no token store")
	}
	if msg.hasReq && msg.requestor == "" {
		return rejected("xoauth_requestor_id", "xoauth_requestor_id must not be empty")
	}
	if !validUser(msg.requestor) {
		return rejected("xoauth_requestor_id", "xoauth_requestor_id must be a user name of at most 255 characters without control characters")
	}

	nonceKey := key + "\x00" + token + "\x00" + o["oauth_timestamp"] + "\x00" + o["oauth_nonce"]
	if known {
		seen, err := v.Nonces.Seen(ctx, nonceKey)
		if err != nil {
			return &Problem{Unavailable: true, Reason: "nonce store: " + err.Error()}
		}
		if seen {
			return problem(NonceUsed, "", "replayed nonce")
		}
	}

	sig, err := base64.StdEncoding.DecodeString(o["oauth_signature"])
	base := BaseString(r.Method, v.BaseURL.SignedURL(r.RawPath), msg.all)
	switch {
	case err != nil:
		if !known {
			return problem(ConsumerKeyUnknown, "", "unknown consumer")
		}
		return problem(SignatureInvalid, "oauth_signature is not valid base64", "signature not base64")
	case method == RSASHA1:
		err = VerifyRSASHA1(c.PublicKey, base, sig)
	default:
		if !VerifyHMACSHA1(c.Secret, "", base, sig) {
			err = errBadHMAC
		}
	}
	if !known {
		return problem(ConsumerKeyUnknown, "", "unknown consumer")
	}
	if err != nil {
		return problem(SignatureInvalid, "", "signature does not match; base string: "+truncateBase(base))
	}

	// Recorded only now, so that unsigned floods cannot fill the store.
	fresh, err := v.Nonces.Record(ctx, nonceKey, time.Unix(ts, 0).Add(window+time.Second))
	if err != nil {
		return &Problem{Unavailable: true, Reason: "nonce store: " + err.Error()}
	}
	if !fresh {
		return problem(NonceUsed, "", "replayed nonce (concurrent)")
	}
	return nil
}

var errBadHMAC = fmt.Errorf("hmac mismatch")

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) window() time.Duration {
	if v.Window > 0 {
		return v.Window
	}
	return DefaultWindow
}

func rejected(name, advice string) *Problem {
	return problem(ParameterRejected, advice, advice, listParam("oauth_parameters_rejected", []string{name}))
}

func parseTimestamp(s string) (int64, bool) {
	if s == "" || len(s) > maxTimestampLen {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func validUser(u string) bool {
	if len(u) > maxUserLen {
		return false
	}
	for _, r := range u {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func truncateBase(s string) string {
	if len(s) > 2048 {
		return s[:2048] + "..."
	}
	return s
}

// dummyConsumer gives unknown consumer keys a real key to verify against, so
// that they take as long as known ones.
var dummyConsumer = sync.OnceValue(func() *Consumer {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic("applink: cannot generate dummy key: " + err.Error())
	}
	return &Consumer{Key: "\x00dummy", PublicKey: &k.PublicKey, Secret: "\x00dummy"}
})

// collect gathers the OAuth message from header, query and form, refusing
// anything ambiguous. It returns nil, nil for a request without OAuth.
func collect(r *Request) (*message, *Problem) {
	var headerParams []Param
	oauthHeaders := 0
	for _, h := range r.Authorization {
		if !IsOAuthScheme(h) {
			continue
		}
		oauthHeaders++
		_, ps, err := ParseAuthorizationHeader(h)
		if err != nil {
			return nil, problem(ParameterRejected, "malformed OAuth Authorization header: "+err.Error(),
				"malformed Authorization header: "+err.Error())
		}
		headerParams = ps
	}
	query, qerr := ParseForm(r.RawQuery)
	form, ferr := ParseForm(r.Form)

	locs := 0
	var loc Location
	if oauthHeaders > 0 {
		locs++
		loc = InHeader
	}
	if hasOAuth(query) {
		locs++
		loc = InQuery
	}
	if hasOAuth(form) {
		locs++
		loc = InForm
	}
	if locs == 0 && !(qerr != nil && strings.Contains(r.RawQuery, "oauth_")) &&
		!(ferr != nil && strings.Contains(r.Form, "oauth_")) {
		return nil, nil
	}
	if oauthHeaders > 1 {
		return nil, problem(ParameterRejected, "send exactly one OAuth Authorization header",
			"several OAuth Authorization headers")
	}
	if qerr != nil {
		return nil, problem(ParameterRejected, "query string: "+qerr.Error(), "query: "+qerr.Error())
	}
	if ferr != nil {
		return nil, problem(ParameterRejected, "form body: "+ferr.Error(), "form: "+ferr.Error())
	}
	if locs > 1 {
		var names []string
		for _, ps := range [][]Param{query, form} {
			for _, p := range ps {
				if IsOAuthParam(p.Key) {
					names = append(names, p.Key)
				}
			}
		}
		return nil, problem(ParameterRejected,
			"OAuth parameters must all be in one place: the Authorization header, the query or the form body",
			"OAuth parameters split between locations", listParam("oauth_parameters_rejected", names))
	}

	msg := &message{oauth: make(map[string]string, 8), loc: loc}
	msg.all = make([]Param, 0, len(headerParams)+len(query)+len(form))
	for _, p := range headerParams {
		if IsRequestorParam(p.Key) {
			return nil, rejected(p.Key, p.Key+" must be in the query string or form body, not the Authorization header")
		}
	}
	var dups []string
	for _, group := range [][]Param{headerParams, query, form} {
		for _, p := range group {
			switch {
			case IsOAuthParam(p.Key):
				if _, dup := msg.oauth[p.Key]; dup {
					dups = append(dups, p.Key)
					continue
				}
				msg.oauth[p.Key] = p.Value
			case IsRequestorParam(p.Key):
				if msg.hasReq {
					dups = append(dups, p.Key)
					continue
				}
				msg.hasReq, msg.requestor = true, p.Value
			}
			if p.Key != "oauth_signature" {
				msg.all = append(msg.all, p)
			}
		}
	}
	if len(dups) > 0 {
		return nil, problem(ParameterRejected, "each OAuth parameter may appear only once",
			"duplicated parameters", listParam("oauth_parameters_rejected", dups))
	}
	var absent []string
	for _, name := range requiredParams {
		if _, ok := msg.oauth[name]; !ok {
			absent = append(absent, name)
		}
	}
	if len(absent) > 0 {
		return nil, problem(ParameterAbsent, "", "missing "+strings.Join(absent, ","),
			listParam("oauth_parameters_absent", absent))
	}
	return msg, nil
}

func hasOAuth(ps []Param) bool {
	for _, p := range ps {
		if IsOAuthParam(p.Key) {
			return true
		}
	}
	return false
}

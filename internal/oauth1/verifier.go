package oauth1

import (
	"context"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
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
	Key       string
	Name      string
	PublicKey *rsa.PublicKey
	// SecondPublicKey, if set, verifies too: the key a consumer rotates to
	// or from. It is tried only on a signature PublicKey refuses.
	SecondPublicKey *rsa.PublicKey
	Secret          string
	TwoLeggedUser   string // "" means plain 2LO is not allowed
	Impersonation   bool   // 2LO with xoauth_requestor_id allowed
	// Policy, if set, maps and limits the users Impersonation acts as.
	Policy      *ImpersonationPolicy
	ThreeLegged bool   // 3LO (tokens a user approved) allowed
	Description string // shown to users approving the consumer

	prepared       atomic.Pointer[preparedRSAKey] // PublicKey, ready to verify with
	preparedSecond atomic.Pointer[preparedRSAKey] // SecondPublicKey
}

// preparedKey returns PublicKey prepared for verification (nil when it
// cannot be), preparing it on first use and again if PublicKey changed.
func (c *Consumer) preparedKey() *preparedRSAKey { return prepared(&c.prepared, c.PublicKey) }

func prepared(slot *atomic.Pointer[preparedRSAKey], pub *rsa.PublicKey) *preparedRSAKey {
	if p := slot.Load(); p != nil && p.pub == pub {
		return p
	}
	p := prepareRSAKey(pub)
	if p != nil {
		slot.Store(p)
	}
	return p
}

// verifyRSASHA1 checks an RSA-SHA1 signature over base with the
// consumer's keys, and returns which verified it: 1 (PublicKey) or 2
// (SecondPublicKey). The second costs only requests the first refuses.
func (c *Consumer) verifyRSASHA1(base, sig []byte) (int, error) {
	sum := sha1.Sum(base)
	err := verifyRSASHA1Sum(c.preparedKey(), c.PublicKey, sum[:], sig)
	if err == nil || c.SecondPublicKey == nil {
		return 1, err
	}
	if verifyRSASHA1Sum(prepared(&c.preparedSecond, c.SecondPublicKey), c.SecondPublicKey, sum[:], sig) == nil {
		return 2, nil
	}
	return 1, err
}

// String is the consumer key: a Consumer printed (in a log, or as the
// value of a Caddy variable in a placeholder) never shows its secret.
func (c *Consumer) String() string { return c.Key }

// GoString is String, for %#v.
func (c *Consumer) GoString() string { return "oauth1.Consumer(" + strconv.Quote(c.Key) + ")" }

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

// allows reports whether the consumer may sign with method; it is
// Methods without the allocation.
func (c *Consumer) allows(method string) bool {
	switch method {
	case RSASHA1:
		return c.PublicKey != nil
	case HMACSHA1:
		return c.Secret != ""
	}
	return false
}

// NonceStore remembers (consumer, token, timestamp, nonce) tuples so that a
// signed request cannot be replayed within the timestamp window. Each comes
// as a key that holds all four, and the stamp it holds (oauth_timestamp, in
// Unix seconds), by which a store may file it: a key always comes with the
// same stamp.
type NonceStore interface {
	// Seen is a cheap pre-check that spares the signature check for replays.
	Seen(ctx context.Context, key string, stamp int64) (bool, error)
	// Record stores key at least until the given time; it returns false
	// when the key was already stored. It must be atomic.
	Record(ctx context.Context, key string, stamp int64, until time.Time) (bool, error)
	// Since is the time from which the store remembers every nonce it
	// recorded: requests stamped before it are refused. A memory store
	// forgets on restart; a journaled one only where its journal could
	// not be trusted.
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
	// Charset is how the product's servlet container decodes query and
	// form (see RequestCharset): the parameters are verified as it will
	// read them, or refused where they would not be read the same.
	Charset Charset
}

// Result is the outcome of a successful verification.
type Result struct {
	Mode     Mode
	Consumer *Consumer // nil when anonymous
	User     string    // the user the request runs as
	Location Location  // where the OAuth parameters were
	// PublicKey is which of the consumer's RSA keys verified the
	// signature: 1 or 2 (SecondPublicKey); 0 for HMAC-SHA1.
	PublicKey int
	// Skew is the request's oauth_timestamp less the verifier's clock.
	Skew time.Duration
}

// Endpoint says what a signed request is for: a resource (the product's
// API), or one of the token endpoints of the 3-legged dance.
type Endpoint uint8

const (
	Resource Endpoint = iota
	RequestTokenEndpoint
	AccessTokenEndpoint
)

// TokenResolver looks up the oauth_token of a request for the verifier.
// The verifier stays free of any store; the provider implements this.
type TokenResolver interface {
	// TokenSecret checks that consumer c may present token at endpoint and
	// returns the secret to verify the signature with ("" when c signs with
	// RSA-SHA1, which ignores it), plus state handed back to User.
	TokenSecret(ctx context.Context, c *Consumer, token string, at Endpoint) (secret string, state any, p *Problem)
	// User maps a verified 3LO resource request to the approving user.
	User(ctx context.Context, c *Consumer, state any) (string, *Problem)
}

// Signed is a verified request to a token endpoint.
type Signed struct {
	Consumer *Consumer
	Token    string // oauth_token ("" at the request-token endpoint)
	State    any    // from TokenResolver.TokenSecret
	// PublicKey is as in Result.
	PublicKey int
	params    oauthParams
}

// Param returns an oauth_* parameter of the request (oauth_callback,
// oauth_verifier, oauth_session_handle...).
func (s *Signed) Param(name string) (string, bool) { return s.params.get(name) }

// Verifier checks incoming OAuth 1.0a requests as an Atlassian service
// provider does, stricter where Atlassian is lax (docs/protocol.md).
type Verifier struct {
	BaseURL   BaseURL
	Consumers func(key string) *Consumer
	Nonces    NonceStore
	// RecordOnly skips the Seen pre-check: for a store across the network
	// the atomic Record after the signature check is the one round trip
	// worth paying (a replay then costs a signature check, not every
	// request a second trip).
	RecordOnly bool
	Window     time.Duration // timestamp tolerance both ways; 5 min if zero
	Now        func() time.Time
	// Tokens resolves oauth_token values; nil refuses every token
	// (token_rejected), so only 2LO works.
	Tokens TokenResolver
	// ExposeBaseString adds oauth_signature_base_string to signature_invalid
	// answers, as Atlassian does: a debugging aid that shows clients the
	// URL the proxy believes in.
	ExposeBaseString bool
}

// DefaultWindow is Atlassian's (net.oauth's) timestamp window.
const DefaultWindow = 5 * time.Minute

// NonceHold is how long after its stamp the verifier has a nonce kept: until
// the stamp leaves the window, and a second, since stamps are whole seconds.
func NonceHold(window time.Duration) time.Duration { return window + time.Second }

// Size limits of single OAuth parameters; a larger value is refused before
// any work is done with it.
const (
	maxKeyLen       = 255
	maxNonceLen     = 255
	maxTokenLen     = 512
	maxSignatureLen = 2048 // base64 of an 8192-bit RSA signature is 1368
	maxTimestampLen = 12   // seconds until year 33658
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
	oauth     oauthParams // single-valued oauth_* params
	loc       Location
	skew      time.Duration // oauth_timestamp less the clock, once read
	stamped   bool          // skew is set
	requestor string
	hasReq    bool
	publicKey int // which consumer key verified the signature (Result.PublicKey)
}

// oauthParams holds the oauth_* parameters of a message, each name once.
// The protocol parameters have fixed slots; other oauth_* names (a client
// may send oauth_body_hash, oauth_callback, ...) are searched linearly up to
// linearSearchMax names, and past that (only a hostile request has that
// many) indexed by a map, so that duplicate detection stays linear.
type oauthParams struct {
	known [numKnown]string
	has   [numKnown]bool
	list  []Param
	idx   map[string]string
}

// Slots of the protocol parameters in oauthParams.known.
const (
	kConsumerKey = iota
	kToken
	kSignatureMethod
	kSignature
	kTimestamp
	kNonce
	kVersion
	numKnown
)

func knownSlot(key string) int {
	switch key {
	case "oauth_consumer_key":
		return kConsumerKey
	case "oauth_token":
		return kToken
	case "oauth_signature_method":
		return kSignatureMethod
	case "oauth_signature":
		return kSignature
	case "oauth_timestamp":
		return kTimestamp
	case "oauth_nonce":
		return kNonce
	case "oauth_version":
		return kVersion
	}
	return -1
}

const linearSearchMax = 16

func (o *oauthParams) get(key string) (string, bool) {
	if i := knownSlot(key); i >= 0 {
		return o.known[i], o.has[i]
	}
	if o.idx != nil {
		v, ok := o.idx[key]
		return v, ok
	}
	for _, p := range o.list {
		if p.Key == key {
			return p.Value, true
		}
	}
	return "", false
}

func (o *oauthParams) val(key string) string {
	v, _ := o.get(key)
	return v
}

// add stores p and reports false if its name is already there.
func (o *oauthParams) add(p Param) bool {
	if i := knownSlot(p.Key); i >= 0 {
		if o.has[i] {
			return false
		}
		o.known[i], o.has[i] = p.Value, true
		return true
	}
	if _, dup := o.get(p.Key); dup {
		return false
	}
	o.list = append(o.list, p)
	if o.idx != nil {
		o.idx[p.Key] = p.Value
	} else if len(o.list) > linearSearchMax {
		o.idx = make(map[string]string, 2*len(o.list))
		for _, q := range o.list {
			o.idx[q.Key] = q.Value
		}
	}
	return true
}

// Verify checks r. It returns a Result with ModeAnonymous when r carries no
// OAuth at all, a Result for a verified request, or a Problem to send back.
func (v *Verifier) Verify(ctx context.Context, r *Request) (*Result, *Problem) {
	var buf [paramBufLen]Param
	msg, signed, found, p := collectInto(r, buf[:0])
	if p != nil {
		return nil, p
	}
	if !found {
		return &Result{Mode: ModeAnonymous}, nil
	}
	key := msg.oauth.known[kConsumerKey]
	if len(key) > maxKeyLen {
		key = key[:maxKeyLen] // for the log: at most what a valid key can be
	}
	// The consumer verify checked the signature with is the one the result
	// names: a second lookup could see another (or no) consumer after a
	// config reload.
	c, state, p := v.verify(ctx, r, &msg, signed, Resource)
	if p != nil {
		p.Consumer = key
		p.Skew, p.Stamped = msg.skew, msg.stamped
		return nil, p
	}
	res := &Result{Consumer: c, Location: msg.loc, Skew: msg.skew, PublicKey: msg.publicKey}
	if msg.oauth.known[kToken] != "" {
		user, p := v.Tokens.User(ctx, c, state)
		if p != nil {
			p.Consumer = key
			return nil, p
		}
		res.Mode, res.User = Mode3LO, user
		return res, nil
	}
	switch {
	case msg.hasReq && !c.Impersonation:
		return nil, &Problem{Code: PermissionDenied, Consumer: key,
			Advice: "2-legged OAuth with impersonation is not enabled for this consumer",
			Reason: "impersonation not allowed"}
	case msg.hasReq && c.Policy != nil:
		user, p := c.Policy.check(ctx, msg.requestor)
		if p != nil {
			p.Consumer = key
			return nil, p
		}
		res.Mode, res.User = ModeImpersonation, user
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

// VerifyEndpoint checks a request to a token endpoint: the signature (with
// the secret of the request or access token it carries), timestamp and
// nonce, but maps it to no user. It never returns an anonymous result: a
// request without OAuth gets parameter_absent.
func (v *Verifier) VerifyEndpoint(ctx context.Context, r *Request, at Endpoint) (*Signed, *Problem) {
	var buf [paramBufLen]Param
	msg, signed, found, p := collectInto(r, buf[:0])
	if p != nil {
		return nil, p
	}
	if !found {
		return nil, problem(ParameterAbsent, "this endpoint takes OAuth-signed requests only", "no OAuth parameters",
			listParam("oauth_parameters_absent", requiredParams))
	}
	key := msg.oauth.known[kConsumerKey]
	if len(key) > maxKeyLen {
		key = key[:maxKeyLen]
	}
	c, state, p := v.verify(ctx, r, &msg, signed, at)
	if p != nil {
		p.Consumer = key
		return nil, p
	}
	return &Signed{Consumer: c, Token: msg.oauth.known[kToken], State: state, PublicKey: msg.publicKey, params: msg.oauth}, nil
}

// sizeLimits are checked in this order, so that the problem reported for a
// request with several oversized values does not depend on map iteration.
var sizeLimits = [...]struct {
	name  string
	slot  int
	limit int
}{
	{"oauth_consumer_key", kConsumerKey, maxKeyLen}, {"oauth_nonce", kNonce, maxNonceLen},
	{"oauth_token", kToken, maxTokenLen}, {"oauth_signature", kSignature, maxSignatureLen},
}

// verify checks everything but the consumer's permissions and returns the
// consumer whose key verified the signature.
func (v *Verifier) verify(ctx context.Context, r *Request, msg *message, signed []Param, at Endpoint) (*Consumer, any, *Problem) {
	c, state, p := v.verifyMessage(ctx, r, msg, signed, at)
	if p != nil && msg.oauth.known[kToken] != "" {
		// Never log a whole token: a base string in the reason carries it.
		tok := PercentEncode(PercentEncode(msg.oauth.known[kToken]))
		p.Reason = strings.ReplaceAll(p.Reason, "oauth_token%3D"+tok, "oauth_token%3D"+redact(msg.oauth.known[kToken]))
	}
	return c, state, p
}

// redact shows enough of a token to tell tokens apart in a log.
func redact(token string) string {
	if len(token) <= 8 {
		return "[redacted]"
	}
	return PercentEncode(PercentEncode(token[:4])) + "...[redacted]"
}

func (v *Verifier) verifyMessage(ctx context.Context, r *Request, msg *message, signed []Param, at Endpoint) (*Consumer, any, *Problem) {
	if v.Consumers == nil || v.Nonces == nil {
		// Fail closed: a half-configured verifier refuses, it does not panic.
		return nil, nil, &Problem{Unavailable: true, Reason: "verifier has no consumers or no nonce store"}
	}
	o := &msg.oauth
	if ver := o.known[kVersion]; o.has[kVersion] && !AcceptableVersion(ver) {
		return nil, nil, problem(VersionRejected, "oauth_version must be 1.0 or absent",
			"oauth_version "+strconv.Quote(truncate(ver)), Param{"oauth_acceptable_versions", "1.0-1.0"})
	}
	for _, l := range sizeLimits {
		if val := o.known[l.slot]; len(val) > l.limit {
			return nil, nil, rejected(l.name, fmt.Sprintf("%s is longer than %d bytes", l.name, l.limit))
		}
	}
	if o.known[kNonce] == "" {
		return nil, nil, rejected("oauth_nonce", "oauth_nonce must not be empty")
	}
	if o.known[kConsumerKey] == "" {
		return nil, nil, rejected("oauth_consumer_key", "oauth_consumer_key must not be empty")
	}
	ts, ok := parseTimestamp(o.known[kTimestamp])
	if !ok {
		return nil, nil, rejected("oauth_timestamp", "oauth_timestamp must be a number of seconds since 1970")
	}
	now := v.now()
	window := v.window()
	msg.skew, msg.stamped = time.Unix(ts, 0).Sub(now), true
	lo, hi := now.Add(-window).Unix(), now.Add(window).Unix()
	// Round Since up: a request stamped with the second the store started in
	// may have been signed, and accepted, before it started.
	since := v.Nonces.Since()
	sinceSec := since.Unix()
	if since.Nanosecond() != 0 {
		sinceSec++
	}
	inWindow := ts >= lo && ts <= hi
	if sinceSec > lo {
		lo = sinceSec
	}
	if ts < lo || ts > hi {
		p := &Problem{Code: TimestampRefused,
			Params: []Param{{"oauth_acceptable_timestamps", fmt.Sprintf("%d-%d", lo, hi)}},
			Advice: "check the clock of the signing server",
			Reason: fmt.Sprintf("timestamp %d is %ds from now", ts, ts-now.Unix())}
		if inWindow {
			// The clock is fine: the store has no record of what was
			// accepted with that stamp, and a replay must not pass.
			p.Advice = "the proxy restarted and has no record of the requests it accepted before; sign the request again"
			p.Reason = fmt.Sprintf("timestamp %d is before %d, from which the nonce store has a record since the proxy restarted", ts, lo)
		}
		return nil, nil, p
	}

	method := o.known[kSignatureMethod]
	key := o.known[kConsumerKey]
	c := v.Consumers(key)
	known := c != nil
	if !known {
		c = dummyConsumer()
	}
	if !c.allows(method) {
		if !known {
			return nil, nil, problem(ConsumerKeyUnknown, "", "unknown consumer")
		}
		return nil, nil, problem(SignatureMethodRejected, "",
			"method "+strconv.Quote(truncate(method))+" not allowed",
			Param{"oauth_acceptable_signature_methods", strings.Join(c.Methods(), "&")})
	}
	token := o.known[kToken]
	var tokenSecret string
	var state any
	switch {
	case token == "" && at == AccessTokenEndpoint:
		return nil, nil, problem(ParameterAbsent, "", "no oauth_token at the access-token endpoint",
			listParam("oauth_parameters_absent", []string{"oauth_token"}))
	case token != "" && at == RequestTokenEndpoint:
		return nil, nil, rejected("oauth_token", "the request-token endpoint takes no oauth_token")
	case token != "" && !known:
		// An unknown consumer's token is not looked up.
	case token != "" && v.Tokens == nil:
		return nil, nil, problem(TokenRejected, "", "3-legged access token presented; no token store")
	case token != "":
		var p *Problem
		if tokenSecret, state, p = v.Tokens.TokenSecret(ctx, c, token, at); p != nil {
			return nil, nil, p
		}
		if at == Resource && msg.hasReq {
			return nil, nil, rejected("xoauth_requestor_id", "3-legged requests run as the token's user: send no xoauth_requestor_id")
		}
	}
	if msg.hasReq && msg.requestor == "" {
		return nil, nil, rejected("xoauth_requestor_id", "xoauth_requestor_id must not be empty")
	}
	if msg.hasReq && !ValidUserName(msg.requestor) {
		return nil, nil, rejected("xoauth_requestor_id", "xoauth_requestor_id must be a user name of at most 255 characters without control characters")
	}

	nonceKey := key + "\x00" + token + "\x00" + o.known[kTimestamp] + "\x00" + o.known[kNonce]
	if known && !v.RecordOnly {
		seen, err := v.Nonces.Seen(ctx, nonceKey, ts)
		if err != nil {
			return nil, nil, &Problem{Unavailable: true, Reason: "nonce store: " + err.Error()}
		}
		if seen {
			return nil, nil, problem(NonceUsed, "", "replayed nonce")
		}
	}

	var sigBuf [maxPlainSignatureLen]byte
	sig, err := base64.StdEncoding.AppendDecode(sigBuf[:0], []byte(o.known[kSignature]))
	if err != nil {
		if !known {
			return nil, nil, problem(ConsumerKeyUnknown, "", "unknown consumer")
		}
		return nil, nil, problem(SignatureInvalid, "oauth_signature is not valid base64", "signature not base64")
	}
	prefix, path := v.BaseURL.signedURL(r.RawPath)
	pooled := baseStringBuffers.Get().(*[]byte)
	base := appendBaseString((*pooled)[:0], r.Method, prefix, path, signed)
	// Every use of base below is done by the time verifyMessage returns:
	// the hashes copy it, problems take a truncated copy.
	defer releaseBaseStringBuffer(pooled, base)
	if method == RSASHA1 {
		msg.publicKey, err = c.verifyRSASHA1(base, sig)
	} else if !verifyHMACSHA1(c.Secret, tokenSecret, base, sig) {
		err = errBadHMAC
	}
	if !known {
		return nil, nil, problem(ConsumerKeyUnknown, "", "unknown consumer")
	}
	if err != nil {
		pr := problem(SignatureInvalid, "", "signature does not match; base string: "+truncateBase(base))
		if v.ExposeBaseString {
			// What Atlassian answers: lets the client diff the two base
			// strings. Redacted like the log when a token is in it.
			bs := truncateBase(base)
			if tok := o.known[kToken]; tok != "" {
				bs = strings.ReplaceAll(bs, "oauth_token%3D"+PercentEncode(PercentEncode(tok)), "oauth_token%3D"+redact(tok))
			}
			pr.Params = append(pr.Params, Param{"oauth_signature_base_string", bs}, Param{"oauth_signature_method", method})
		}
		return nil, nil, pr
	}

	// Recorded only now, so that unsigned floods cannot fill the store.
	until := time.Unix(ts, 0).Add(NonceHold(window))
	fresh, err := v.Nonces.Record(ctx, nonceKey, ts, until)
	if err != nil {
		return nil, nil, &Problem{Unavailable: true, Reason: "nonce store: " + err.Error()}
	}
	if !fresh {
		return nil, nil, problem(NonceUsed, "", "replayed nonce (concurrent)")
	}
	return c, state, nil
}

var errBadHMAC = fmt.Errorf("hmac mismatch")

// maxPlainSignatureLen is the largest decoded signature verifyMessage
// decodes into an array on its stack: an RSA-SHA1 signature with a key of
// up to 4096 bits (an HMAC-SHA1 one is 20 bytes).
const maxPlainSignatureLen = 512

// baseStringBuffers holds the buffers signature base strings are built in,
// one per request in flight: a base string is hashed and dropped.
var baseStringBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooledBaseString bounds the buffers kept for reuse: the base string of
// a large form body is not worth holding on to.
const maxPooledBaseString = 64 << 10

func releaseBaseStringBuffer(pooled *[]byte, base []byte) {
	if cap(base) > maxPooledBaseString {
		return
	}
	*pooled = base[:0]
	baseStringBuffers.Put(pooled)
}

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

// Bounds of a user name: Atlassian counts characters, not bytes.
const (
	MaxUserNameLen   = 255
	MaxUserNameBytes = 4 * MaxUserNameLen // its UTF-8 form
)

// ValidUserName is the one rule for a user name this project hands on, as
// an impersonated user, a signed requestor or a logged-in approver: not
// empty, valid UTF-8 (no U+FFFD either), at most MaxUserNameLen
// characters, no C0 or C1 control characters: it goes into a header
// upstream. Nor may it begin or end with a space: the product's HTTP
// parser drops those from the header, so the product would get another
// name than the logs, placeholders and metrics show.
func ValidUserName(u string) bool {
	if u == "" || len(u) > MaxUserNameBytes || utf8.RuneCountInString(u) > MaxUserNameLen {
		return false
	}
	if u[0] == ' ' || u[len(u)-1] == ' ' {
		return false
	}
	for _, r := range u {
		if r < 0x20 || r >= 0x7f && r < 0xa0 || r == utf8.RuneError {
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

func truncateBase(b []byte) string {
	if len(b) > 2048 {
		return string(b[:2048]) + "..."
	}
	return string(b)
}

// dummyConsumer gives unknown consumer keys a real key to verify against, so
// that they take as long as known ones. Only its public half is needed (an
// unknown consumer is refused whatever its signature), so it is a constant:
// generating a key on the first unknown request stalled that request for
// up to seconds and marked it out by its timing.
var dummyConsumer = sync.OnceValue(func() *Consumer {
	der, err := base64.StdEncoding.DecodeString(dummyPublicKey)
	if err != nil {
		panic("applink: dummy key: " + err.Error())
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		panic("applink: dummy key: " + err.Error())
	}
	return &Consumer{Key: "\x00dummy", PublicKey: k.(*rsa.PublicKey), Secret: "\x00dummy"}
})

// dummyPublicKey is a 2048-bit RSA public key whose private half was thrown
// away (SubjectPublicKeyInfo, base64 DER).
const dummyPublicKey = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAw4yj3ETy8pDLpOqz66Tb" +
	"cCS/bqT0vHwG0FXzVqmQS/6hCYaU52DBl1zD80Jzr/JhWnJ6uNeBRy2HbRGvt6GN" +
	"pXbPRqsmygN6SKIiVyERYWe8fEoLk+fCq2NtUXiFud0lxWxEtkU4R5q/KcGAsl5P" +
	"09ZVyCo+CdMv+CuIcbrTK/ygZYHrEnUJ6xDNmmmWdZQhCaJ5p7NN4eV0ysUcqAWt" +
	"cJFTTkMjh7mw5ggz8go0YkUAtXvvZWxe23ahrdvmOo4+SUHaOdA/sM26JCaiPpea" +
	"5ZiSWucS2MWHmXWy+BEEsrk9qun1Wwvo/VumbYfiC+rn7YETyHLDLxmjijvPk0Zb" +
	"yQIDAQAB"

// paramBufLen is how many parameters Verify collects in an array on its
// stack: a request with more (a large form, say) takes one allocation.
const paramBufLen = 24

// collectInto gathers the OAuth message from header, query and form,
// refusing anything ambiguous; found is false for a request without OAuth.
// signed is every signed parameter (oauth_signature excluded). It is built
// in buf (empty, on the caller's stack) when the parameters fit, and kept
// out of msg so that buf can stay there: msg's strings go on to the heap
// (stores, problems), and escape analysis does not tell msg's fields apart.
func collectInto(r *Request, buf []Param) (msg message, signed []Param, found bool, p *Problem) {
	// Header, query and form params go into one slice, at most one
	// allocation: all[:nh] came from the header, all[nh:nq] from the
	// query, the rest from the form. Later it is filtered in place into
	// signed.
	size := strings.Count(r.RawQuery, "&") + strings.Count(r.Form, "&") + 2
	for _, h := range r.Authorization {
		if IsOAuthScheme(h) {
			size += strings.Count(h, "=")
		}
	}
	all := buf[:0]
	if cap(all) < size {
		all = make([]Param, 0, size)
	}
	oauthHeaders := 0
	for _, h := range r.Authorization {
		if !IsOAuthScheme(h) {
			continue
		}
		oauthHeaders++
		var err error
		if _, all, err = appendAuthorizationParams(all, h); err != nil {
			return message{}, nil, false, problem(ParameterRejected, "malformed OAuth Authorization header: "+err.Error(),
				"malformed Authorization header: "+err.Error())
		}
	}
	nh := len(all)
	all, qerr := appendFormIn(all, r.RawQuery, r.Charset)
	nq := len(all)
	all, ferr := appendFormIn(all, r.Form, r.Charset)
	headerParams, query, form := all[:nh:nh], all[nh:nq:nq], all[nq:]

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
	if locs == 0 && !(qerr != nil && mentionsOAuth(r.RawQuery)) &&
		!(ferr != nil && mentionsOAuth(r.Form)) {
		return message{}, nil, false, nil
	}
	if oauthHeaders > 1 {
		return message{}, nil, false, problem(ParameterRejected, "send exactly one OAuth Authorization header",
			"several OAuth Authorization headers")
	}
	if qerr != nil {
		return message{}, nil, false, formProblem("query string", "query", qerr)
	}
	if ferr != nil {
		return message{}, nil, false, formProblem("form body", "form", ferr)
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
		return message{}, nil, false, problem(ParameterRejected,
			"OAuth parameters must all be in one place: the Authorization header, the query or the form body",
			"OAuth parameters split between locations", listParam("oauth_parameters_rejected", names))
	}

	msg.loc = loc
	// Filtering in place is safe: signed never writes past the element
	// being read.
	signed = all[:0]
	for _, p := range headerParams {
		if IsRequestorParam(p.Key) {
			return message{}, nil, false, rejected(p.Key, p.Key+" must be in the query string or form body, not the Authorization header")
		}
	}
	var dups []string
	for _, group := range [][]Param{headerParams, query, form} {
		for _, p := range group {
			switch {
			case IsOAuthParam(p.Key):
				if !msg.oauth.add(p) {
					dups = append(dups, p.Key)
					continue
				}
			case IsRequestorParam(p.Key):
				if msg.hasReq {
					dups = append(dups, p.Key)
					continue
				}
				msg.hasReq, msg.requestor = true, p.Value
			}
			if p.Key != "oauth_signature" {
				signed = append(signed, p)
			}
		}
	}
	if len(dups) > 0 {
		return message{}, nil, false, problem(ParameterRejected, "each OAuth parameter may appear only once",
			"duplicated parameters", listParam("oauth_parameters_rejected", dups))
	}
	var absent []string
	for _, name := range requiredParams {
		if _, ok := msg.oauth.get(name); !ok {
			absent = append(absent, name)
		}
	}
	if len(absent) > 0 {
		return message{}, nil, false, problem(ParameterAbsent, "", "missing "+strings.Join(absent, ","),
			listParam("oauth_parameters_absent", absent))
	}
	return msg, signed, true, nil
}

// mentionsOAuth decides, for a query or form that failed to parse, whether
// it may carry OAuth parameters, so that it is refused rather than passed on
// as anonymous (fail closed). Servlet containers skip a malformed pair and
// decode the others, so each name is decoded on its own, leniently: a name
// written "oauth%5Fconsumer_key" counts.
func mentionsOAuth(raw string) bool {
	if strings.Contains(raw, "oauth_") {
		return true
	}
	for raw != "" {
		var seg string
		seg, raw, _ = strings.Cut(raw, "&")
		k, _, _ := strings.Cut(seg, "=")
		if IsOAuthParam(lenientDecode(k)) {
			return true
		}
	}
	return false
}

func hasOAuth(ps []Param) bool {
	for _, p := range ps {
		if IsOAuthParam(p.Key) {
			return true
		}
	}
	return false
}

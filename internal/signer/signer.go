// Package signer signs outgoing requests to a remote Atlassian application
// (Jira, Confluence, Bamboo, Bitbucket) as an application-link consumer:
// OAuth 1.0a with RSA-SHA1, in the three flavours application links use
// (2-legged, 2-legged with impersonation, 3-legged).
//
// The request is signed the way the remote's net.oauth will check it, not
// the way github.com/dghubble/oauth1 would: dghubble's own base string keeps
// only the first value of a repeated parameter, ignores form bodies whose
// Content-Type carries a charset, and takes scheme and host from the request
// URL. This package therefore builds the base string with the protocol core
// (internal/oauth1) from the configured remote base URL, and uses
// dghubble's RSASigner (its Signer interface) for the RSA operation and its
// HexNoncer for nonces.
//
// The package has no Caddy dependency.
package signer

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	dghubble "github.com/dghubble/oauth1"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
)

// Mode is how an outgoing request authenticates at the remote application.
type Mode string

const (
	// Mode2LO signs with an empty oauth_token: the remote runs the request
	// as the link's "execute as" user, or anonymously.
	Mode2LO Mode = "2lo"
	// ModeImpersonation is 2LO with xoauth_requestor_id=<user> in the query
	// string: the remote runs the request as that user.
	ModeImpersonation Mode = "impersonation"
	// Mode3LO signs with an access token the user authorised.
	Mode3LO Mode = "3lo"
)

// ParseMode returns the Mode named s, exactly as the constants spell it.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case Mode2LO, ModeImpersonation, Mode3LO:
		return m, nil
	}
	return "", fmt.Errorf("%w %q (want %s, %s or %s)", ErrUnknownMode, s, Mode2LO, ModeImpersonation, Mode3LO)
}

// Token is a 3-legged access token. RSA-SHA1 does not use the secret; it is
// kept so that callers can store tokens whole.
type Token struct {
	Token, Secret string
}

// Errors of Sign. A mode that needs an identity and lacks one is an error,
// never a request sent as the service user or anonymously.
var (
	ErrNoUser       = errors.New("signer: impersonation needs a user name, got none")
	ErrBadUser      = errors.New("signer: user name is not valid UTF-8 or contains control characters")
	ErrNoToken      = errors.New("signer: 3-legged OAuth needs an access token, got none")
	ErrUnknownMode  = errors.New("signer: unknown mode")
	ErrFormTooLarge = errors.New("signer: form body is larger than the limit")
	// ErrCharset: the request declares a charset in which the remote's
	// Tomcat would decode query or form into other parameter names than
	// the signer reads (UTF-16, an unknown one, or two that differ).
	ErrCharset = errors.New("signer: the request's charset is not one whose query and form can be signed (send UTF-8)")
	// ErrParams: a query or form parameter the remote would read as
	// other characters than the signer signs (bytes that are not UTF-8,
	// not ASCII in a charset other than UTF-8 and ISO-8859-1, a user name
	// the charset cannot encode) or not at all (bad percent-encoding).
	ErrParams = errors.New("signer: a query or form parameter cannot be signed as the remote will read it")
)

// DefaultMaxFormBytes bounds how much of a form body is read into memory to
// sign it (and to strip identity parameters from it).
const DefaultMaxFormBytes = 10 << 20

// Config configures a Signer.
type Config struct {
	// ConsumerKey is our own consumer key, as the remote knows it (the key
	// in our /plugins/servlet/oauth/consumer-info).
	ConsumerKey string
	// PrivateKey is the private half of the public key registered with the
	// remote under ConsumerKey.
	PrivateKey *rsa.PrivateKey
	// RemoteBaseURL is the URL the remote's Tomcat reconstructs for its own
	// requests: scheme, host, port and context path ("https://jira.example.com/jira").
	// Its rpcUrl, not a display URL behind another proxy.
	RemoteBaseURL string
	// Clock gives oauth_timestamp; time.Now if nil.
	Clock func() time.Time
	// Nonce gives oauth_nonce; dghubble's HexNoncer (32 random bytes, hex) if nil.
	Nonce func() string
	// MaxFormBytes bounds the form bodies read for signing; DefaultMaxFormBytes if 0.
	MaxFormBytes int64
}

// Signer signs requests for one remote application. It is safe for
// concurrent use if Clock and Nonce are.
type Signer struct {
	consumerKey string
	base        oauth1.BaseURL
	rsa         dghubble.Signer
	clock       func() time.Time
	nonce       func() string
	maxForm     int64
}

// New checks cfg and returns a Signer.
func New(cfg Config) (*Signer, error) {
	if cfg.ConsumerKey == "" {
		return nil, errors.New("signer: consumer key is empty")
	}
	if cfg.PrivateKey == nil {
		return nil, errors.New("signer: private key is nil")
	}
	if err := cfg.PrivateKey.Validate(); err != nil {
		return nil, fmt.Errorf("signer: private key: %w", err)
	}
	base, err := oauth1.ParseBaseURL(cfg.RemoteBaseURL)
	if err != nil {
		return nil, fmt.Errorf("signer: remote %w", err)
	}
	// A key built by hand lacks the precomputed values and would be
	// re-derived on every signature; precompute a private copy once.
	key := *cfg.PrivateKey
	key.Precompute()
	s := &Signer{
		consumerKey: cfg.ConsumerKey,
		base:        base,
		rsa:         &dghubble.RSASigner{PrivateKey: &key},
		clock:       cfg.Clock,
		nonce:       cfg.Nonce,
		maxForm:     cfg.MaxFormBytes,
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.nonce == nil {
		s.nonce = dghubble.HexNoncer{}.Nonce
	}
	if s.maxForm <= 0 {
		s.maxForm = DefaultMaxFormBytes
	}
	return s, nil
}

// RemoteBaseURL returns the parsed remote base URL.
func (s *Signer) RemoteBaseURL() oauth1.BaseURL { return s.base }

// Signed describes what Sign signed, for logs and for a CLI's
// --print-base-string.
type Signed struct {
	Mode          Mode           // "" for SignProtocol
	User          string         // the impersonated user; "" unless ModeImpersonation
	URL           string         // the base string URI (RFC 5849 section 3.4.1.2)
	Params        []oauth1.Param // every signed parameter (decoded), oauth_signature excluded
	BaseString    string
	Signature     string // base64
	Authorization string // the header value set on the request
}

// Sign signs req in place for the given mode; see SignRequest.
func (s *Signer) Sign(req *http.Request, mode Mode, user string, token *Token) error {
	_, err := s.SignRequest(req, mode, user, token)
	return err
}

// SignRequest signs req in place and returns what it signed. user is used
// only by ModeImpersonation and token only by Mode3LO; the other modes ignore
// them.
//
// It removes every Authorization header and every oauth_*,
// xoauth_requestor_id and user_id parameter from the query string and from
// an application/x-www-form-urlencoded body, so that the local client cannot
// choose the identity; for ModeImpersonation it then appends
// xoauth_requestor_id=<user> to the query string, where Atlassian's own
// signer puts it. The Authorization header carries only the oauth_*
// parameters, with oauth_token="" for 2LO.
//
// The signed URL is the remote base URL's origin plus the request's path as
// it will be sent (req.URL.EscapedPath()), with the context path prepended
// unless the path already starts with it; the request itself may go to any
// host. Every query parameter is signed, every value of a repeated one, "+"
// decoding to a space as in a servlet container. A form body is signed when
// Tomcat would parse it into parameters: a POST whose Content-Type, without
// its parameters (charset), is application/x-www-form-urlencoded, in that
// case (oauth1.ParsesForm). The body is read (up to the limit) and put back
// for sending. Parameters are signed as the remote's Tomcat decodes them,
// in the charset the Content-Type declares (UTF-8 if none): ISO-8859-1
// ones as their characters, with the impersonated user encoded in it; a
// request the remote would read otherwise is refused (ErrCharset,
// ErrParams).
//
// Sign changes nothing when it fails, except that a body that could not be
// read is lost. A RoundTripper must sign a clone (req.Clone), since
// RoundTrip may not modify its argument.
func (s *Signer) SignRequest(req *http.Request, mode Mode, user string, token *Token) (*Signed, error) {
	if req == nil || req.URL == nil {
		return nil, errors.New("signer: request without URL")
	}
	var tok *Token
	switch mode {
	case Mode2LO:
		user = ""
		tok = &Token{}
	case ModeImpersonation:
		if user == "" {
			return nil, ErrNoUser
		}
		if !oauth1.ValidUserName(user) {
			return nil, ErrBadUser
		}
		tok = &Token{}
	case Mode3LO:
		if token == nil || token.Token == "" {
			return nil, ErrNoToken
		}
		user = ""
		tok = token
	default:
		return nil, fmt.Errorf("%w %q", ErrUnknownMode, mode)
	}
	return s.sign(req, mode, user, tok, nil)
}

// ErrBadProtocolParam is returned by SignProtocol for an extra parameter
// that is not an oauth_* name, or that SignProtocol sets itself.
var ErrBadProtocolParam = errors.New("signer: bad extra protocol parameter")

// SignProtocol signs a request to one of the remote's token endpoints (the
// 3-legged dance), in place, and returns what it signed (Mode is empty).
//
//   - request-token: token nil, extra oauth_callback ("oob" or a URL; none
//     for an OAuth 1.0 token). No oauth_token parameter is sent at all.
//   - access-token: token is the approved request token, extra
//     oauth_verifier (OAuth 1.0a; none for 1.0).
//   - renewal: token is the access token, extra oauth_session_handle.
//
// The extra parameters go in the Authorization header, after the standard
// ones, and are signed. They must be oauth_* names other than those
// SignProtocol sets (consumer key, token, signature method, timestamp,
// nonce, version, signature), each at most once. Query and form body are
// handled as by SignRequest (identity parameters removed, the rest
// signed), though token endpoints take neither.
func (s *Signer) SignProtocol(req *http.Request, token *Token, extra ...oauth1.Param) (*Signed, error) {
	if req == nil || req.URL == nil {
		return nil, errors.New("signer: request without URL")
	}
	seen := make(map[string]bool, len(extra))
	for _, p := range extra {
		switch p.Key {
		case "oauth_consumer_key", "oauth_token", "oauth_signature_method", "oauth_timestamp",
			"oauth_nonce", "oauth_version", "oauth_signature":
			return nil, fmt.Errorf("%w: %s is set by the signer", ErrBadProtocolParam, p.Key)
		}
		if !strings.HasPrefix(p.Key, "oauth_") {
			return nil, fmt.Errorf("%w: %q is not an oauth_* parameter", ErrBadProtocolParam, p.Key)
		}
		if seen[p.Key] {
			return nil, fmt.Errorf("%w: %s given twice", ErrBadProtocolParam, p.Key)
		}
		seen[p.Key] = true
	}
	if token != nil && token.Token == "" {
		return nil, ErrNoToken
	}
	return s.sign(req, "", "", token, extra)
}

// sign does the work of SignRequest and SignProtocol. token nil leaves
// oauth_token out; an empty token sends oauth_token="" (2LO).
func (s *Signer) sign(req *http.Request, mode Mode, user string, token *Token, extra []oauth1.Param) (*Signed, error) {
	path, err := requestPath(req)
	if err != nil {
		return nil, err
	}
	// With useBodyEncodingForURI (Jira's connector), the remote decodes
	// the query in the body's charset too.
	cs, _, csErr := oauth1.RequestCharset(req.Header.Values("Content-Type"))
	if (csErr != nil || !cs.ASCIICompatible()) &&
		(req.URL.RawQuery != "" || mode == ModeImpersonation || looksLikeForm(req)) {
		return nil, ErrCharset
	}
	query, _ := oauth1.RemoveParams(req.URL.RawQuery, isIdentityParam)
	if mode == ModeImpersonation {
		u, err := oauth1.PercentEncodeIn(user, cs)
		if err != nil {
			return nil, fmt.Errorf("%w: the user name %w", ErrParams, err)
		}
		if query != "" {
			query += "&"
		}
		query += "xoauth_requestor_id=" + u
	}
	queryParams, err := oauth1.ParseFormIn(query, cs)
	if err != nil {
		return nil, fmt.Errorf("%w: query string: %w", ErrParams, err)
	}
	form, err := s.readForm(req, cs)
	if err != nil {
		return nil, err
	}

	nonce := s.nonce()
	if nonce == "" {
		form.undo(req)
		return nil, errors.New("signer: nonce source returned an empty nonce")
	}
	oauthParams := make([]oauth1.Param, 0, 6+len(extra))
	oauthParams = append(oauthParams, oauth1.Param{Key: "oauth_consumer_key", Value: s.consumerKey})
	var tokenSecret string
	if token != nil {
		oauthParams = append(oauthParams, oauth1.Param{Key: "oauth_token", Value: token.Token})
		tokenSecret = token.Secret
	}
	oauthParams = append(oauthParams,
		oauth1.Param{Key: "oauth_signature_method", Value: s.rsa.Name()},
		oauth1.Param{Key: "oauth_timestamp", Value: strconv.FormatInt(s.clock().Unix(), 10)},
		oauth1.Param{Key: "oauth_nonce", Value: nonce},
		oauth1.Param{Key: "oauth_version", Value: "1.0"},
	)
	oauthParams = append(oauthParams, extra...)
	params := make([]oauth1.Param, 0, len(oauthParams)+len(queryParams)+len(form.params))
	params = append(params, oauthParams...)
	params = append(params, queryParams...)
	params = append(params, form.params...)

	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	// Go sends "[" and "]" in a path raw, and Jira's Tomcat takes them,
	// but the remote's net.oauth cannot build a URI with them: send (and
	// sign) them percent-encoded, the same path to Tomcat once decoded.
	rawPath := ""
	if strings.ContainsAny(path, "[]") {
		rawPath = strings.NewReplacer("[", "%5B", "]", "%5D").Replace(path)
		path = rawPath
	}
	signedURL := s.base.SignedURL(path)
	base := oauth1.BaseString(method, signedURL, params)
	sig, err := s.rsa.Sign(tokenSecret, base)
	if err != nil {
		form.undo(req)
		return nil, fmt.Errorf("signer: %w", err)
	}
	authz := authorizationHeader(oauthParams, sig)

	// Nothing can fail any more: change the request.
	for name := range req.Header {
		if strings.EqualFold(name, "Authorization") {
			delete(req.Header, name)
		}
	}
	if req.Header == nil {
		req.Header = make(http.Header)
	}
	req.Header.Set("Authorization", authz)
	if rawPath != "" {
		req.URL.RawPath = rawPath
	}
	req.URL.RawQuery = query
	form.apply(req)

	return &Signed{
		Mode:          mode,
		User:          user,
		URL:           signedURL,
		Params:        params,
		BaseString:    base,
		Signature:     sig,
		Authorization: authz,
	}, nil
}

// isIdentityParam reports whether a client-supplied parameter could choose
// the identity at the remote: Atlassian honours OAuth parameters in the query
// and the form body, and reads the impersonated user from both.
func isIdentityParam(key string) bool {
	return oauth1.IsOAuthParam(key) || oauth1.IsRequestorParam(key)
}

// requestPath is the path of the request line Go will send
// (URL.RequestURI without the query).
func requestPath(req *http.Request) (string, error) {
	if req.URL.Opaque != "" {
		return "", errors.New("signer: opaque request URLs are not supported")
	}
	p := req.URL.EscapedPath()
	if p == "" {
		return "/", nil
	}
	if p[0] != '/' {
		return "", fmt.Errorf("signer: request path %q does not start with /", p)
	}
	return p, nil
}

// authorizationHeader renders the header as net.oauth's
// getAuthorizationHeader(null) does: no realm, only oauth_* parameters.
func authorizationHeader(params []oauth1.Param, sig string) string {
	var b strings.Builder
	b.Grow(512)
	b.WriteString("OAuth ")
	write := func(k, v string) {
		b.WriteString(k)
		b.WriteString(`="`)
		b.WriteString(oauth1.PercentEncode(v))
		b.WriteByte('"')
	}
	for i, p := range params {
		if i > 0 {
			b.WriteString(", ")
		}
		write(p.Key, p.Value)
	}
	b.WriteString(", ")
	write("oauth_signature", sig)
	return b.String()
}

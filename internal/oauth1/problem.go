package oauth1

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// Problem codes of the OAuth Problem Reporting extension, as net.oauth and so
// Atlassian emit them.
const (
	VersionRejected         = "version_rejected"
	ParameterAbsent         = "parameter_absent"
	ParameterRejected       = "parameter_rejected"
	TimestampRefused        = "timestamp_refused"
	NonceUsed               = "nonce_used"
	SignatureMethodRejected = "signature_method_rejected"
	SignatureInvalid        = "signature_invalid"
	ConsumerKeyUnknown      = "consumer_key_unknown"
	ConsumerKeyRejected     = "consumer_key_rejected"
	TokenUsed               = "token_used"
	TokenExpired            = "token_expired"
	TokenRevoked            = "token_revoked"
	TokenRejected           = "token_rejected"
	PermissionUnknown       = "permission_unknown"
	PermissionDenied        = "permission_denied"
)

// problemStatus is net.oauth's OAuth.Problems.TO_HTTP_CODE.
var problemStatus = map[string]int{
	VersionRejected:                     http.StatusBadRequest,
	ParameterAbsent:                     http.StatusBadRequest,
	ParameterRejected:                   http.StatusBadRequest,
	TimestampRefused:                    http.StatusBadRequest,
	SignatureMethodRejected:             http.StatusBadRequest,
	NonceUsed:                           http.StatusUnauthorized,
	TokenUsed:                           http.StatusUnauthorized,
	TokenExpired:                        http.StatusUnauthorized,
	TokenRevoked:                        http.StatusUnauthorized,
	TokenRejected:                       http.StatusUnauthorized,
	"token_not_authorized":              http.StatusUnauthorized,
	SignatureInvalid:                    http.StatusUnauthorized,
	ConsumerKeyUnknown:                  http.StatusUnauthorized,
	ConsumerKeyRejected:                 http.StatusUnauthorized,
	"additional_authorization_required": http.StatusUnauthorized,
	PermissionUnknown:                   http.StatusUnauthorized,
	PermissionDenied:                    http.StatusUnauthorized,
	"user_refused":                      http.StatusServiceUnavailable,
	"consumer_key_refused":              http.StatusServiceUnavailable,
}

// StatusOf returns the HTTP status net.oauth uses for a problem code (403 for
// codes it does not know).
func StatusOf(code string) int {
	if s, ok := problemStatus[code]; ok {
		return s
	}
	return http.StatusForbidden
}

// Problem is a refusal: what the client is told (Code, Params, Advice) and
// what only the log sees (Reason). A Problem with Unavailable set is a
// server-side failure (a store is down): 503, no OAuth challenge.
type Problem struct {
	Code        string
	Status      int     // 0 means StatusOf(Code)
	Params      []Param // extra oauth_* parameters, e.g. oauth_parameters_absent
	Advice      string  // oauth_problem_advice, safe to show the client
	Reason      string  // for the log only
	Consumer    string  // consumer key as sent, for the log
	Unavailable bool
	// Store names, with Unavailable, what could not answer ("" is the
	// nonce and token state; "directory", the impersonation policy's).
	Store string
	// Rule names the impersonation policy rule that refused the request.
	Rule string
	// Skew is the request's oauth_timestamp less the verifier's clock,
	// where Stamped says the timestamp was read.
	Skew    time.Duration
	Stamped bool
}

func (p *Problem) Error() string {
	code := p.Code
	if p.Unavailable && code == "" {
		code = "unavailable"
	}
	if p.Reason != "" {
		return code + ": " + p.Reason
	}
	return code
}

// HTTPStatus is the status to answer with.
func (p *Problem) HTTPStatus() int {
	switch {
	case p.Unavailable:
		return http.StatusServiceUnavailable
	case p.Status != 0:
		return p.Status
	}
	return StatusOf(p.Code)
}

func (p *Problem) fields() []Param {
	f := make([]Param, 0, 2+len(p.Params))
	f = append(f, Param{"oauth_problem", p.Code})
	f = append(f, p.Params...)
	if p.Advice != "" {
		f = append(f, Param{"oauth_problem_advice", p.Advice})
	}
	return f
}

// WWWAuthenticate renders the challenge header as net.oauth does:
// OAuth realm="<enc(realm)>", oauth_problem="...", ...
func (p *Problem) WWWAuthenticate(realm string) string {
	var b strings.Builder
	b.WriteString(`OAuth realm="`)
	appendEncoded(&b, realm)
	b.WriteByte('"')
	for _, f := range p.fields() {
		b.WriteString(`, `)
		appendEncoded(&b, f.Key)
		b.WriteString(`="`)
		appendEncoded(&b, f.Value)
		b.WriteByte('"')
	}
	return b.String()
}

// Body renders the same parameters as an application/x-www-form-urlencoded
// body, as the Problem Reporting extension allows.
func (p *Problem) Body() string {
	var b strings.Builder
	for i, f := range p.fields() {
		if i > 0 {
			b.WriteByte('&')
		}
		appendEncoded(&b, f.Key)
		b.WriteByte('=')
		appendEncoded(&b, f.Value)
	}
	return b.String()
}

// Write sends the problem as the response: status, WWW-Authenticate (for
// every refusal but a 503), and the form-encoded body.
func (p *Problem) Write(w http.ResponseWriter, realm string) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if p.Unavailable {
		h.Set("Retry-After", "5")
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		what := "authentication store"
		if p.Store == "directory" {
			what = "user directory"
		}
		_, _ = w.Write([]byte(what + " unavailable, retry later\n"))
		return
	}
	h.Set("WWW-Authenticate", p.WWWAuthenticate(realm))
	h.Set("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8")
	w.WriteHeader(p.HTTPStatus())
	_, _ = w.Write([]byte(p.Body()))
}

func problem(code, advice, reason string, params ...Param) *Problem {
	return &Problem{Code: code, Advice: advice, Reason: reason, Params: params}
}

// maxListed caps the names listed in oauth_parameters_absent and
// oauth_parameters_rejected: the list echoes client input into a response
// header, which must stay small whatever the request holds.
const maxListed = 8

// listParam joins parameter names as the Problem Reporting extension wants
// for oauth_parameters_absent and oauth_parameters_rejected: "&"-separated
// (the whole value is percent-encoded again on output). Each name is listed
// once, cut to 40 bytes, and at most maxListed names are.
func listParam(name string, keys []string) Param {
	enc := make([]string, 0, min(len(keys), maxListed))
	for _, k := range keys {
		if len(enc) == maxListed {
			break
		}
		k = PercentEncode(truncate(k))
		if !slices.Contains(enc, k) {
			enc = append(enc, k)
		}
	}
	return Param{name, strings.Join(enc, "&")}
}

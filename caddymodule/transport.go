// The outgoing half of an application link: the
// reverse_proxy transport `applink` (http.reverse_proxy.transport.applink)
// signs every request Caddy proxies to a remote Atlassian application
// (Jira, Confluence, Bamboo, Bitbucket) with our consumer key and RSA key,
// as 2-legged OAuth, 2-legged OAuth with impersonation, or 3-legged OAuth.
//
// It wraps Caddy's own HTTP transport (reverseproxy.HTTPTransport), so every
// option of `transport http` (tls, dial_timeout, keepalive, versions, ...)
// keeps working; the signing itself is done by package signer.

package caddymodule

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/headers"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	"go.uber.org/zap"

	"github.com/caddy-applink/caddy-applink/internal/consumer"
	"github.com/caddy-applink/caddy-applink/internal/hygiene"
	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/rsakey"
	"github.com/caddy-applink/caddy-applink/internal/signer"
)

func init() {
	caddy.RegisterModule(new(Transport))
}

// Transport signs proxied requests as an application-link consumer. Its
// JSON holds its own fields next to those of Caddy's HTTP transport
// (`"protocol": "applink", "consumer_key": ..., "tls": {...}, ...`).
type Transport struct {
	// Caddy's HTTP transport, which sends the signed request. Its fields
	// are inlined in this module's JSON.
	*reverseproxy.HTTPTransport

	// Our consumer key, as the remote knows it (the <key> of our
	// /plugins/servlet/oauth/consumer-info). Required. {env.*} placeholders
	// are resolved at load time.
	ConsumerKey string `json:"consumer_key,omitempty"`

	// The PEM private key (PKCS#1 or PKCS#8, RSA) whose public half is
	// registered at the remote under ConsumerKey. Required. {env.*}
	// placeholders are resolved at load time.
	PrivateKeyFile string `json:"private_key_file,omitempty"`

	// The key the transport rotates to, whose public half the remote is
	// about to get (a key rotation, docs/key-rotation.md). A request
	// without a body that the remote refuses with signature_invalid is
	// signed again with the other key and sent once more; when the remote
	// accepts it, the transport signs with that key first from then on.
	// So the remote's administrator can replace the public key at any
	// moment, with no refused request.
	NextPrivateKeyFile string `json:"next_private_key_file,omitempty"`

	// The URL the remote reconstructs for its own requests: its Base URL
	// (scheme, host, port, context path), as its Tomcat sees it. When
	// empty, the URL of the upstream the request is dialed to is used:
	// scheme from the transport's TLS setting, host:port from the upstream
	// address. It must equal the remote's Base URL whenever something (a
	// load balancer, another proxy) sits between this proxy and the
	// remote's Tomcat, or every request fails with signature_invalid.
	RemoteBaseURL string `json:"remote_base_url,omitempty"`

	// How requests authenticate at the remote: "2lo" (as the link's
	// execute-as user), "impersonation" (2LO with xoauth_requestor_id) or
	// "3lo" (the user's access token). Required.
	Mode string `json:"mode,omitempty"`

	// The user to impersonate (impersonation) or whose access token to use
	// (3lo): a placeholder evaluated per request, typically
	// {http.auth.user.id}. Required by those two modes, refused with 2lo.
	// A request for which it evaluates to an empty string is refused
	// locally with 401 and never reaches the remote. Use a placeholder that
	// an authentication step sets, never one the client controls (a request
	// header would let the client pick any user).
	User string `json:"user,omitempty"`

	// Where 3-legged access tokens live (mode 3lo): the same store as the
	// applink_dance handler's (and the applink handler's), with any `state`
	// the applink handler accepts (file, redis, memory). Default: the file
	// <Caddy data dir>/applink/state.db. With an encryption_key, token
	// values are sealed at rest; the dance handler must use the same key.
	State *StateConfig `json:"state,omitempty"`

	// The applicationLinkID of this remote at the applink_dance handler
	// (mode 3lo): a user without a token gets 401 with a
	// `Link: <{dance_base_url}/plugins/servlet/applinks/oauth/login-dance/authorize?applicationLinkID=<link_id>&redirectUrl=...>; rel="authenticate"`
	// header. Default: the remote's host[:port].
	LinkID string `json:"link_id,omitempty"`

	// Where the applink_dance handler is served: our base URL (scheme,
	// host, context path) as browsers reach it. Default: "" (the Link
	// header holds a path on the current site).
	DanceBaseURL string `json:"dance_base_url,omitempty"`

	// Renew an access token through its oauth_session_handle when it
	// expires within this window (mode 3lo). Default 24h.
	RenewBefore caddy.Duration `json:"renew_before,omitempty"`

	// tokenSrc supplies 3-legged access tokens. When nil (the normal case),
	// mode 3lo uses the consumer-side token store of State.
	tokenSrc tokenSource

	consumerKey string
	keyFile     string
	keys        []*rsa.PrivateKey // the key, then the next key if any
	fingerprint []string          // of keys, for the log
	preferred   atomic.Int32      // index in keys of the key signed with first
	mode        signer.Mode
	fixed       []*signer.Signer // for a configured remote_base_url, one per key
	hostHeader  string           // the Host header the remote must see
	logger      *zap.Logger

	mu      sync.Mutex
	derived map[string][]*signer.Signer // per upstream origin, without remote_base_url

	stateKey  string // the shared token store to release, "" if none
	danceBase string
}

// CaddyModule returns the Caddy module information.
func (*Transport) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID: "http.reverse_proxy.transport.applink",
		New: func() caddy.Module {
			return &Transport{HTTPTransport: new(reverseproxy.HTTPTransport)}
		},
	}
}

// maxDerivedSigners bounds the cache of signers for derived remote base
// URLs (one per upstream address); past it, signers are built per request.
const maxDerivedSigners = 256

// Provision loads the key, checks the configuration and provisions the
// wrapped HTTP transport.
func (t *Transport) Provision(ctx caddy.Context) error {
	t.logger = ctx.Logger()
	if t.HTTPTransport == nil {
		t.HTTPTransport = new(reverseproxy.HTTPTransport)
	}
	repl := caddy.NewReplacer()

	t.consumerKey = repl.ReplaceKnown(t.ConsumerKey, "")
	if t.consumerKey == "" {
		return errors.New("consumer_key is required")
	}
	t.keyFile = repl.ReplaceKnown(t.PrivateKeyFile, "")
	if t.keyFile == "" {
		return errors.New("private_key_file is required")
	}
	key, err := rsakey.LoadPrivate(t.keyFile)
	if err != nil {
		// rsakey names the file in parse errors, os.ReadFile in its own.
		return fmt.Errorf("private_key_file: %w", err)
	}
	t.keys = []*rsa.PrivateKey{key}
	if f := repl.ReplaceKnown(t.NextPrivateKeyFile, ""); f != "" {
		next, err := rsakey.LoadPrivate(f)
		if err != nil {
			return fmt.Errorf("next_private_key_file: %w", err)
		}
		if next.Equal(key) {
			return errors.New("next_private_key_file holds the same key as private_key_file")
		}
		t.keys = append(t.keys, next)
	}
	t.fingerprint = nil
	for _, k := range t.keys {
		t.fingerprint = append(t.fingerprint, rsakey.Fingerprint(&k.PublicKey))
	}

	if t.Mode == "" {
		return errors.New("mode is required (2lo, impersonation or 3lo)")
	}
	t.mode, err = signer.ParseMode(t.Mode)
	if err != nil {
		return fmt.Errorf("mode: %w", err)
	}
	switch t.mode {
	case signer.Mode2LO:
		if t.User != "" {
			return errors.New("user has no effect with mode 2lo (the remote runs 2LO requests as the link's execute-as user); remove it or use mode impersonation")
		}
	default:
		if strings.TrimSpace(t.User) == "" {
			return fmt.Errorf("mode %s needs user (e.g. user {http.auth.user.id})", t.mode)
		}
	}

	if t.RemoteBaseURL != "" {
		raw := repl.ReplaceKnown(t.RemoteBaseURL, "")
		t.fixed, err = t.newSigner(raw)
		if err != nil {
			return fmt.Errorf("remote_base_url: %w", err)
		}
		t.hostHeader = hostOf(t.fixed[0].RemoteBaseURL())
	} else {
		t.hostHeader = "{http.reverse_proxy.upstream.hostport}"
	}
	t.derived = make(map[string][]*signer.Signer)

	if err := t.provisionTokens(ctx); err != nil {
		return err
	}

	if err := registerMetrics(ctx.GetMetricsRegistry()); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return t.HTTPTransport.Provision(ctx)
}

// newSigner returns a signer per key for the remote at base.
func (t *Transport) newSigner(base string) ([]*signer.Signer, error) {
	var out []*signer.Signer
	for _, k := range t.keys {
		s, err := signer.New(signer.Config{
			ConsumerKey:   t.consumerKey,
			PrivateKey:    k,
			RemoteBaseURL: base,
		})
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// hostOf is the Host header a remote with base URL b expects: its host and
// non-default port.
func hostOf(b oauth1.BaseURL) string {
	_, host, _ := strings.Cut(b.Origin(), "://")
	return host
}

// RequestHeaderOps sets the Host header the remote must see to reconstruct
// the signed URL: the remote base URL's host, or the upstream's host:port
// when the base URL is derived from it. A Tomcat without proxyName builds
// its request URL from Host. `header_up Host ...` still overrides it (user
// header operations run after the transport's).
func (t *Transport) RequestHeaderOps() *headers.HeaderOps {
	return &headers.HeaderOps{Set: http.Header{"Host": []string{t.hostHeader}}}
}

// Cleanup releases the token store and closes the wrapped transport's idle
// connections.
func (t *Transport) Cleanup() error {
	var err error
	if t.stateKey != "" {
		err = releaseState(t.stateKey)
		t.stateKey = ""
	}
	if t.HTTPTransport == nil {
		return err
	}
	return errors.Join(err, t.HTTPTransport.Cleanup())
}

// signerFor returns the signers (one per key) for the remote req goes to.
// req.URL.Scheme must be set.
func (t *Transport) signerFor(req *http.Request) ([]*signer.Signer, error) {
	if t.fixed != nil {
		return t.fixed, nil
	}
	origin := req.URL.Scheme + "://" + req.URL.Host
	t.mu.Lock()
	s, ok := t.derived[origin]
	t.mu.Unlock()
	if ok {
		return s, nil
	}
	s, err := t.newSigner(origin)
	if err != nil {
		return nil, fmt.Errorf("remote base URL derived from the upstream: %w", err)
	}
	t.mu.Lock()
	if len(t.derived) < maxDerivedSigners {
		t.derived[origin] = s
	}
	t.mu.Unlock()
	return s, nil
}

// RoundTrip signs a copy of req and sends it through the HTTP transport.
// A request that needs a user or a token and has none gets a local 401
// response; the remote is not contacted.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	t.HTTPTransport.SetScheme(out)
	hygiene.StripCredentials(out.Header)

	if !fromClient(req) {
		// An active health check: it has no user and must not act as the
		// service user either. It goes out unsigned, i.e. anonymously.
		return t.HTTPTransport.RoundTrip(out)
	}

	signers, err := t.signerFor(out)
	if err != nil {
		t.logger.Error("cannot sign request", zap.String("upstream", out.URL.Host), zap.Error(err))
		return nil, err
	}
	keyIdx := int(t.preferred.Load())
	s := signers[keyIdx]
	base := s.RemoteBaseURL()
	remote := base.Origin() + base.ContextPath()
	remoteHost := hostOf(base)

	var user string
	var token *signer.Token
	if t.mode != signer.Mode2LO {
		user = t.user(req)
		if user == "" {
			return t.refuse(req, remoteHost, reasonNoUser, http.StatusUnauthorized, "",
				fmt.Sprintf("applink: no user to act as at %s: mode %s needs one, and %q is empty for this request. The request was not sent.",
					remote, t.mode, t.User)), nil
		}
	}
	if t.mode == signer.Mode3LO {
		// A renewal goes where this request goes (the upstream), with the
		// remote's Host, as the request itself will.
		ctx := context.WithValue(req.Context(), routeKey{}, route{scheme: out.URL.Scheme, host: out.URL.Host})
		token, err = t.tokens().AccessToken(ctx, remote, user)
		switch {
		case errors.Is(err, consumer.ErrNoAccessToken) || err == nil && (token == nil || token.Token == ""):
			dance := t.danceURL(req, base)
			msg := fmt.Sprintf("applink: no OAuth access token is stored for user %q at %s. The user must first authorize this application at the remote (3-legged OAuth): open %s. The request was not sent.",
				user, remote, dance)
			if err != nil && err != consumer.ErrNoAccessToken { //nolint:errorlint // more than the bare sentinel: say why
				t.logger.Info("no usable access token", zap.String("remote", remoteHost), zap.String("user", user), zap.Error(err))
			}
			resp := t.refuse(req, remoteHost, reasonNoToken, http.StatusUnauthorized, user, msg)
			resp.Header.Set("Link", "<"+dance+`>; rel="authenticate"`)
			return resp, nil
		case errors.Is(err, consumer.ErrRemoteUnavailable):
			t.logger.Error("access token expired and could not be renewed", zap.String("remote", remoteHost), zap.String("user", user), zap.Error(err))
			return t.refuse(req, remoteHost, reasonRenewFailed, http.StatusBadGateway, user,
				"applink: the access token has expired and the remote could not be reached to renew it; the request was not sent."), nil
		case errors.Is(err, consumer.ErrSealed):
			t.logger.Error("the stored access token does not open: this transport's state encryption_key differs from the one applink_dance sealed it with",
				zap.String("remote", remoteHost), zap.String("user", user))
			return t.refuse(req, remoteHost, reasonTokenStore, http.StatusServiceUnavailable, user,
				"applink: the stored access token cannot be read (state encryption_key mismatch); the request was not sent."), nil
		case err != nil:
			t.logger.Error("token store failed", zap.String("remote", remoteHost), zap.String("user", user), zap.Error(err))
			return t.refuse(req, remoteHost, reasonTokenStore, http.StatusServiceUnavailable, user,
				"applink: the access token store is unavailable; the request was not sent."), nil
		}
	}

	if err := hygiene.StripSeraphParams(out); err != nil {
		if errors.Is(err, signer.ErrFormTooLarge) {
			return t.refuse(req, remoteHost, reasonBadRequest, http.StatusRequestEntityTooLarge, user,
				"applink: the form body is too large to sign; the request was not sent."), nil
		}
		return nil, err
	}
	signed, err := s.SignRequest(out, t.mode, user, token)
	if err != nil {
		switch {
		case errors.Is(err, signer.ErrBadUser):
			return t.refuse(req, remoteHost, reasonBadUser, http.StatusUnauthorized, "",
				"applink: the user name to act as contains control characters or invalid UTF-8, or begins or ends with a space; the request was not sent."), nil
		case errors.Is(err, signer.ErrFormTooLarge):
			return t.refuse(req, remoteHost, reasonBadRequest, http.StatusRequestEntityTooLarge, user,
				"applink: the form body is too large to sign; the request was not sent."), nil
		case errors.Is(err, signer.ErrCharset):
			// The remote decodes the query (useBodyEncodingForURI) and a
			// form in this charset: in UTF-16 it would read other names.
			return t.refuse(req, remoteHost, reasonBadParams, http.StatusUnsupportedMediaType, user,
				"applink: the request's Content-Type names a charset in which the remote would read the query or form body as other parameters than the ones signed (UTF-16, an unknown charset, or two charsets); send UTF-8. The request was not sent."), nil
		case errors.Is(err, signer.ErrParams):
			return t.refuse(req, remoteHost, reasonBadParams, http.StatusBadRequest, user,
				"applink: a query or form parameter cannot be signed as the remote will read it ("+
					strings.TrimPrefix(err.Error(), signer.ErrParams.Error()+": ")+"); percent-encode parameters in UTF-8. The request was not sent."), nil
		}
		t.logger.Error("cannot sign request", zap.String("remote", remoteHost), zap.Error(err))
		return nil, err
	}

	var retry *http.Request
	if len(signers) > 1 && (req.Body == nil || req.Body == http.NoBody) {
		// Kept before sending: signing again starts from the request as
		// it came, not from one the first signature changed.
		retry = req.Clone(req.Context())
	}
	resp, err := t.HTTPTransport.RoundTrip(out)
	if err == nil && retry != nil && resp.StatusCode == http.StatusUnauthorized && remoteProblem(resp) == oauth1.SignatureInvalid {
		resp, out, signed, err = t.resendWithOtherKey(retry, signers, keyIdx, user, token, resp, out, signed)
	}
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			t.logger.Error("remote unreachable",
				zap.String("consumer", t.consumerKey),
				zap.String("remote", remoteHost),
				zap.String("upstream", out.URL.Host),
				zap.Error(err))
		}
		return nil, err
	}
	if problem := t.inspect(out, resp, remoteHost, user, signed); t.mode == signer.Mode3LO && problem != "" {
		t.react(req.Context(), remote, remoteHost, user, token, problem)
	}
	return resp, nil
}

// remoteProblem is the oauth_problem of a refusal by the remote, if any.
func remoteProblem(resp *http.Response) string {
	rp, ok := consumer.ParseProblem(resp.Header.Values("WWW-Authenticate"))
	if !ok {
		return ""
	}
	return rp.Problem
}

// resendWithOtherKey signs req (a body-less request, as it came) with the
// key other than keys[used] and sends it, after the remote refused the
// signature by keys[used] (refused, sent as out). If the remote accepts
// the other key, the transport prefers it from then on. It returns what
// to answer and inspect: the second exchange, or the first if the second
// could not be made.
func (t *Transport) resendWithOtherKey(req *http.Request, signers []*signer.Signer, used int, user string, token *signer.Token,
	refused *http.Response, out *http.Request, signed *signer.Signed) (*http.Response, *http.Request, *signer.Signed, error) {
	other := 1 - used
	again := req
	t.HTTPTransport.SetScheme(again)
	hygiene.StripCredentials(again.Header)
	if err := hygiene.StripSeraphParams(again); err != nil {
		return refused, out, signed, nil
	}
	signedAgain, err := signers[other].SignRequest(again, t.mode, user, token)
	if err != nil {
		return refused, out, signed, nil
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(refused.Body, 64<<10))
	refused.Body.Close()
	resp, err := t.HTTPTransport.RoundTrip(again)
	if err != nil {
		return nil, again, signedAgain, err
	}
	if resp.StatusCode == http.StatusUnauthorized && remoteProblem(resp) == oauth1.SignatureInvalid {
		return resp, again, signedAgain, nil // neither key: reported as usual
	}
	if t.preferred.CompareAndSwap(int32(used), int32(other)) {
		t.logger.Warn("remote accepts the other private key: signing with it first from now on",
			zap.String("consumer", t.consumerKey),
			zap.String("remote", hostOf(signers[other].RemoteBaseURL())),
			zap.String("refused_key", t.fingerprint[used]),
			zap.String("accepted_key", t.fingerprint[other]))
	}
	return resp, again, signedAgain, nil
}

// react forgets a 3LO token the remote rejected (the user is sent to the
// dance next time), or marks an expired one for renewal.
func (t *Transport) react(ctx context.Context, remote, remoteHost, user string, token *signer.Token, problem string) {
	r, ok := t.tokens().(tokenReactions)
	if !ok || token == nil {
		return
	}
	switch problem {
	case oauth1.TokenRejected, oauth1.TokenRevoked, "token_not_authorized":
		if r.Forget(ctx, remote, user, token.Token) {
			t.logger.Warn("remote rejected the user's access token; it is forgotten, and the user must authorize again",
				zap.String("remote", remoteHost), zap.String("user", user), zap.String("problem", problem))
		}
	case oauth1.TokenExpired:
		renewable := r.Expire(ctx, remote, user, token.Token)
		t.logger.Warn("remote says the user's access token expired",
			zap.String("remote", remoteHost), zap.String("user", user), zap.Bool("renewable", renewable))
	}
}

// fromClient reports whether req is a client request served by a Caddy HTTP
// server, as opposed to one Caddy makes itself (active health checks): only
// the former carry the request variables the server sets up.
func fromClient(req *http.Request) bool {
	_, ok := req.Context().Value(caddyhttp.VarsCtxKey).(map[string]any)
	return ok
}

// user evaluates the user placeholder for req. Unknown placeholders become
// empty, so an unset {http.auth.user.id} is an empty user, never a literal.
func (t *Transport) user(req *http.Request) string {
	repl, ok := req.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		repl = caddy.NewReplacer()
	}
	u := repl.ReplaceAll(t.User, "")
	if strings.TrimSpace(u) == "" {
		return ""
	}
	return u
}

func (t *Transport) tokens() tokenSource {
	if t.tokenSrc == nil {
		return noTokens{}
	}
	return t.tokenSrc
}

// refuse answers req locally without contacting the remote.
func (t *Transport) refuse(req *http.Request, remoteHost, reason string, status int, user, msg string) *http.Response {
	countRefusal(remoteHost, reason)
	t.logger.Info("request refused locally, not sent to the remote",
		zap.String("consumer", t.consumerKey),
		zap.String("remote", remoteHost),
		zap.String("mode", string(t.mode)),
		zap.String("reason", reason),
		zap.String("user", user),
		zap.Int("status", status),
		zap.String("method", req.Method),
		zap.String("path", req.URL.Path))
	body := msg + "\n"
	return &http.Response{
		Status:     strconv.Itoa(status) + " " + http.StatusText(status),
		StatusCode: status,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header: http.Header{
			"Content-Type":      {"text/plain; charset=utf-8"},
			"Cache-Control":     {"no-store"},
			"X-Applink-Refused": {reason},
		},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

// inspect logs and counts an OAuth refusal by the remote, and returns its
// oauth_problem ("" if none).
func (t *Transport) inspect(req *http.Request, resp *http.Response, remoteHost, user string, signed *signer.Signed) string {
	if resp.StatusCode < 400 {
		return ""
	}
	rp, ok := consumer.ParseProblem(resp.Header.Values("WWW-Authenticate"))
	if !ok {
		return ""
	}
	if rp.Problem == "" && resp.StatusCode != http.StatusUnauthorized {
		return "" // an OAuth realm on a non-401 error: not a refusal of our signature
	}
	// The caller sees this refusal; it must not blame its own signature
	// (which a gateway's applink handler accepted) for it.
	resp.Header[consumer.RemoteRefusedHeader] = append([]string{remoteHost}, resp.Header.Values(consumer.RemoteRefusedHeader)...)
	label := problemLabel(rp.Problem)
	countProblem(remoteHost, label)
	fields := []zap.Field{
		zap.String("consumer", t.consumerKey),
		zap.String("remote", remoteHost),
		zap.String("problem", label),
		zap.Int("status", resp.StatusCode),
		zap.String("mode", string(t.mode)),
		zap.String("user", user),
		zap.String("method", req.Method),
		zap.String("path", req.URL.Path),
	}
	for _, p := range rp.Params {
		switch p.Key {
		case "oauth_problem", "oauth_signature", "oauth_signature_base_string":
		default:
			fields = append(fields, zap.String(p.Key, truncate(p.Value, 512)))
		}
	}
	if rp.Problem == oauth1.SignatureInvalid {
		fields = append(fields,
			zap.String("signed_url", signed.URL),
			zap.String("our_base_string", truncate(signed.BaseString, 4096)))
		if bs := rp.Get("oauth_signature_base_string"); bs != "" {
			fields = append(fields, zap.String("remote_base_string", truncate(bs, 4096)))
		}
	}
	msg := "remote refused the signed request"
	if rp.Problem == "" {
		msg = "remote refused the signed request without an oauth_problem (2LO or impersonation not enabled for this consumer at the remote, or the user may not log in)"
	}
	t.logger.Warn(msg, fields...)
	return rp.Problem
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Interface guards
var (
	_ caddy.Module                                     = (*Transport)(nil)
	_ caddy.Provisioner                                = (*Transport)(nil)
	_ caddy.CleanerUpper                               = (*Transport)(nil)
	_ http.RoundTripper                                = (*Transport)(nil)
	_ reverseproxy.TLSTransport                        = (*Transport)(nil)
	_ reverseproxy.H2CTransport                        = (*Transport)(nil)
	_ reverseproxy.HealthCheckSchemeOverriderTransport = (*Transport)(nil)
	_ reverseproxy.ProxyProtocolTransport              = (*Transport)(nil)
	_ reverseproxy.RequestHeaderOpsTransport           = (*Transport)(nil)
)

// Package provider is the 3-legged side of the OAuth service provider:
// request tokens, the user's decision, access tokens, renewal, and access
// token lookup for 3LO requests. It keeps Atlassian's lifetimes and problem
// codes (docs/protocol.md) and has no Caddy
// dependency; the handler glue supplies HTTP and the approval page.
package provider

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/store"
)

// Atlassian's default lifetimes ([V-port] ServiceProviderToken).
const (
	DefaultRequestTTL = 10 * time.Minute
	DefaultAccessTTL  = 5 * 365 * 24 * time.Hour
	sessionExtra      = 30 * 24 * time.Hour
)

// lastUsedGranularity bounds the writes that "last used" costs: at most
// one per token per this period.
const lastUsedGranularity = 10 * time.Minute

// Provider issues and checks 3-legged tokens.
type Provider struct {
	Tokens     store.TokenStore
	Sealer     *Sealer // nil: token secrets cannot be kept, so HMAC consumers get no 3LO
	RequestTTL time.Duration
	AccessTTL  time.Duration
	SessionTTL time.Duration // default AccessTTL + 30 days
	Now        func() time.Time
	// OnStoreError is told about store failures (for logs and metrics).
	OnStoreError func(error)
}

func (p *Provider) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Provider) requestTTL() time.Duration {
	if p.RequestTTL > 0 {
		return p.RequestTTL
	}
	return DefaultRequestTTL
}

func (p *Provider) accessTTL() time.Duration {
	if p.AccessTTL > 0 {
		return p.AccessTTL
	}
	return DefaultAccessTTL
}

func (p *Provider) sessionTTL() time.Duration {
	if p.SessionTTL > 0 {
		return p.SessionTTL
	}
	return p.accessTTL() + sessionExtra
}

func problem(code, advice, reason string, params ...oauth1.Param) *oauth1.Problem {
	return &oauth1.Problem{Code: code, Advice: advice, Reason: reason, Params: params}
}

func (p *Provider) unavailable(err error) *oauth1.Problem {
	if p.OnStoreError != nil {
		p.OnStoreError(err)
	}
	return &oauth1.Problem{Unavailable: true, Reason: "token store: " + err.Error()}
}

// newSecret returns 32 random alphanumeric characters (190 bits), the
// shape of Atlassian's tokens.
func newSecret() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("applink: no randomness: " + err.Error())
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)] // 256 % 62 bias is negligible at 190 bits
	}
	return string(b)
}

// needsSecret reports whether a consumer signs with the token secret.
func needsSecret(c *oauth1.Consumer) bool { return c.Secret != "" }

func (p *Provider) seal(c *oauth1.Consumer, id, secret string) ([]byte, *oauth1.Problem) {
	if !needsSecret(c) {
		return nil, nil // RSA-SHA1 ignores the token secret: keep nothing
	}
	if p.Sealer == nil {
		return nil, problem(oauth1.PermissionDenied,
			"3-legged OAuth with HMAC-SHA1 needs the proxy's state encryption key",
			"HMAC consumer, no state encryption key")
	}
	sealed, err := p.Sealer.Seal(id, secret)
	if err != nil {
		return nil, p.unavailable(err)
	}
	return sealed, nil
}

// CheckCallback validates oauth_callback as Atlassian does: "oob" or an
// absolute http(s) URI.
func CheckCallback(cb string) *oauth1.Problem {
	if cb == "oob" {
		return nil
	}
	u, err := url.Parse(cb)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return problem(oauth1.ParameterRejected,
			"oauth_callback must be \"oob\" or an absolute http or https URI (OAuth Core 1.0a Section 6.1)",
			"bad oauth_callback",
			oauth1.Param{Key: "oauth_parameters_rejected", Value: "oauth_callback"})
	}
	return nil
}

// IssueRequestToken answers the request-token endpoint for a verified
// consumer. With a callback the token is OAuth 1.0a (a verifier will be
// required), without one it is OAuth 1.0, as the python jira library uses.
func (p *Provider) IssueRequestToken(ctx context.Context, c *oauth1.Consumer, callback string, hasCallback bool) ([]oauth1.Param, *oauth1.Problem) {
	if !c.ThreeLegged {
		return nil, problem(oauth1.PermissionDenied, "3-legged OAuth is not enabled for this consumer", "3LO not allowed")
	}
	if hasCallback {
		if pr := CheckCallback(callback); pr != nil {
			return nil, pr
		}
	}
	token, secret := newSecret(), newSecret()
	id := store.TokenID(token)
	sealed, pr := p.seal(c, id, secret)
	if pr != nil {
		return nil, pr
	}
	now := p.now()
	t := &store.Token{ID: id, Kind: store.RequestToken, Consumer: c.Key, SealedSecret: sealed,
		Callback: callback, Version10a: hasCallback, Created: now, Expires: now.Add(p.requestTTL())}
	if err := p.Tokens.Put(ctx, t); err != nil {
		return nil, p.unavailable(err)
	}
	out := []oauth1.Param{{Key: "oauth_token", Value: token}, {Key: "oauth_token_secret", Value: secret}}
	if hasCallback {
		out = append(out, oauth1.Param{Key: "oauth_callback_confirmed", Value: "true"})
	}
	return out, nil
}

// TokenSecret implements oauth1.TokenResolver: resource requests must carry
// an access token; the access-token endpoint takes a request token (the
// exchange) or an access token (renewal). The state is the *store.Token.
func (p *Provider) TokenSecret(ctx context.Context, c *oauth1.Consumer, token string, at oauth1.Endpoint) (string, any, *oauth1.Problem) {
	kinds := []store.Kind{store.AccessToken}
	if at == oauth1.AccessTokenEndpoint {
		kinds = append(kinds, store.RequestToken)
	}
	t, secret, pr := p.tokenSecret(ctx, c, token, kinds...)
	if pr != nil {
		return "", nil, pr
	}
	return secret, t, nil
}

// User implements oauth1.TokenResolver for verified 3LO resource requests.
func (p *Provider) User(ctx context.Context, c *oauth1.Consumer, state any) (string, *oauth1.Problem) {
	t, ok := state.(*store.Token)
	if !ok {
		return "", problem(oauth1.TokenRejected, "", "no token state")
	}
	return p.ResolveAccess(ctx, c, t)
}

// tokenSecret returns the secret a request signed with token must have used
// (for HMAC-SHA1; "" for RSA-SHA1), after checking the token may be
// presented by this consumer as one of kinds.
func (p *Provider) tokenSecret(ctx context.Context, c *oauth1.Consumer, token string, kinds ...store.Kind) (*store.Token, string, *oauth1.Problem) {
	t, err := p.Tokens.Get(ctx, store.TokenID(token))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, "", problem(oauth1.TokenRejected, "", "unknown token")
	case err != nil:
		return nil, "", p.unavailable(err)
	}
	kindOK := false
	for _, k := range kinds {
		kindOK = kindOK || t.Kind == k
	}
	switch {
	case !kindOK:
		return nil, "", problem(oauth1.TokenRejected, "", fmt.Sprintf("%s token used where a %v token is needed", t.Kind, kinds))
	case t.Consumer != c.Key:
		return nil, "", problem(oauth1.TokenRejected, "", "token belongs to another consumer")
	case t.Kind == store.RequestToken && !p.now().Before(t.Expires):
		return nil, "", problem(oauth1.TokenExpired, "", "request token expired")
	}
	if !needsSecret(c) {
		return t, "", nil
	}
	if p.Sealer == nil || len(t.SealedSecret) == 0 {
		return nil, "", problem(oauth1.TokenRejected, "", "no token secret stored for an HMAC consumer")
	}
	secret, err := p.Sealer.Open(t.ID, t.SealedSecret)
	if err != nil {
		return nil, "", problem(oauth1.TokenRejected, "", err.Error())
	}
	return t, secret, nil
}

// ResolveAccess checks an access token presented on a 3LO resource request
// (after TokenSecret and the signature): expiry, the consumer's flag, and
// returns the approving user.
func (p *Provider) ResolveAccess(ctx context.Context, c *oauth1.Consumer, t *store.Token) (string, *oauth1.Problem) {
	now := p.now()
	if !now.Before(t.Expires) {
		return "", problem(oauth1.TokenExpired, "", "access token expired")
	}
	if !c.ThreeLegged {
		return "", problem(oauth1.PermissionDenied, "3-legged OAuth is not enabled for this consumer", "3LO not allowed")
	}
	if now.Sub(t.LastUsed) > lastUsedGranularity {
		// Coarse and off the request path: "last used" is informational.
		go func(id string) {
			_, err := p.Tokens.Update(context.Background(), id, func(t *store.Token) error {
				t.LastUsed = now
				return nil
			})
			if err != nil && !errors.Is(err, store.ErrNotFound) && p.OnStoreError != nil {
				p.OnStoreError(err)
			}
		}(t.ID)
	}
	return t.User, nil
}

// Pending returns a request token awaiting the user's decision, for the
// approval page.
func (p *Provider) Pending(ctx context.Context, token string) (*store.Token, *oauth1.Problem) {
	t, err := p.Tokens.Get(ctx, store.TokenID(token))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, problem(oauth1.TokenRejected, "", "unknown token")
	case err != nil:
		return nil, p.unavailable(err)
	case t.Kind != store.RequestToken:
		return nil, problem(oauth1.TokenRejected, "", "not a request token")
	case t.State != store.Pending:
		return nil, problem(oauth1.TokenUsed, "", "request token already decided")
	case !p.now().Before(t.Expires):
		return nil, problem(oauth1.TokenExpired, "", "request token expired")
	}
	return t, nil
}

// Decision is the outcome of the user's choice on the approval page.
type Decision struct {
	Token    *store.Token
	Verifier string // "" for OAuth 1.0 tokens; "denied" when refused
	Redirect string // where to send the browser; "" to show the verifier or a done page
}

// Decide records the user's approval or refusal of a request token. It is
// atomic: a token is decided once. callback10 is the oauth_callback given to
// the authorize page, used only for OAuth 1.0 tokens.
func (p *Provider) Decide(ctx context.Context, token, user string, approve bool, callback10 string) (*Decision, *oauth1.Problem) {
	now := p.now()
	var verifier string
	var pr *oauth1.Problem
	t, err := p.Tokens.Update(ctx, store.TokenID(token), func(t *store.Token) error {
		switch {
		case t.Kind != store.RequestToken:
			pr = problem(oauth1.TokenRejected, "", "not a request token")
		case t.State != store.Pending:
			pr = problem(oauth1.TokenUsed, "", "request token already decided")
		case !now.Before(t.Expires):
			pr = problem(oauth1.TokenExpired, "", "request token expired")
		}
		if pr != nil {
			return errProblem
		}
		t.User = user
		t.State = store.Denied
		verifier = "denied"
		if approve {
			t.State = store.Approved
			verifier = ""
			if t.Version10a {
				verifier = newSecret()
				t.VerifierHash = store.TokenID(verifier)
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, problem(oauth1.TokenRejected, "", "unknown token")
	case errors.Is(err, errProblem):
		return nil, pr
	case err != nil:
		return nil, p.unavailable(err)
	}
	d := &Decision{Token: t, Verifier: verifier}
	callback := t.Callback
	if !t.Version10a {
		callback = ""
		if callback10 != "" && CheckCallback(callback10) == nil && callback10 != "oob" {
			callback = callback10
		}
	}
	if callback != "" && callback != "oob" {
		q := "oauth_token=" + url.QueryEscape(token)
		if t.Version10a {
			q += "&oauth_verifier=" + url.QueryEscape(verifier)
		}
		sep := "?"
		if strings.Contains(callback, "?") {
			sep = "&"
		}
		d.Redirect = callback + sep + q
	}
	return d, nil
}

var errProblem = errors.New("problem")

// AccessToken answers the access-token endpoint for a verified request:
// with a request token it is an exchange, with an access token a renewal
// (Atlassian's oauth_session_handle extension), as the token the request
// was signed with says.
func (p *Provider) AccessToken(ctx context.Context, signed *oauth1.Signed) ([]oauth1.Param, *oauth1.Problem) {
	c := signed.Consumer
	if t, _ := signed.State.(*store.Token); t != nil && t.Kind == store.RequestToken {
		v, hasV := signed.Param("oauth_verifier")
		return p.Exchange(ctx, c, signed.Token, v, hasV)
	}
	sh, hasSH := signed.Param("oauth_session_handle")
	return p.Renew(ctx, c, signed.Token, sh, hasSH)
}

// Exchange swaps an approved request token for an access token (after the
// signature was verified with TokenSecret's secret). The request token is
// consumed: a second exchange gets token_rejected.
func (p *Provider) Exchange(ctx context.Context, c *oauth1.Consumer, token, verifier string, hasVerifier bool) ([]oauth1.Param, *oauth1.Problem) {
	now := p.now()
	return p.consume(ctx, c, token, "unknown or already exchanged request token", func(t *store.Token) (*oauth1.Problem, bool) {
		switch {
		case t.Kind != store.RequestToken || t.Consumer != c.Key:
			return problem(oauth1.TokenRejected, "", "not this consumer's request token"), false
		case !now.Before(t.Expires):
			return problem(oauth1.TokenExpired, "", "request token expired"), false
		case t.State == store.Pending:
			return problem(oauth1.PermissionUnknown, "the user has not approved this request token yet", "not yet approved"), false
		case t.State == store.Denied:
			return problem(oauth1.PermissionDenied, "the user denied access", "denied"), true
		case t.Version10a && !hasVerifier:
			return problem(oauth1.ParameterAbsent, "", "no oauth_verifier",
				oauth1.Param{Key: "oauth_parameters_absent", Value: "oauth_verifier"}), false
		case t.Version10a && !hmac.Equal([]byte(store.TokenID(verifier)), []byte(t.VerifierHash)):
			return problem(oauth1.TokenRejected, "", "wrong oauth_verifier"), false
		}
		return nil, false
	})
}

// Renew replaces an access token using its oauth_session_handle, while the
// session lasts. The session is measured from the last renewal.
func (p *Provider) Renew(ctx context.Context, c *oauth1.Consumer, token, handle string, hasHandle bool) ([]oauth1.Param, *oauth1.Problem) {
	if !hasHandle {
		return nil, problem(oauth1.ParameterAbsent, "", "access token at access-token without a session handle",
			oauth1.Param{Key: "oauth_parameters_absent", Value: "oauth_session_handle"})
	}
	now := p.now()
	return p.consume(ctx, c, token, "unknown access token", func(t *store.Token) (*oauth1.Problem, bool) {
		switch {
		case t.Kind != store.AccessToken || t.Consumer != c.Key:
			return problem(oauth1.TokenRejected, "", "not this consumer's access token"), false
		case !hmac.Equal([]byte(store.TokenID(handle)), []byte(t.SessionHash)):
			return problem(oauth1.TokenRejected, "", "wrong oauth_session_handle"), false
		case !now.Before(t.SessionEnds):
			return problem(oauth1.PermissionDenied, "the session has expired; approve the application again", "session expired"), false
		}
		return nil, false
	})
}

// consume deletes token, when check finds nothing wrong with it, and
// issues an access token for its user in its place. check returns the
// problem with the token and whether to delete it all the same; unknown is
// the reason logged when there is no such token.
func (p *Provider) consume(ctx context.Context, c *oauth1.Consumer, token, unknown string,
	check func(*store.Token) (pr *oauth1.Problem, drop bool)) ([]oauth1.Param, *oauth1.Problem) {
	var pr *oauth1.Problem
	var user string
	_, err := p.Tokens.Update(ctx, store.TokenID(token), func(t *store.Token) error {
		var drop bool
		if pr, drop = check(t); pr != nil && !drop {
			return errProblem
		}
		user = t.User
		return store.ErrDelete
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, problem(oauth1.TokenRejected, "", unknown)
	case pr != nil:
		return nil, pr
	case err != nil:
		return nil, p.unavailable(err)
	}
	return p.issueAccess(ctx, c, user)
}

func (p *Provider) issueAccess(ctx context.Context, c *oauth1.Consumer, user string) ([]oauth1.Param, *oauth1.Problem) {
	token, secret, handle := newSecret(), newSecret(), newSecret()
	id := store.TokenID(token)
	sealed, pr := p.seal(c, id, secret)
	if pr != nil {
		return nil, pr
	}
	now := p.now()
	t := &store.Token{ID: id, Kind: store.AccessToken, Consumer: c.Key, User: user, SealedSecret: sealed,
		SessionHash: store.TokenID(handle), Created: now, LastUsed: now,
		Expires: now.Add(p.accessTTL()), SessionEnds: now.Add(p.sessionTTL())}
	if err := p.Tokens.Put(ctx, t); err != nil {
		return nil, p.unavailable(err)
	}
	return []oauth1.Param{
		{Key: "oauth_token", Value: token},
		{Key: "oauth_token_secret", Value: secret},
		{Key: "oauth_expires_in", Value: strconv.FormatInt(int64(p.accessTTL()/time.Second), 10)},
		{Key: "oauth_session_handle", Value: handle},
		{Key: "oauth_authorization_expires_in", Value: strconv.FormatInt(int64(p.sessionTTL()/time.Second), 10)},
	}, nil
}

// EncodeForm renders token endpoint answers: OAuth percent-encoding (space
// is %20, never "+"), the reason Atlassian answers text/plain.
func EncodeForm(ps []oauth1.Param) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = oauth1.PercentEncode(p.Key) + "=" + oauth1.PercentEncode(p.Value)
	}
	return strings.Join(parts, "&")
}

var _ oauth1.TokenResolver = (*Provider)(nil)

// Package consumer is the consumer side of 3-legged OAuth towards a remote
// Atlassian application (Jira, Confluence, Bamboo, Bitbucket): the dance
// that obtains a user's access token (request token, the user's approval at
// the remote, access token), the store of those tokens per (remote, local
// user), and their renewal through oauth_session_handle. The signing
// transport uses it as its 3LO TokenSource; the applink_dance handler
// (package consumer/caddydance) serves the browser endpoints Atlassian's
// login dance uses.
//
// The package has no Caddy dependency.
package consumer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/signer"
)

// The remote's service-provider endpoints (relative to its base URL), and
// our own login-dance endpoints (relative to ours), where Atlassian serves
// them (docs/protocol.md).
const (
	RequestTokenPath = "/plugins/servlet/oauth/request-token"
	AuthorizePath    = "/plugins/servlet/oauth/authorize"
	AccessTokenPath  = "/plugins/servlet/oauth/access-token"

	DanceAuthorizePath = "/plugins/servlet/applinks/oauth/login-dance/authorize"
	DanceAccessPath    = "/plugins/servlet/applinks/oauth/login-dance/access"
)

// Link is one remote application we are a consumer of: Atlassian's
// application link, seen from our side.
type Link struct {
	// ID names the link in login-dance URLs (applicationLinkID).
	ID string
	// Signer signs for the remote's base URL, its rpcUrl: where the token
	// endpoints are called, and what the remote reconstructs.
	Signer *signer.Signer
	// DisplayURL is where browsers reach the remote (its displayUrl), for
	// the authorize page; "" means the rpcUrl. It may carry a context path.
	DisplayURL string
	// Do sends a token-endpoint request. nil: an HTTP client with a 30 s
	// timeout that follows no redirects. The request's URL is the rpcUrl's;
	// Do may route it elsewhere (the transport sends it to the upstream it
	// proxies to, with the remote's Host).
	Do func(*http.Request) (*http.Response, error)
}

// Remote is the link's remote as token records name it: the normalised
// base URL, scheme://host[:port][/context] (what the transport passes to
// TokenSource.AccessToken).
func (l *Link) Remote() string {
	b := l.Signer.RemoteBaseURL()
	return b.Origin() + b.ContextPath()
}

// endpoint is the rpcUrl of one of the remote's endpoints.
func (l *Link) endpoint(path string) string { return l.Remote() + path }

// AuthorizeURL is where the user approves requestToken: the remote's
// display URL + /plugins/servlet/oauth/authorize, with oauth_token and, if
// not empty, oauth_callback (as Atlassian's login dance sends it).
func (l *Link) AuthorizeURL(requestToken, callback string) string {
	base := strings.TrimRight(l.DisplayURL, "/")
	if base == "" {
		base = l.Remote()
	}
	u := base + AuthorizePath + "?oauth_token=" + url.QueryEscape(requestToken)
	if callback != "" {
		u += "&oauth_callback=" + url.QueryEscape(callback)
	}
	return u
}

// RequestToken is an unauthorised request token.
type RequestToken struct {
	Token, Secret string
	// CallbackConfirmed is oauth_callback_confirmed=true: the remote issued
	// an OAuth 1.0a token and will hand out a verifier.
	CallbackConfirmed bool
}

// Grant is what the access-token endpoint answers: an access token, at
// exchange or renewal.
type Grant struct {
	Token, Secret string
	SessionHandle string        // oauth_session_handle; "" if the remote sent none
	ExpiresIn     time.Duration // oauth_expires_in; 0 if absent
	SessionIn     time.Duration // oauth_authorization_expires_in; 0 if absent
}

// ErrRemoteUnavailable wraps failures to talk to the remote at all: it is
// unreachable, times out, or answers a server error without an OAuth
// problem.
var ErrRemoteUnavailable = errors.New("remote application unavailable")

// RemoteError is a refusal by the remote's token endpoint.
type RemoteError struct {
	Endpoint string // "request-token" or "access-token"
	Status   int
	// Problem is the oauth_problem; "" when the remote answered an error
	// without one (a 404 from something that is not an Atlassian app, a
	// redirect to a login page...).
	Problem string
	Advice  string         // oauth_problem_advice
	Params  []oauth1.Param // every parameter of the refusal
	Detail  string         // what else is known (a Location, the start of a body)
}

func (e *RemoteError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "remote %s endpoint answered %d", e.Endpoint, e.Status)
	if e.Problem != "" {
		fmt.Fprintf(&b, " oauth_problem=%s", e.Problem)
	}
	if e.Advice != "" {
		fmt.Fprintf(&b, " (%s)", e.Advice)
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, ": %s", e.Detail)
	}
	return b.String()
}

// TokenDead reports whether the refusal means the token (or its session)
// can never work again: the user must approve the application anew.
func (e *RemoteError) TokenDead() bool {
	switch e.Problem {
	case oauth1.TokenRejected, oauth1.TokenRevoked, oauth1.TokenExpired, oauth1.TokenUsed,
		oauth1.PermissionDenied, "token_not_authorized":
		return true
	}
	return false
}

// maxAnswer bounds what is read of a token endpoint's answer.
const maxAnswer = 64 << 10

var defaultClient = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// post signs and sends a token-endpoint request and returns its decoded
// answer.
func (l *Link) post(ctx context.Context, path string, token *signer.Token, extra ...oauth1.Param) ([]oauth1.Param, error) {
	name := strings.TrimPrefix(path, "/plugins/servlet/oauth/")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.endpoint(path), nil)
	if err != nil {
		return nil, err
	}
	if _, err := l.Signer.SignProtocol(req, token, extra...); err != nil {
		return nil, err
	}
	do := l.Do
	if do == nil {
		do = defaultClient.Do
	}
	resp, err := do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: POST %s: %w", ErrRemoteUnavailable, req.URL.Redacted(), err) // as Do routed it
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the answer of %s: %w", ErrRemoteUnavailable, req.URL.Redacted(), err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, refusal(name, resp, body)
	}
	params, err := oauth1.ParseForm(strings.TrimSpace(string(body)))
	if err != nil {
		return nil, &RemoteError{Endpoint: name, Status: resp.StatusCode, Detail: "answer is not form-encoded: " + snippet(body)}
	}
	return params, nil
}

// refusal turns a non-200 answer into an error: a *RemoteError when the
// remote refused (an OAuth problem, or any 3xx/4xx), ErrRemoteUnavailable
// for a server error without an OAuth problem.
func refusal(endpoint string, resp *http.Response, body []byte) error {
	e := &RemoteError{Endpoint: endpoint, Status: resp.StatusCode}
	if p, ok := ParseProblem(resp.Header.Values("WWW-Authenticate")); ok && p.Problem != "" {
		e.Problem, e.Params = p.Problem, p.Params
	} else if ps, err := oauth1.ParseForm(strings.TrimSpace(string(body))); err == nil {
		// net.oauth repeats the problem in the body, form-encoded.
		for _, kv := range ps {
			if kv.Key == "oauth_problem" {
				e.Problem, e.Params = kv.Value, ps
			}
		}
	}
	for _, kv := range e.Params {
		if kv.Key == "oauth_problem_advice" {
			e.Advice = kv.Value
		}
	}
	switch {
	case e.Problem != "":
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		e.Detail = "redirected to " + strconv.Quote(resp.Header.Get("Location")) + " (is the remote base URL right?)"
	case resp.StatusCode >= 500:
		return fmt.Errorf("%w: %s endpoint answered %d: %s", ErrRemoteUnavailable, endpoint, resp.StatusCode, snippet(body))
	default:
		e.Detail = snippet(body)
	}
	return e
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return strconv.Quote(s)
}

func get(ps []oauth1.Param, key string) string {
	for _, p := range ps {
		if p.Key == key {
			return p.Value
		}
	}
	return ""
}

// FetchRequestToken asks the remote for a request token. callback is sent
// as oauth_callback ("oob" or an absolute URL) for an OAuth 1.0a token;
// "" sends none, for an OAuth 1.0 token (no verifier; the python jira
// library's dance).
func (l *Link) FetchRequestToken(ctx context.Context, callback string) (*RequestToken, error) {
	var extra []oauth1.Param
	if callback != "" {
		extra = append(extra, oauth1.Param{Key: "oauth_callback", Value: callback})
	}
	ps, err := l.post(ctx, RequestTokenPath, nil, extra...)
	if err != nil {
		return nil, err
	}
	rt := &RequestToken{Token: get(ps, "oauth_token"), Secret: get(ps, "oauth_token_secret"),
		CallbackConfirmed: get(ps, "oauth_callback_confirmed") == "true"}
	if rt.Token == "" {
		return nil, &RemoteError{Endpoint: "request-token", Status: http.StatusOK, Detail: "no oauth_token in the answer"}
	}
	return rt, nil
}

// ExchangeRequestToken swaps an approved request token for an access
// token. verifier is sent as oauth_verifier unless it is "" (OAuth 1.0).
func (l *Link) ExchangeRequestToken(ctx context.Context, rt *signer.Token, verifier string) (*Grant, error) {
	var extra []oauth1.Param
	if verifier != "" {
		extra = append(extra, oauth1.Param{Key: "oauth_verifier", Value: verifier})
	}
	return l.grant(ctx, rt, extra...)
}

// RenewAccessToken replaces an access token through its session handle.
// The remote invalidates the old token when it answers.
func (l *Link) RenewAccessToken(ctx context.Context, at *signer.Token, sessionHandle string) (*Grant, error) {
	return l.grant(ctx, at, oauth1.Param{Key: "oauth_session_handle", Value: sessionHandle})
}

func (l *Link) grant(ctx context.Context, tok *signer.Token, extra ...oauth1.Param) (*Grant, error) {
	if tok == nil || tok.Token == "" {
		return nil, signer.ErrNoToken
	}
	ps, err := l.post(ctx, AccessTokenPath, tok, extra...)
	if err != nil {
		return nil, err
	}
	g := &Grant{Token: get(ps, "oauth_token"), Secret: get(ps, "oauth_token_secret"), SessionHandle: get(ps, "oauth_session_handle")}
	if g.Token == "" {
		return nil, &RemoteError{Endpoint: "access-token", Status: http.StatusOK, Detail: "no oauth_token in the answer"}
	}
	g.ExpiresIn = seconds(get(ps, "oauth_expires_in"))
	g.SessionIn = seconds(get(ps, "oauth_authorization_expires_in"))
	return g, nil
}

// seconds reads a lifetime in seconds; 0 for absent or invalid values.
func seconds(s string) time.Duration {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > int64((1<<63-1)/time.Second) {
		return 0
	}
	return time.Duration(n) * time.Second
}

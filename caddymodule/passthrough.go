package caddymodule

import (
	"context"
	"net/http"
	"strings"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
)

// forward_oauth (Handler.ForwardOAuth): the proxy verifies and enforces
// everything it does otherwise, then forwards the request with its OAuth
// intact, and the product verifies it again with its unchanged application
// link. The product is the 3LO service provider.

// passthroughEndpoint reports whether r, with forward_oauth, is a POST to
// one of the product's token endpoints, and which.
func (h *Handler) passthroughEndpoint(r *http.Request) (oauth1.Endpoint, bool) {
	if !h.ForwardOAuth || r.Method != http.MethodPost {
		return 0, false
	}
	switch strings.TrimSuffix(r.URL.Path, "/") {
	case h.contextPath + requestTokenPath:
		return oauth1.RequestTokenEndpoint, true
	case h.contextPath + accessTokenPath:
		return oauth1.AccessTokenEndpoint, true
	}
	return 0, false
}

// passthroughPage reports whether r, with forward_oauth, is for the
// product's 3LO approval page, which carries the request token in its
// query (oauth_token) and is no signed request.
func (h *Handler) passthroughPage(r *http.Request) bool {
	return h.ForwardOAuth && strings.TrimSuffix(r.URL.Path, "/") == h.contextPath+authorizePath &&
		!oauth1.IsOAuthScheme(r.Header.Get("Authorization"))
}

// passthroughTokens resolves tokens with forward_oauth: the product issued
// them and knows their secrets and users. An RSA-SHA1 signature does not
// involve the token secret, so the consumer's signature is still checked
// here; an HMAC-SHA1 one does, so it cannot be, and is refused.
type passthroughTokens struct{}

func (passthroughTokens) TokenSecret(_ context.Context, c *oauth1.Consumer, _ string, _ oauth1.Endpoint) (string, any, *oauth1.Problem) {
	if c.PublicKey == nil {
		return "", nil, &oauth1.Problem{Code: oauth1.TokenRejected,
			Advice: "with forward_oauth, 3-legged requests must be signed with RSA-SHA1: an HMAC-SHA1 signature needs the token secret, which only the product holds",
			Reason: "HMAC-SHA1 3LO under forward_oauth"}
	}
	return "", nil, nil
}

func (passthroughTokens) User(context.Context, *oauth1.Consumer, any) (string, *oauth1.Problem) {
	return "", nil
}

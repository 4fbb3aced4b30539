package caddymodule

import (
	"context"

	"github.com/caddy-applink/caddy-applink/internal/consumer"
	"github.com/caddy-applink/caddy-applink/internal/signer"
)

// tokenSource supplies the 3-legged access token a local user holds for a
// remote application. With mode 3lo, the transport uses the consumer-side
// token store (consumer.Tokens over its `state`, filled by the
// applink_dance handler), unless Transport.tokenSrc is set.
type tokenSource interface {
	// AccessToken returns user's access token for remote, the remote base
	// URL as normalised for signing (scheme://host[:port][/context]). It
	// returns an error wrapping consumer.ErrNoAccessToken when the user has none
	// (401 with a link to the dance); one wrapping
	// consumer.ErrRemoteUnavailable when an expired token could not be
	// renewed (502); any other error is a store failure (503).
	AccessToken(ctx context.Context, remote, user string) (*signer.Token, error)
}

// tokenReactions is implemented by token sources that act on a remote's
// refusal of a 3LO request (consumer.Tokens): forget a rejected token,
// mark an expired one for renewal.
type tokenReactions interface {
	Forget(ctx context.Context, remote, user, token string) bool
	Expire(ctx context.Context, remote, user, token string) bool
}

var _ interface {
	tokenSource
	tokenReactions
} = (*consumer.Tokens)(nil)

// noTokens is the tokenSource of a transport without a token store.
type noTokens struct{}

func (noTokens) AccessToken(context.Context, string, string) (*signer.Token, error) {
	return nil, consumer.ErrNoAccessToken
}

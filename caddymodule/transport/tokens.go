package transport

import (
	"context"
	"errors"

	"github.com/caddy-applink/caddy-applink/caddymodule/signer"
)

// TokenSource supplies the 3-legged access token a local user holds for a
// remote application. It is the seam for the consumer-side token store
// (filled by the OAuth dance); until one is configured, Transport uses a
// source that has no tokens, so every 3lo request is refused locally.
type TokenSource interface {
	// AccessToken returns user's access token for remote, the remote base
	// URL as normalised for signing (scheme://host[:port][/context]). It
	// returns an error wrapping ErrNoAccessToken when none is stored; any
	// other error is a store failure, and the request is refused (503).
	AccessToken(ctx context.Context, remote, user string) (*signer.Token, error)
}

// ErrNoAccessToken is returned by a TokenSource that holds no token for
// the user.
var ErrNoAccessToken = errors.New("no 3LO access token stored for this user")

// noTokens is the TokenSource of a transport without a token store.
type noTokens struct{}

func (noTokens) AccessToken(context.Context, string, string) (*signer.Token, error) {
	return nil, ErrNoAccessToken
}

package store

import (
	"context"
	"time"
)

// RemoteToken is a token this proxy holds as a consumer of a remote app:
// the access token a local user obtained through the consumer-side dance,
// or, while the dance runs, its request token. One per (remote, user).
// Token values must be sent, so they are kept; sealed when the state has an
// encryption key. Alone they are useless: signing needs our private key.
type RemoteToken struct {
	Remote        string    `json:"remote"` // the remote's base URL
	User          string    `json:"user"`   // the local user
	Pending       bool      `json:"pending,omitempty"`
	Token         string    `json:"token,omitempty"` // when not sealed
	Secret        string    `json:"secret,omitempty"`
	SessionHandle string    `json:"session_handle,omitempty"`
	Sealed        []byte    `json:"sealed,omitempty"` // token, secret and handle, sealed together
	Created       time.Time `json:"created"`
	Expires       time.Time `json:"expires"`
	SessionEnds   time.Time `json:"session_ends,omitzero"`
}

// RemoteKey is the storage key of (remote, user).
func RemoteKey(remote, user string) string { return remote + "\x00" + user }

// RemoteStore keeps consumer-side tokens.
type RemoteStore interface {
	PutRemote(ctx context.Context, t *RemoteToken) error
	// GetRemote returns ErrNotFound when the user has no token for remote.
	GetRemote(ctx context.Context, remote, user string) (*RemoteToken, error)
	DeleteRemote(ctx context.Context, remote, user string) error
	// ListRemote returns the tokens of remote and user; "" matches any.
	ListRemote(ctx context.Context, remote, user string) ([]*RemoteToken, error)
}

// matchRemote reports whether t belongs to remote and user ("" = any).
func matchRemote(t *RemoteToken, remote, user string) bool {
	return (remote == "" || t.Remote == remote) && (user == "" || t.User == user)
}

// StateStore is what every `state` backend keeps: the provider's tokens
// and the consumer-side ones.
type StateStore interface {
	TokenStore
	RemoteStore
}

var (
	_ StateStore = (*Bolt)(nil)
	_ StateStore = (*MemoryTokens)(nil)
	_ StateStore = (*Redis)(nil)
)

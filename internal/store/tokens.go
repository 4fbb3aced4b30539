package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"
)

// Kind tells request tokens from access tokens.
type Kind string

const (
	RequestToken Kind = "request"
	AccessToken  Kind = "access"
)

// Token is one OAuth token the service provider issued. The token value
// itself is never stored: ID is its SHA-256, so a stolen state file names no
// usable token. Secrets and verifiers are stored the same way, or sealed
// (SealedSecret) when a signature method needs the plain value back.
type Token struct {
	ID           string    `json:"id"` // TokenID(value)
	Kind         Kind      `json:"kind"`
	Consumer     string    `json:"consumer"`
	User         string    `json:"user,omitempty"`          // the approving user
	SealedSecret []byte    `json:"sealed_secret,omitempty"` // HMAC consumers only
	Callback     string    `json:"callback,omitempty"`      // request tokens: "" (OAuth 1.0), "oob" or a URL
	Version10a   bool      `json:"v10a,omitempty"`          // issued with oauth_callback: needs a verifier
	State        State     `json:"state,omitempty"`         // request tokens
	VerifierHash string    `json:"verifier_hash,omitempty"` // TokenID(verifier)
	SessionHash  string    `json:"session_hash,omitempty"`  // TokenID(oauth_session_handle)
	Created      time.Time `json:"created"`
	Expires      time.Time `json:"expires"`
	SessionEnds  time.Time `json:"session_ends,omitempty"` // access tokens: renewal possible until then
	LastUsed     time.Time `json:"last_used,omitempty"`
}

// State is the user's decision on a request token.
type State string

const (
	Pending  State = ""
	Approved State = "approved"
	Denied   State = "denied"
)

// TokenID derives the storage key of a token value (or of a verifier or
// session handle).
func TokenID(value string) string {
	sum := sha256.Sum256([]byte(value))
	return hex.EncodeToString(sum[:])
}

// Filter selects tokens; empty fields match everything.
type Filter struct {
	Kind     Kind
	Consumer string
	User     string
	ID       string
}

// Match reports whether t passes the filter.
func (f Filter) Match(t *Token) bool {
	return (f.Kind == "" || t.Kind == f.Kind) &&
		(f.Consumer == "" || t.Consumer == f.Consumer) &&
		(f.User == "" || t.User == f.User) &&
		(f.ID == "" || t.ID == f.ID)
}

// Errors of token stores.
var (
	ErrNotFound = errors.New("token not found")
	ErrExists   = errors.New("token already exists")
)

// TokenStore keeps the tokens of the service provider. Implementations are
// safe for concurrent use; Update is atomic.
type TokenStore interface {
	// Put stores a new token; ErrExists if its ID is taken.
	Put(ctx context.Context, t *Token) error
	// Get returns a token by ID, or ErrNotFound.
	Get(ctx context.Context, id string) (*Token, error)
	// Update reads, changes and writes one token atomically. If fn returns
	// an error nothing is written and the error is returned. If fn returns
	// ErrDelete the token is deleted.
	Update(ctx context.Context, id string, fn func(*Token) error) (*Token, error)
	// Delete removes the tokens the filter selects and says how many.
	Delete(ctx context.Context, f Filter) (int, error)
	// List returns the tokens the filter selects.
	List(ctx context.Context, f Filter) ([]*Token, error)
	// Sweep deletes tokens that can no longer be used at now.
	Sweep(ctx context.Context, now time.Time) (int, error)
}

// ErrDelete, returned from an Update function, deletes the token.
var ErrDelete = errors.New("delete token")

// Dead reports whether a token can no longer be used or renewed at now.
func (t *Token) Dead(now time.Time) bool {
	end := t.Expires
	if t.SessionEnds.After(end) {
		end = t.SessionEnds
	}
	return !now.Before(end)
}

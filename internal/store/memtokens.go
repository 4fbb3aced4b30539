package store

import (
	"context"
	"errors"
	"sync"
	"time"
)

// MemoryTokens is a token store that lives in the process: for tests and
// for deployments that accept losing 3LO approvals on restart.
type MemoryTokens struct {
	mu     sync.Mutex
	tokens map[string]Token
	remote map[string]RemoteToken
}

// NewMemoryTokens returns an empty store.
func NewMemoryTokens() *MemoryTokens {
	return &MemoryTokens{tokens: make(map[string]Token), remote: make(map[string]RemoteToken)}
}

func clone(t Token) *Token {
	t.SealedSecret = append([]byte(nil), t.SealedSecret...)
	return &t
}

// Put stores a new token.
func (m *MemoryTokens) Put(_ context.Context, t *Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.tokens[t.ID]; ok {
		return ErrExists
	}
	m.tokens[t.ID] = *clone(*t)
	return nil
}

// Get returns a token by ID.
func (m *MemoryTokens) Get(_ context.Context, id string) (*Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tokens[id]
	if !ok {
		return nil, ErrNotFound
	}
	return clone(t), nil
}

// Update changes one token atomically.
func (m *MemoryTokens) Update(_ context.Context, id string, fn func(*Token) error) (*Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.tokens[id]
	if !ok {
		return nil, ErrNotFound
	}
	t := clone(cur)
	switch err := fn(t); {
	case errors.Is(err, ErrDelete):
		delete(m.tokens, id)
		return t, nil
	case err != nil:
		return nil, err
	}
	m.tokens[id] = *clone(*t)
	return t, nil
}

// Delete removes the selected tokens.
func (m *MemoryTokens) Delete(_ context.Context, f Filter) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id, t := range m.tokens {
		if f.Match(&t) {
			delete(m.tokens, id)
			n++
		}
	}
	return n, nil
}

// List returns the selected tokens.
func (m *MemoryTokens) List(_ context.Context, f Filter) ([]*Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Token
	for _, t := range m.tokens {
		if f.Match(&t) {
			out = append(out, clone(t))
		}
	}
	return out, nil
}

// Sweep deletes dead tokens.
func (m *MemoryTokens) Sweep(_ context.Context, now time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id, t := range m.tokens {
		if t.Dead(now) {
			delete(m.tokens, id)
			n++
		}
	}
	return n, nil
}

var _ TokenStore = (*MemoryTokens)(nil)

// PutRemote stores (or replaces) a consumer-side token.
func (m *MemoryTokens) PutRemote(_ context.Context, t *RemoteToken) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := *t
	c.Sealed = append([]byte(nil), t.Sealed...)
	m.remote[RemoteKey(t.Remote, t.User)] = c
	return nil
}

// GetRemote returns the consumer-side token of (remote, user).
func (m *MemoryTokens) GetRemote(_ context.Context, remote, user string) (*RemoteToken, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.remote[RemoteKey(remote, user)]
	if !ok {
		return nil, ErrNotFound
	}
	t.Sealed = append([]byte(nil), t.Sealed...)
	return &t, nil
}

// DeleteRemote forgets the consumer-side token of (remote, user).
func (m *MemoryTokens) DeleteRemote(_ context.Context, remote, user string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.remote, RemoteKey(remote, user))
	return nil
}

// ListRemote returns the consumer-side tokens of remote and user ("" = any).
func (m *MemoryTokens) ListRemote(_ context.Context, remote, user string) ([]*RemoteToken, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*RemoteToken
	for _, t := range m.remote {
		if matchRemote(&t, remote, user) {
			t.Sealed = append([]byte(nil), t.Sealed...)
			out = append(out, &t)
		}
	}
	return out, nil
}

var _ RemoteStore = (*MemoryTokens)(nil)

// Count returns the number of tokens.
func (m *MemoryTokens) Count(_ context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.tokens), nil
}

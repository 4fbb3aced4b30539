package caddymodule

import (
	"crypto/rand"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-applink/caddy-applink/caddymodule/store"
)

// StateConfig says where tokens live.
type StateConfig struct {
	// "file" (bbolt, the default) or "memory" (lost on restart).
	Backend string `json:"backend,omitempty"`
	// The bbolt file; default <Caddy data dir>/applink/state.db.
	Path string `json:"path,omitempty"`
	// Encrypts the token secrets of HMAC-SHA1 consumers at rest (16+
	// characters; use {env.*}). Without it, HMAC consumers get no 3LO; RSA
	// consumers need no token secret, and no token value is ever stored.
	EncryptionKey string `json:"encryption_key,omitempty"`
}

// statePool shares open token stores across config reloads: a bbolt file
// is locked while open, so the new config must reuse the old handle rather
// than open it a second time (and wait forever for its own lock).
var statePool = caddy.NewUsagePool()

type pooledStore struct {
	store.TokenStore
	closer func() error
}

func (p pooledStore) Destruct() error {
	if p.closer != nil {
		return p.closer()
	}
	return nil
}

// openState returns the shared store for cfg and the pool key to release.
func openState(cfg *StateConfig, repl *caddy.Replacer) (store.TokenStore, string, error) {
	backend := "file"
	if cfg != nil && cfg.Backend != "" {
		backend = cfg.Backend
	}
	switch backend {
	case "memory":
		key := "applink.state.memory"
		v, _, err := statePool.LoadOrNew(key, func() (caddy.Destructor, error) {
			m := store.NewMemoryTokens()
			registerStore("memory", m)
			return pooledStore{TokenStore: m, closer: func() error { unregisterStore("memory"); return nil }}, nil
		})
		if err != nil {
			return nil, "", err
		}
		return v.(pooledStore).TokenStore, key, nil
	case "file":
		path := filepath.Join(caddy.AppDataDir(), "applink", "state.db")
		if cfg != nil && cfg.Path != "" {
			path = repl.ReplaceKnown(cfg.Path, "")
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, "", err
		}
		key := "applink.state.file:" + abs
		v, _, err := statePool.LoadOrNew(key, func() (caddy.Destructor, error) {
			b, err := store.OpenBolt(abs)
			if err != nil {
				return nil, err
			}
			registerStore(abs, b)
			return pooledStore{TokenStore: b, closer: func() error {
				unregisterStore(abs)
				return b.Close()
			}}, nil
		})
		if err != nil {
			return nil, "", err
		}
		return v.(pooledStore).TokenStore, key, nil
	}
	return nil, "", fmt.Errorf("state must be file or memory, not %q", backend)
}

// openStores lists the token stores in use, for the admin API.
var (
	openStoresMu sync.Mutex
	openStores   = map[string]store.TokenStore{}
)

func registerStore(name string, s store.TokenStore) {
	openStoresMu.Lock()
	openStores[name] = s
	openStoresMu.Unlock()
}

func unregisterStore(name string) {
	openStoresMu.Lock()
	delete(openStores, name)
	openStoresMu.Unlock()
}

func storesInUse() map[string]store.TokenStore {
	openStoresMu.Lock()
	defer openStoresMu.Unlock()
	out := make(map[string]store.TokenStore, len(openStores))
	for k, v := range openStores {
		out[k] = v
	}
	return out
}

// processKey is the key of login sessions and CSRF tokens when no
// session_key is configured: random, kept for the life of the process so a
// config reload neither logs users out nor breaks open forms.
var processKey = sync.OnceValue(func() []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic("applink: no randomness: " + err.Error())
	}
	return k
})

// AcquireState opens (or shares) the token store cfg names, for other
// modules (the signing transport, the consumer-side dance) that must use the
// same store as the applink handler. Call ReleaseState(key) in Cleanup.
func AcquireState(cfg *StateConfig) (store.TokenStore, string, error) {
	return openState(cfg, caddy.NewReplacer())
}

// ReleaseState releases a store obtained from AcquireState.
func ReleaseState(key string) error {
	_, err := statePool.Delete(key)
	return err
}

// ParseStateDirective reads a `state file [<path>] { encryption_key <k> }`
// or `state memory` directive (the dispenser is on "state") for other
// modules' Caddyfile parsers.
var ParseStateDirective = parseState

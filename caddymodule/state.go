package caddymodule

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/caddy-applink/caddy-applink/internal/consumer"
	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/store"
)

// StateConfig says where tokens live.
type StateConfig struct {
	// "file" (bbolt, the default), "redis" (shared by a fleet: tokens and
	// nonces) or "memory" (lost on restart).
	Backend string `json:"backend,omitempty"`
	// redis: redis://[user:pass@]host:port/db, rediss://..., with
	// ?master_name= for Sentinel or ?addr=...&addr=... for Cluster.
	URL string `json:"url,omitempty"`
	// redis: the prefix of every key (default "applink:").
	KeyPrefix string `json:"key_prefix,omitempty"`
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

// openedState is what one `state` directive opens, each part named for what
// it serves, so that no module guesses a store's abilities from its type.
type openedState struct {
	store store.StateStore // tokens, provider and consumer side
	// fleetNonces are the nonces a fleet shares (redis), or the refusing
	// stand-in of a state file held elsewhere; nil where each instance
	// keeps its own in memory.
	fleetNonces oauth1.NonceStore
	// journal keeps the nonces an instance accepts beside its state file
	// (file), so that a restart remembers them; nil otherwise.
	journal *store.NonceJournal
	key     string // the pool key, for releaseState
}

type pooledState struct {
	openedState
	closer func() error
}

func (p pooledState) Destruct() error { return p.closer() }

// openState returns the shared stores for cfg.
func openState(ctx caddy.Context, cfg *StateConfig, repl *caddy.Replacer) (openedState, error) {
	backend := "file"
	if cfg != nil && cfg.Backend != "" {
		backend = cfg.Backend
	}
	switch backend {
	case "memory":
		return poolState("applink.state.memory", func() (openedState, string, func() error, error) {
			m := store.NewMemoryTokens()
			return openedState{store: m}, "memory", startSweeper("memory", m), nil
		})
	case "redis":
		if cfg.URL == "" {
			return openedState{}, errors.New("state redis needs a URL, e.g. redis://127.0.0.1:6379/0")
		}
		url := repl.ReplaceKnown(cfg.URL, "")
		prefix := repl.ReplaceKnown(cfg.KeyPrefix, "")
		return poolState("applink.state.redis:"+prefix+"\x00"+url, func() (openedState, string, func() error, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			r, err := store.OpenRedis(ctx, store.RedisConfig{URL: url, KeyPrefix: prefix})
			if err != nil {
				return openedState{}, "", nil, err
			}
			return openedState{store: r, fleetNonces: r}, "redis " + r.Addr(), r.Close, nil
		})
	case "file":
		path := filepath.Join(caddy.AppDataDir(), "applink", "state.db")
		if cfg != nil && cfg.Path != "" {
			path = repl.ReplaceKnown(cfg.Path, "")
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return openedState{}, err
		}
		st, err := poolState("applink.state.file:"+abs, func() (openedState, string, func() error, error) {
			b, err := store.OpenBolt(abs)
			if err != nil {
				return openedState{}, "", nil, err
			}
			if ignored := b.NonceJournal().Ignored(); len(ignored) > 0 {
				// Not an error: the proxy starts, and refuses for one
				// window what was stamped before it, as after a crash.
				caddy.Log().Named("applink.state").Warn("nonce journal not trusted whole; requests stamped before this start are refused until they leave the timestamp window",
					zap.String("state_file", abs), zap.Strings("ignored", ignored),
					zap.Time("refused_before", b.NonceJournal().Since()))
			}
			stop := startSweeper(abs, b)
			return openedState{store: b, journal: b.NonceJournal()}, abs, func() error { stop(); return b.Close() }, nil
		})
		if errors.Is(err, store.ErrLocked) {
			// Another process holds the file: most often the running
			// instance, while this one only validates its config
			// (validate-then-reload). Validation passes without the
			// file; starting fails (stateApp.Start).
			if err := lockedElsewhere(ctx, err); err != nil {
				return openedState{}, err
			}
			ls := lockedState{err}
			return openedState{store: ls, fleetNonces: ls}, nil
		}
		return st, err
	}
	return openedState{}, fmt.Errorf("state must be file, redis or memory, not %q", backend)
}

// poolState shares the stores under key: open runs only when no config
// holds them yet, and the store is registered for the admin API (under the
// name open returns) until the last config releases it.
func poolState(key string, open func() (st openedState, name string, closer func() error, err error)) (openedState, error) {
	v, _, err := statePool.LoadOrNew(key, func() (caddy.Destructor, error) {
		st, name, closer, err := open()
		if err != nil {
			return nil, err
		}
		registerStore(name, st.store)
		return pooledState{openedState: st, closer: func() error {
			unregisterStore(name)
			if closer != nil {
				return closer()
			}
			return nil
		}}, nil
	})
	if err != nil {
		return openedState{}, err
	}
	st := v.(pooledState).openedState
	st.key = key
	return st, nil
}

// sweepEvery is how often the file and memory stores drop what can no
// longer serve (a time.Duration; tests shorten it). Redis needs no sweep:
// its keys expire.
var sweepEvery atomic.Int64

func init() { sweepEvery.Store(int64(time.Hour)) }

// startSweeper deletes, every sweepEvery, the dead tokens of s and, as a
// consumer, its lapsed dances and unrenewable tokens: without it they would
// pile up in the state file. The returned func stops it and waits.
func startSweeper(name string, s store.StateStore) (stop func() error) {
	log := caddy.Log().Named("applink.state")
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(time.Duration(sweepEvery.Load()))
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			now := time.Now()
			n, err := s.Sweep(ctx, now)
			if err == nil {
				var m int
				m, err = consumer.SweepHeld(ctx, s, now)
				n += m
			}
			cancel()
			switch {
			case err != nil:
				log.Warn("sweeping the state store", zap.String("store", name), zap.Error(err))
			case n > 0:
				log.Info("swept dead tokens", zap.String("store", name), zap.Int("count", n))
			}
		}
	}()
	return func() error {
		close(done)
		<-finished
		return nil
	}
}

// openStores lists the token stores in use, for the admin API.
var (
	openStoresMu sync.Mutex
	openStores   = map[string]store.StateStore{}
)

func registerStore(name string, s store.StateStore) {
	openStoresMu.Lock()
	openStores[name] = s
	openStoresMu.Unlock()
}

func unregisterStore(name string) {
	openStoresMu.Lock()
	delete(openStores, name)
	openStoresMu.Unlock()
}

func storesInUse() map[string]store.StateStore {
	openStoresMu.Lock()
	defer openStoresMu.Unlock()
	out := make(map[string]store.StateStore, len(openStores))
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

// acquireState opens (or shares) the token store cfg names, for other
// modules (the signing transport, the consumer-side dance) that must use the
// same store as the applink handler. Call releaseState(key) in Cleanup.
func acquireState(ctx caddy.Context, cfg *StateConfig) (openedState, error) {
	return openState(ctx, cfg, caddy.NewReplacer())
}

// releaseState releases a store obtained from acquireState.
func releaseState(key string) error {
	_, err := statePool.Delete(key)
	return err
}

func init() {
	// go-redis prints dial failures through the standard logger; the
	// handler logs store failures itself, once per refused request.
	redis.SetLogger(quietRedisLogger{})
}

type quietRedisLogger struct{}

func (quietRedisLogger) Printf(context.Context, string, ...interface{}) {}

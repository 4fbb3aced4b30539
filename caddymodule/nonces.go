package caddymodule

import (
	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-applink/caddy-applink/internal/store"
)

// noncePool shares nonce stores across config reloads: a reload must not
// forget the nonces seen, or a replay would pass right after it.
var noncePool = caddy.NewUsagePool()

const memoryNonceKey = "applink.nonces.memory"

type memoryNonces struct{ *store.Memory }

// Destruct releases the tables once no config uses the store; a request
// still in flight on the old config then gets 503, never a pass.
func (m memoryNonces) Destruct() error { return m.Close() }

func acquireMemoryNonces() (*store.Memory, error) {
	v, _, err := noncePool.LoadOrNew(memoryNonceKey, func() (caddy.Destructor, error) {
		return memoryNonces{store.NewMemory()}, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(memoryNonces).Memory, nil
}

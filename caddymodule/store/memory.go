// Package store holds the state behind application-link verification:
// replay (nonce) records, and later OAuth tokens. Its stores have no Caddy
// dependency; the Caddy glue shares one instance across config reloads.
package store

import (
	"context"
	"hash/maphash"
	"math"
	"sync"
	"time"
)

// Memory is an in-process nonce store for a single instance. Entries expire
// at the time given to Record; memory is bounded by window x request rate.
// Its Since is its creation time: after a restart the verifier refuses
// requests signed before it, because their nonces were forgotten.
//
// Keys are kept as 64-bit keyed hashes (a random seed per store, so clients
// cannot aim for collisions) with a 32-bit expiry: about 30 bytes a nonce
// instead of the 120 the strings took. A false "already seen" needs two of
// the live nonces to collide in 64 bits: about n/2^64 per request.
type Memory struct {
	mu      sync.Mutex
	seed    maphash.Seed
	entries map[uint64]uint32  // hash(key) -> expiry (unix seconds)
	buckets map[int64][]uint64 // expiry bucket -> hashes, for sweeping
	since   time.Time
	now     func() time.Time
	swept   int64
}

// bucketSeconds is the sweep granularity: expired entries live at most this
// much longer than asked.
const bucketSeconds = 10

// NewMemory returns an empty store.
func NewMemory() *Memory {
	return &Memory{
		seed:    maphash.MakeSeed(),
		entries: make(map[uint64]uint32),
		buckets: make(map[int64][]uint64),
		since:   time.Now(),
		now:     time.Now,
	}
}

// Since returns when the store was created.
func (m *Memory) Since() time.Time { return m.since }

// Seen reports whether key is stored and not expired.
func (m *Memory) Seen(_ context.Context, key string) (bool, error) {
	now := m.now().Unix()
	h := maphash.String(m.seed, key)
	m.mu.Lock()
	exp, ok := m.entries[h]
	m.mu.Unlock()
	return ok && int64(exp) > now, nil
}

// Record stores key until the given time, unless it is already stored.
func (m *Memory) Record(_ context.Context, key string, until time.Time) (bool, error) {
	now := m.now().Unix()
	exp := until.Unix()
	if exp > math.MaxUint32 {
		exp = math.MaxUint32
	}
	h := maphash.String(m.seed, key)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked(now)
	if old, ok := m.entries[h]; ok && int64(old) > now {
		return false, nil
	}
	m.entries[h] = uint32(exp)
	b := exp / bucketSeconds
	m.buckets[b] = append(m.buckets[b], h)
	return true, nil
}

// Len returns the number of stored entries (expired ones not yet swept included).
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

func (m *Memory) sweepLocked(now int64) {
	cur := now / bucketSeconds
	if cur == m.swept {
		return
	}
	m.swept = cur
	for b, hashes := range m.buckets {
		if b >= cur {
			continue
		}
		for _, h := range hashes {
			if exp, ok := m.entries[h]; ok && int64(exp) <= now {
				delete(m.entries, h)
			}
		}
		delete(m.buckets, b)
	}
}

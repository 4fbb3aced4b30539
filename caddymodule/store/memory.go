// Package store holds the state behind application-link verification:
// replay (nonce) records, and later OAuth tokens. Its stores have no Caddy
// dependency; the Caddy glue shares one instance across config reloads.
package store

import (
	"context"
	"sync"
	"time"
)

// Memory is an in-process nonce store for a single instance. Entries expire
// at the time given to Record; memory is bounded by window x request rate.
// Its Since is its creation time: after a restart the verifier refuses
// requests signed before it, because their nonces were forgotten.
type Memory struct {
	mu      sync.Mutex
	entries map[string]int64   // key -> expiry (unix seconds)
	buckets map[int64][]string // expiry bucket -> keys, for sweeping
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
		entries: make(map[string]int64),
		buckets: make(map[int64][]string),
		since:   time.Now(),
		now:     time.Now,
	}
}

// Since returns when the store was created.
func (m *Memory) Since() time.Time { return m.since }

// Seen reports whether key is stored and not expired.
func (m *Memory) Seen(_ context.Context, key string) (bool, error) {
	now := m.now().Unix()
	m.mu.Lock()
	exp, ok := m.entries[key]
	m.mu.Unlock()
	return ok && exp > now, nil
}

// Record stores key until the given time, unless it is already stored.
func (m *Memory) Record(_ context.Context, key string, until time.Time) (bool, error) {
	now := m.now().Unix()
	exp := until.Unix()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked(now)
	if old, ok := m.entries[key]; ok && old > now {
		return false, nil
	}
	m.entries[key] = exp
	b := exp / bucketSeconds
	m.buckets[b] = append(m.buckets[b], key)
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
	for b, keys := range m.buckets {
		if b >= cur {
			continue
		}
		for _, k := range keys {
			if exp, ok := m.entries[k]; ok && exp <= now {
				delete(m.entries, k)
			}
		}
		delete(m.buckets, b)
	}
}

// Package store holds the state behind application-link verification:
// replay (nonce) records, and later OAuth tokens. Its stores have no Caddy
// dependency; the Caddy glue shares one instance across config reloads.
package store

import (
	"context"
	"hash/maphash"
	"slices"
	"sort"
	"sync"
	"time"
)

// Memory is an in-process nonce store for a single instance. Entries expire
// at the time given to Record; memory is bounded by window x request rate.
// Its Since is its creation time: after a restart the verifier refuses
// requests signed before it, because their nonces were forgotten.
//
// Keys are kept as 64-bit keyed hashes (a random seed per store, so clients
// cannot aim for collisions) in one small map per 10 seconds of expiry, with
// the second within those 10 seconds as the value: about 25 bytes a nonce,
// and expiry drops a whole map at once (no sweep stalls). A false "already
// seen" needs two live nonces to collide in 64 bits: about n/2^64 a request.
type Memory struct {
	mu      sync.Mutex
	seed    maphash.Seed
	buckets []expiryBucket // ordered by start
	since   time.Time
	now     func() time.Time
	swept   int64
}

// expiryBucket holds the nonces expiring in [start, start+bucketSeconds).
type expiryBucket struct {
	start int64
	set   map[uint64]uint8 // hash -> expiry - start
}

// bucketSeconds is the expiry granularity of the maps.
const bucketSeconds = 10

// NewMemory returns an empty store.
func NewMemory() *Memory {
	return &Memory{seed: maphash.MakeSeed(), since: time.Now(), now: time.Now}
}

// Since returns when the store was created.
func (m *Memory) Since() time.Time { return m.since }

// liveLocked reports whether hash h is stored with an expiry after now.
func (m *Memory) liveLocked(h uint64, now int64) bool {
	for i := range m.buckets {
		b := &m.buckets[i]
		if b.start+bucketSeconds <= now {
			continue // entirely expired, not swept yet
		}
		if off, ok := b.set[h]; ok && b.start+int64(off) > now {
			return true
		}
	}
	return false
}

// Seen reports whether key is stored and not expired.
func (m *Memory) Seen(_ context.Context, key string) (bool, error) {
	now := m.now().Unix()
	h := maphash.String(m.seed, key)
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.liveLocked(h, now), nil
}

// Record stores key until the given time, unless it is already stored.
func (m *Memory) Record(_ context.Context, key string, until time.Time) (bool, error) {
	now := m.now().Unix()
	exp := until.Unix()
	h := maphash.String(m.seed, key)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked(now)
	if m.liveLocked(h, now) {
		return false, nil
	}
	if exp <= now {
		return true, nil // already expired: nothing to remember
	}
	start := exp - exp%bucketSeconds
	i := sort.Search(len(m.buckets), func(i int) bool { return m.buckets[i].start >= start })
	if i == len(m.buckets) || m.buckets[i].start != start {
		m.buckets = slices.Insert(m.buckets, i, expiryBucket{start: start, set: make(map[uint64]uint8)})
	}
	m.buckets[i].set[h] = uint8(exp - start)
	return true, nil
}

// Len returns the number of stored entries (expired ones not yet swept included).
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, b := range m.buckets {
		n += len(b.set)
	}
	return n
}

// sweepLocked drops the maps whose every entry has expired, once per
// bucketSeconds.
func (m *Memory) sweepLocked(now int64) {
	cur := now / bucketSeconds
	if cur == m.swept {
		return
	}
	m.swept = cur
	n := 0
	for n < len(m.buckets) && m.buckets[n].start+bucketSeconds <= cur*bucketSeconds {
		n++
	}
	if n > 0 {
		clear(m.buckets[:n])
		m.buckets = m.buckets[n:]
	}
}

// Package store holds the state behind application-link verification:
// replay (nonce) records, and later OAuth tokens. Its stores have no Caddy
// dependency; the Caddy glue shares one instance across config reloads.
package store

import (
	"context"
	"errors"
	"hash/maphash"
	"math/bits"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Memory is an in-process nonce store for a single instance. Entries expire
// at the time given to Record; memory is bounded by window x request rate.
// Its Since is its creation time: after a restart the verifier refuses
// requests signed before it, because their nonces were forgotten.
//
// Keys are kept as 64-bit keyed hashes (a random seed per store, so clients
// cannot aim for collisions). Each of memoryShards shards keeps one
// open-addressing table of 8-byte slots per 10 seconds of expiry, so a
// nonce costs about 14 bytes, the tables hold no pointers for the garbage
// collector to scan (large ones live outside the Go heap, see allocSlots),
// and expiry drops a whole table at once (no sweep stalls). A false
// "already seen" needs two live nonces to collide in 60 bits: about n/2^60
// a request.
type Memory struct {
	seed   maphash.Seed
	shards *[memoryShards]nonceShard // apart from Memory, for the cleanup
	since  time.Time
	now    func() time.Time
	swept  atomic.Int64 // now/bucketSeconds at the last sweep
}

// ErrClosed is returned by a closed store.
var ErrClosed = errors.New("nonce store closed")

// memoryShards splits the store so that a table that has to grow copies a
// sixteenth of a bucket, under a lock that a sixteenth of requests wait on.
const memoryShards = 16

type nonceShard struct {
	mu      sync.Mutex
	buckets []nonceTable // ordered by start
	closed  bool
	_       [24]byte // one shard per 64-byte cache line
}

// bucketSeconds is the expiry granularity of the tables.
const bucketSeconds = 10

// NewMemory returns an empty store. Close it to release its tables at
// once; otherwise they go when the store is garbage.
func NewMemory() *Memory {
	m := &Memory{seed: maphash.MakeSeed(), shards: new([memoryShards]nonceShard), since: time.Now(), now: time.Now}
	runtime.AddCleanup(m, closeShards, m.shards)
	return m
}

// Close releases the tables. Afterwards every call fails with ErrClosed.
func (m *Memory) Close() error {
	closeShards(m.shards)
	return nil
}

func closeShards(shards *[memoryShards]nonceShard) {
	for i := range shards {
		s := &shards[i]
		s.mu.Lock()
		for _, b := range s.buckets {
			b.free()
		}
		s.buckets, s.closed = nil, true
		s.mu.Unlock()
	}
}

// Since returns when the store was created.
func (m *Memory) Since() time.Time { return m.since }

func (m *Memory) shard(h uint64) *nonceShard { return &m.shards[h%memoryShards] }

// TableBytes returns the memory the tables take, on and off the Go heap.
func (m *Memory) TableBytes() int {
	return m.sumTables(func(t *nonceTable) int { return 8 * len(t.slots) })
}

// sumTables adds f over every table of every shard.
func (m *Memory) sumTables(f func(*nonceTable) int) int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		for j := range s.buckets {
			n += f(&s.buckets[j])
		}
		s.mu.Unlock()
	}
	return n
}

// Seen reports whether key is stored and not expired.
func (m *Memory) Seen(_ context.Context, key string) (bool, error) {
	now := m.now().Unix()
	h := maphash.String(m.seed, key)
	s := m.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, ErrClosed
	}
	return s.liveLocked(h, now), nil
}

// Record stores key until the given time, unless it is already stored.
func (m *Memory) Record(_ context.Context, key string, until time.Time) (bool, error) {
	now := m.now().Unix()
	exp := until.Unix()
	h := maphash.String(m.seed, key)
	m.sweep(now)
	s := m.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, ErrClosed
	}
	if s.liveLocked(h, now) {
		return false, nil
	}
	if exp <= now {
		return true, nil // already expired: nothing to remember
	}
	start := exp - exp%bucketSeconds
	i := sort.Search(len(s.buckets), func(i int) bool { return s.buckets[i].start >= start })
	if i == len(s.buckets) || s.buckets[i].start != start {
		s.buckets = slices.Insert(s.buckets, i, newNonceTable(start, s.sizeHint()))
	}
	s.buckets[i].insert(h, uint8(exp-start))
	return true, nil
}

// Len returns the number of stored entries (expired ones not yet swept included).
func (m *Memory) Len() int {
	return m.sumTables(func(t *nonceTable) int { return t.n })
}

// liveLocked reports whether hash h is stored with an expiry after now.
// Every live table is searched, not only the one h's expiry would pick:
// after a reload with another timestamp_window, the same nonce comes with
// another expiry.
func (s *nonceShard) liveLocked(h uint64, now int64) bool {
	for i := range s.buckets {
		b := &s.buckets[i]
		if b.start+bucketSeconds <= now {
			continue // entirely expired, not swept yet
		}
		if off, ok := b.lookup(h); ok && b.start+int64(off) > now {
			return true
		}
	}
	return false
}

// sizeHint sizes a new table for the fullest live one, so that steady
// traffic fills tables that never have to grow, and a few future-dated
// requests in a table of their own do not make the next one small.
func (s *nonceShard) sizeHint() int {
	n := 0
	for _, b := range s.buckets {
		n = max(n, b.n)
	}
	return max(minTableSlots, tableSlotsFor(n))
}

// sweep drops, in every shard, the tables whose every entry has expired;
// the first Record of each bucketSeconds does it.
func (m *Memory) sweep(now int64) {
	cur := now / bucketSeconds
	last := m.swept.Load()
	if cur == last || !m.swept.CompareAndSwap(last, cur) {
		return
	}
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		s.sweepLocked(cur)
		s.mu.Unlock()
	}
}

func (s *nonceShard) sweepLocked(cur int64) {
	n := 0
	for n < len(s.buckets) && s.buckets[n].start+bucketSeconds <= cur*bucketSeconds {
		n++
	}
	if n > 0 {
		for _, b := range s.buckets[:n] {
			b.free()
		}
		clear(s.buckets[:n])
		s.buckets = s.buckets[n:]
	}
}

// nonceTable is a linear-probing hash set of the nonces expiring in
// [start, start+bucketSeconds). A slot holds a hash with its low 4 bits
// replaced by 1 + the expiry's offset from start (0..9); 0 is an empty slot.
// The low bits are free because they picked the shard, which every hash in
// the table shares.
type nonceTable struct {
	start  int64
	slots  []uint64
	mapped bool // slots are outside the Go heap (allocSlots)
	n      int
	grown  int // times the table had to grow (for the tests)
}

func newNonceTable(start int64, slots int) nonceTable {
	t := nonceTable{start: start}
	t.slots, t.mapped = allocSlots(slots)
	return t
}

// free releases the slots; the table must not be used after.
func (t *nonceTable) free() {
	freeSlots(t.slots, t.mapped)
	t.slots = nil
}

const (
	offsetBits    = 4
	offsetMask    = 1<<offsetBits - 1
	minTableSlots = 64
)

// The low bits that pick the shard must be the ones a slot gives up.
var _ [offsetMask + 1 - memoryShards]struct{}

// tableSlotsFor returns a table size that holds n entries, plus a quarter
// for the next table's share of random variation, at a load of 3/4.
func tableSlotsFor(n int) int { return (n + n/4) * 4 / 3 }

// home returns h's first slot: the high bits of h scaled to the table.
// The offset bits are masked so that a hash and its slot value agree.
func (t *nonceTable) home(h uint64) int {
	hi, _ := bits.Mul64(h&^offsetMask, uint64(len(t.slots)))
	return int(hi)
}

// lookup returns h's expiry offset, if h is in the table.
func (t *nonceTable) lookup(h uint64) (uint8, bool) {
	for i := t.home(h); ; {
		v := t.slots[i]
		if v == 0 {
			return 0, false
		}
		if (v^h)&^offsetMask == 0 {
			return uint8(v&offsetMask) - 1, true
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
}

// insert adds h with expiry offset off, or updates its offset.
func (t *nonceTable) insert(h uint64, off uint8) {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.grow()
	}
	v := h&^offsetMask | uint64(off+1)
	for i := t.home(h); ; {
		switch cur := t.slots[i]; {
		case cur == 0:
			t.slots[i] = v
			t.n++
			return
		case (cur^h)&^offsetMask == 0:
			t.slots[i] = v
			return
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
}

// grow doubles the table.
func (t *nonceTable) grow() {
	old, oldMapped := t.slots, t.mapped
	defer freeSlots(old, oldMapped)
	t.grown++
	t.slots, t.mapped = allocSlots(max(minTableSlots, 2*len(old)))
	for _, v := range old {
		if v == 0 {
			continue
		}
		i := t.home(v)
		for t.slots[i] != 0 {
			if i++; i == len(t.slots) {
				i = 0
			}
		}
		t.slots[i] = v
	}
}

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

// Memory is an in-process nonce store for a single instance. Memory is
// bounded by window x request rate. Its Since is its creation time: after a
// restart the verifier refuses requests signed before it, because their
// nonces were forgotten. Since also moves when a reload lengthens the
// window (see Keep).
//
// Keys are kept as 64-bit keyed hashes (a random seed per store, so clients
// cannot aim for collisions). Each of memoryShards shards files them by
// stamp, in one open-addressing table of 8-byte slots per 10 seconds of
// stamps, so that a lookup searches one table however long the window is
// (by expiry, it would search every table: one cache miss each, 30 for
// the default window). A table lives until the latest expiry recorded in
// it, so a nonce is kept until its own expiry or a little longer; longer is
// never a wrong answer, since its key holds its stamp and only a replay
// can ask again. A nonce costs about 14 bytes, the tables hold no pointers
// for the garbage collector to scan (large ones live outside the Go heap,
// see allocSlots), and expiry drops a whole table at once (no sweep
// stalls). A false "already seen" needs two live nonces of the same ten
// seconds to collide in 60 bits: about n/2^60 a request.
type Memory struct {
	seed   maphash.Seed
	shards *[memoryShards]nonceShard // apart from Memory, for the cleanup
	since  time.Time
	now    func() time.Time
	swept  atomic.Int64 // now/bucketSeconds at the last sweep
	floor  atomic.Int64 // Unix seconds: nonces stamped before may be forgotten (Keep)
	hold   atomic.Int64 // seconds: every nonce is kept at least this long after its stamp (Keep)
	holdMu sync.Mutex
	holds  map[int64]int // the holds Keep registered, and how many times
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

// bucketSeconds is the span of stamps one table holds.
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

// Since returns when the store was created, or, once a reload has
// lengthened the window, the oldest stamp whose nonces the store still
// holds.
func (m *Memory) Since() time.Time {
	if f := m.floor.Load(); f > m.since.Unix() {
		return time.Unix(f, 0)
	}
	return m.since
}

// Floor returns the stamp before which a reload that lengthened the window
// may have forgotten nonces (zero if none has): Since without the store's
// start.
func (m *Memory) Floor() time.Time {
	if f := m.floor.Load(); f > 0 {
		return time.Unix(f, 0)
	}
	return time.Time{}
}

// Hold returns the longest hold registered with Keep (zero if none).
func (m *Memory) Hold() time.Duration { return time.Duration(m.hold.Load()) * time.Second }

func (m *Memory) shard(h uint64) *nonceShard { return &m.shards[h%memoryShards] }

// lockShard locks the shard of h, unless the store is closed (ErrClosed,
// nothing locked). The caller unlocks it.
func (m *Memory) lockShard(h uint64) (*nonceShard, error) {
	s := m.shard(h)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	return s, nil
}

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

// Seen reports whether key, stamped at stamp, is stored and not expired.
func (m *Memory) Seen(_ context.Context, key string, stamp int64) (bool, error) {
	now := m.now().Unix()
	h := maphash.String(m.seed, key)
	s, err := m.lockShard(h)
	if err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	_, _, live := s.lookupLocked(h, stamp, now)
	return live, nil
}

// Record stores key, stamped at stamp, at least until the given time,
// unless it is already stored.
func (m *Memory) Record(_ context.Context, key string, stamp int64, until time.Time) (bool, error) {
	now := m.now().Unix()
	exp := until.Unix()
	h := maphash.String(m.seed, key)
	m.sweep(now)
	s, err := m.lockShard(h)
	if err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	i, found, live := s.lookupLocked(h, stamp, now)
	if live {
		return false, nil
	}
	if exp <= now {
		return true, nil // already expired: nothing to remember
	}
	start := stamp - mod(stamp, bucketSeconds)
	switch {
	case !found:
		s.buckets = slices.Insert(s.buckets, i, newNonceTable(start, s.sizeHint()))
	case s.buckets[i].until <= now:
		// Expired, not swept yet: what it holds is forgotten, and must not
		// come back with the new expiry.
		s.buckets[i].free()
		s.buckets[i] = newNonceTable(start, s.sizeHint())
	}
	t := &s.buckets[i]
	t.until = max(t.until, exp)
	// Read under the shard's lock: Keep lengthens the tables after it
	// raised hold, shard by shard. With no hold registered (0), a stamp
	// alone must not keep a table.
	if hold := m.hold.Load(); hold > 0 {
		t.until = max(t.until, stamp+hold)
	}
	t.insert(h)
	return true, nil
}

// Keep registers a verifier that keeps each nonce for hold after its stamp
// (its window, and a second), until release is called. Every nonce is kept
// for the longest hold registered, so verifiers with different windows can
// share the store.
//
// When a reload lengthens the window, the new, longer hold accepts stamps
// whose nonces were kept for the old one only. Those already forgotten are
// stamped before now - old + 1, where the old window ended: Since moves
// there, so the verifier refuses them, as it would after a restart. Those
// still held are kept longer: every live table as long as the new hold asks
// for its latest stamp. A shorter hold changes nothing: what is stored
// stays until its own expiry.
func (m *Memory) Keep(hold time.Duration) (release func()) {
	sec := int64((hold + time.Second - 1) / time.Second)
	m.holdMu.Lock()
	defer m.holdMu.Unlock()
	if m.holds == nil {
		m.holds = map[int64]int{}
	}
	m.holds[sec]++
	if old := m.hold.Load(); sec > old {
		now := m.now().Unix()
		m.hold.Store(sec)
		if old > 0 {
			m.floor.Store(max(m.floor.Load(), now-old+1))
		}
		for i := range m.shards {
			s := &m.shards[i]
			s.mu.Lock()
			for j := range s.buckets {
				if t := &s.buckets[j]; t.until > now {
					t.until = max(t.until, t.start+bucketSeconds-1+sec)
				}
			}
			s.mu.Unlock()
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			m.holdMu.Lock()
			defer m.holdMu.Unlock()
			if m.holds[sec]--; m.holds[sec] == 0 {
				delete(m.holds, sec)
			}
			longest := int64(0)
			for h := range m.holds {
				longest = max(longest, h)
			}
			m.hold.Store(longest)
		})
	}
}

// Len returns the number of stored entries (expired ones not yet swept included).
func (m *Memory) Len() int {
	return m.sumTables(func(t *nonceTable) int { return t.n })
}

// find returns the index of the table of stamps from start, or where it
// would go.
func (s *nonceShard) find(start int64) (int, bool) {
	i := sort.Search(len(s.buckets), func(i int) bool { return s.buckets[i].start >= start })
	return i, i < len(s.buckets) && s.buckets[i].start == start
}

// lookupLocked finds the table of stamp's ten seconds (its index, or where
// it would go), and reports whether hash h is stored there and the table
// has not expired by now.
func (s *nonceShard) lookupLocked(h uint64, stamp, now int64) (i int, found, live bool) {
	i, found = s.find(stamp - mod(stamp, bucketSeconds))
	live = found && s.buckets[i].until > now && s.buckets[i].contains(h)
	return i, found, live
}

// mod is the remainder of a by b, which is positive, in [0, b) also for a
// negative a: a stamp before 1970 still files with its ten seconds.
func mod(a, b int64) int64 { return (a%b + b) % b }

// sizeHint sizes a new table for the fullest live one, so that steady
// traffic fills tables that never have to grow, and a few requests
// stamped far ahead in a table of their own do not make the next one
// small.
func (s *nonceShard) sizeHint() int {
	n := 0
	for _, b := range s.buckets {
		n = max(n, b.n)
	}
	return max(minTableSlots, tableSlotsFor(n))
}

// sweep drops, in every shard, the tables whose expiry has passed; the
// first Record of each bucketSeconds does it.
func (m *Memory) sweep(now int64) {
	cur := now / bucketSeconds
	last := m.swept.Load()
	if cur == last || !m.swept.CompareAndSwap(last, cur) {
		return
	}
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		s.sweepLocked(now)
		s.mu.Unlock()
	}
}

func (s *nonceShard) sweepLocked(now int64) {
	kept := s.buckets[:0]
	for _, b := range s.buckets {
		if b.until <= now {
			b.free()
			continue
		}
		kept = append(kept, b)
	}
	clear(s.buckets[len(kept):])
	s.buckets = kept
}

// nonceTable is a linear-probing hash set of the nonces stamped in
// [start, start+bucketSeconds). A slot holds a hash with its low 4 bits set
// to 1; 0 is an empty slot. The low bits are free because they picked the
// shard, which every hash in the table shares.
type nonceTable struct {
	start  int64
	until  int64 // the latest expiry recorded: the table lives until then
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
	shardBits     = 4
	shardMask     = 1<<shardBits - 1
	occupied      = 1 // a slot's low bits
	minTableSlots = 64
)

// The low bits that pick the shard must be the ones a slot gives up.
var _ [shardMask + 1 - memoryShards]struct{}

// tableSlotsFor returns a table size that holds n entries, plus a quarter
// for the next table's share of random variation, at a load of 3/4.
func tableSlotsFor(n int) int { return (n + n/4) * 4 / 3 }

// home returns h's first slot: the high bits of h scaled to the table.
// The shard bits are masked so that a hash and its slot value agree.
func (t *nonceTable) home(h uint64) int {
	hi, _ := bits.Mul64(h&^shardMask, uint64(len(t.slots)))
	return int(hi)
}

// contains reports whether h is in the table.
func (t *nonceTable) contains(h uint64) bool {
	for i := t.home(h); ; {
		v := t.slots[i]
		if v == 0 {
			return false
		}
		if (v^h)&^shardMask == 0 {
			return true
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
}

// insert adds h, unless it is in the table.
func (t *nonceTable) insert(h uint64) {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.grow()
	}
	v := h&^shardMask | occupied
	for i := t.home(h); ; {
		switch cur := t.slots[i]; {
		case cur == 0:
			t.slots[i] = v
			t.n++
			return
		case cur == v:
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

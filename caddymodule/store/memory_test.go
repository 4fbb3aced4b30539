package store

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/caddymodule/oauth1"
)

var _ oauth1.NonceStore = (*Memory)(nil)

// clock is an injectable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// tables counts the expiry tables of every shard.
func (m *Memory) tables() int {
	n := 0
	for i := range m.shards {
		n += len(m.shards[i].buckets)
	}
	return n
}

func newTestMemory(start int64) (*Memory, *clock) {
	c := &clock{t: time.Unix(start, 0)}
	m := NewMemory()
	m.now = c.now
	return m, c
}

var ctx = context.Background()

func mustSeen(t *testing.T, m *Memory, key string, want bool) {
	t.Helper()
	got, err := m.Seen(ctx, key)
	if err != nil || got != want {
		t.Fatalf("Seen(%q) = %v, %v; want %v", key, got, err, want)
	}
}

func mustRecord(t *testing.T, m *Memory, key string, until time.Time, want bool) {
	t.Helper()
	got, err := m.Record(ctx, key, until)
	if err != nil || got != want {
		t.Fatalf("Record(%q, %v) = %v, %v; want %v", key, until.Unix(), got, err, want)
	}
}

func TestMemoryRecordAndSeen(t *testing.T) {
	const t0 = 1_700_000_000
	m, _ := newTestMemory(t0)
	until := time.Unix(t0+300, 0)
	mustSeen(t, m, "a", false)
	mustRecord(t, m, "a", until, true)
	mustSeen(t, m, "a", true)
	mustRecord(t, m, "a", until, false)
	mustRecord(t, m, "a", until.Add(time.Hour), false) // a later expiry does not make it fresh
	mustSeen(t, m, "b", false)
	mustRecord(t, m, "b", until, true)
	// Keys are compared exactly.
	mustSeen(t, m, "A", false)
	mustSeen(t, m, "a\x00", false)
	mustSeen(t, m, "", false)
	mustRecord(t, m, "", until, true)
	mustSeen(t, m, "", true)
	if m.Len() != 3 {
		t.Errorf("Len() = %d, want 3", m.Len())
	}
}

func TestMemoryExpiry(t *testing.T) {
	const t0 = 1_700_000_000
	tests := []struct {
		name    string
		ttl     time.Duration
		elapsed time.Duration
		seen    bool
	}{
		{"fresh", 60 * time.Second, 0, true},
		{"one second before expiry", 60 * time.Second, 59 * time.Second, true},
		{"at expiry", 60 * time.Second, 60 * time.Second, false},
		{"after expiry", 60 * time.Second, 61 * time.Second, false},
		{"long after expiry", 60 * time.Second, time.Hour, false},
		{"until in the past", -time.Second, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, c := newTestMemory(t0)
			mustRecord(t, m, "k", c.now().Add(tt.ttl), true)
			c.advance(tt.elapsed)
			mustSeen(t, m, "k", tt.seen)
			// Once expired, the key may be recorded again.
			mustRecord(t, m, "k", c.now().Add(time.Minute), !tt.seen)
		})
	}
}

func TestMemorySweep(t *testing.T) {
	const t0 = 1_700_000_000 // a multiple of bucketSeconds
	m, c := newTestMemory(t0)
	// 100 keys expiring over 100 seconds.
	for i := range 100 {
		mustRecord(t, m, "k"+strconv.Itoa(i), time.Unix(t0+int64(i)+1, 0), true)
	}
	if m.Len() != 100 {
		t.Fatalf("Len() = %d", m.Len())
	}
	// 55 s later, keys 0..54 have expired (until <= now). The sweep runs on
	// the next Record in a new bucket and drops whole buckets that lie
	// entirely in the past: those of expiries t0+1..t0+49.
	c.advance(55 * time.Second)
	mustRecord(t, m, "trigger", c.now().Add(time.Hour), true)
	if got := m.Len(); got != 100-49+1 {
		t.Errorf("after the sweep Len() = %d, want %d", got, 100-49+1)
	}
	for i := range 100 {
		mustSeen(t, m, "k"+strconv.Itoa(i), i >= 55)
	}
	// Another Record in the same bucket does not sweep again (cheap path),
	// but does not resurrect anything either.
	before := m.Len()
	mustRecord(t, m, "trigger2", c.now().Add(time.Hour), true)
	if m.Len() != before+1 {
		t.Errorf("Len() = %d, want %d", m.Len(), before+1)
	}
	// Far in the future everything but the two triggers is gone.
	c.advance(10 * time.Minute)
	mustRecord(t, m, "trigger3", c.now().Add(time.Hour), true)
	if m.Len() != 3 {
		t.Errorf("Len() = %d, want 3", m.Len())
	}
	if n := m.tables(); n > 3 {
		t.Errorf("%d tables left, the old ones should be gone", n)
	}
}

func TestMemorySweepKeepsReRecordedKey(t *testing.T) {
	// A key that expired and was recorded again still sits in its old
	// bucket; sweeping that bucket must not delete the new entry.
	const t0 = 1_700_000_000
	m, c := newTestMemory(t0)
	mustRecord(t, m, "k", time.Unix(t0+5, 0), true)
	c.advance(6 * time.Second)
	mustRecord(t, m, "k", time.Unix(t0+600, 0), true)
	c.advance(30 * time.Second)
	mustRecord(t, m, "other", time.Unix(t0+600, 0), true) // sweeps the t0+5 bucket
	mustSeen(t, m, "k", true)
	mustRecord(t, m, "k", time.Unix(t0+600, 0), false)
}

func TestMemorySince(t *testing.T) {
	before := time.Now()
	m := NewMemory()
	after := time.Now()
	if s := m.Since(); s.Before(before) || s.After(after) {
		t.Errorf("Since() = %v, want between %v and %v", s, before, after)
	}
	// Since does not move with use.
	s := m.Since()
	_, _ = m.Record(ctx, "x", time.Now().Add(time.Minute))
	if m.Since() != s {
		t.Error("Since() changed")
	}
}

func TestMemoryConcurrentRecord(t *testing.T) {
	m := NewMemory()
	until := time.Now().Add(time.Minute)
	for round := range 20 {
		key := fmt.Sprintf("nonce-%d", round)
		var wins atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, _ = m.Seen(ctx, key)
				ok, err := m.Record(ctx, key, until)
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins.Add(1)
				}
				_ = m.Len()
			}()
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("round %d: %d goroutines recorded the same key, want exactly 1", round, wins.Load())
		}
	}
}

// TestMemoryWithVerifier checks the store in its real use: replay refused,
// a request signed before the store started refused.
func TestMemoryWithVerifier(t *testing.T) {
	const t0 = 1_700_000_000
	m, c := newTestMemory(t0)
	m.since = time.Unix(t0-60, 0)
	v := testVerifier(m)
	v.Now = c.now
	request := signedRequest
	// Inside the window, but signed before the store started: its nonce
	// may have been used with a previous instance.
	if _, p := v.Verify(ctx, request(t0-61, "n0")); p == nil || p.Code != oauth1.TimestampRefused {
		t.Fatalf("signed before the store started: %v, want timestamp_refused", p)
	}
	if _, p := v.Verify(ctx, request(t0-60, "n0")); p != nil {
		t.Fatalf("signed when the store started: %v", p)
	}
	r := request(t0, "n1")
	if res, p := v.Verify(ctx, r); p != nil || res.Mode != oauth1.Mode2LO {
		t.Fatalf("first request: %+v %v", res, p)
	}
	if _, p := v.Verify(ctx, r); p == nil || p.Code != oauth1.NonceUsed {
		t.Fatalf("replay: %v, want nonce_used", p)
	}
	// Still a replay 4 minutes later, inside the window.
	c.advance(4 * time.Minute)
	if _, p := v.Verify(ctx, r); p == nil || p.Code != oauth1.NonceUsed {
		t.Fatalf("replay after 4 min: %v, want nonce_used", p)
	}
	// After the window the timestamp, not the store, refuses it.
	c.advance(2 * time.Minute)
	if _, p := v.Verify(ctx, r); p == nil || p.Code != oauth1.TimestampRefused {
		t.Fatalf("replay after 6 min: %v, want timestamp_refused", p)
	}
}

func BenchmarkMemory(b *testing.B) {
	b.Run("Seen+Record", func(b *testing.B) {
		m := NewMemory()
		until := time.Now().Add(5 * time.Minute)
		keys := make([]string, 1<<16)
		for i := range keys {
			keys[i] = "jira:1234\x00\x001700000000\x00" + strconv.Itoa(i)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			k := keys[i%len(keys)]
			i++
			if seen, _ := m.Seen(ctx, k); !seen {
				_, _ = m.Record(ctx, k, until)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		m := NewMemory()
		until := time.Now().Add(5 * time.Minute)
		var n atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				k := "k" + strconv.FormatInt(n.Add(1), 10)
				_, _ = m.Seen(ctx, k)
				_, _ = m.Record(ctx, k, until)
			}
		})
	})
}

// BenchmarkMemoryBytesPerNonce reports what one recorded nonce costs: the
// tables (mostly outside the Go heap) plus what the heap grew by.
func BenchmarkMemoryBytesPerNonce(b *testing.B) {
	const n = 1_000_000
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		m := NewMemory()
		until := time.Now().Add(time.Hour)
		for i := 0; i < n; i++ {
			_, _ = m.Record(context.Background(), "bamboo:93f2\x00\x001795900000\x00nonce-"+strconv.Itoa(i), until)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)
		b.ReportMetric((heap+float64(m.TableBytes()))/n, "B/nonce")
		b.ReportMetric(max(0, heap)/n, "heap-B/nonce")
		runtime.KeepAlive(m)
		m.Close()
	}
}

// FuzzMemoryModel drives the store with a sequence of operations decoded
// from the input and checks every answer against a plain map of expiries.
// Each op is 3 bytes: kind, key, and a time argument.
func FuzzMemoryModel(f *testing.F) {
	f.Add([]byte{0, 1, 20, 0, 1, 20, 1, 1, 0, 2, 0, 25, 0, 1, 5})
	f.Add([]byte{0, 7, 255, 0, 8, 3, 2, 0, 200, 1, 7, 0, 0, 7, 1, 2, 0, 90, 1, 8, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		const t0 = 1_700_000_003
		m, c := newTestMemory(t0)
		model := map[string]int64{} // key -> expiry
		for len(ops) >= 3 {
			kind, key, arg := ops[0]%3, "k"+strconv.Itoa(int(ops[1]%32)), int64(ops[2])
			ops = ops[3:]
			now := c.now().Unix()
			live := model[key] > now
			switch kind {
			case 0: // Record until now + arg - 8 (some already expired)
				until := now + arg - 8
				got, err := m.Record(ctx, key, time.Unix(until, 0))
				if err != nil || got == live {
					t.Fatalf("Record(%s, now%+d) = %v, %v; model live=%v", key, until-now, got, err, live)
				}
				if !live && until > now {
					model[key] = until
				}
			case 1:
				if got, _ := m.Seen(ctx, key); got != live {
					t.Fatalf("Seen(%s) = %v, model %v", key, got, live)
				}
			case 2: // advance 0..255 s
				c.advance(time.Duration(arg) * time.Second)
			}
		}
		n := 0
		for _, exp := range model {
			if exp > c.now().Unix() {
				n++
			}
		}
		if l := m.Len(); l < n {
			t.Fatalf("Len() = %d, fewer than the %d live keys", l, n)
		}
	})
}

// TestNonceTableProbing fills one table with hashes that share their high
// bits, so that they all start probing at the same slot and wrap around
// the end, and checks that each is found with its own offset and that
// absent ones are not.
func TestNonceTableProbing(t *testing.T) {
	tb := nonceTable{slots: make([]uint64, minTableSlots)}
	const shardBits = 5 // every hash in a table shares its low 4 bits
	var hs []uint64
	for i := range uint64(1000) { // forces several doublings
		h := ^uint64(0)&^(1<<20-1) | i<<offsetBits | shardBits
		hs = append(hs, h)
		tb.insert(h, uint8(i%bucketSeconds))
	}
	if tb.n != len(hs) {
		t.Fatalf("n = %d, want %d", tb.n, len(hs))
	}
	if tb.n*4 > len(tb.slots)*3 {
		t.Fatalf("load %d/%d above 3/4", tb.n, len(tb.slots))
	}
	for i, h := range hs {
		off, ok := tb.lookup(h)
		if !ok || off != uint8(i%bucketSeconds) {
			t.Fatalf("lookup(#%d) = %d, %v", i, off, ok)
		}
	}
	// An update keeps the count and changes the offset.
	tb.insert(hs[3], 9)
	if off, _ := tb.lookup(hs[3]); off != 9 || tb.n != len(hs) {
		t.Fatalf("after update: offset %d, n %d", off, tb.n)
	}
	for i := uint64(1000); i < 1100; i++ {
		if _, ok := tb.lookup(^uint64(0)&^(1<<20-1) | i<<offsetBits | shardBits); ok {
			t.Fatalf("absent hash #%d found", i)
		}
	}
}

// TestMemoryTablesPresized checks that steady traffic fills tables sized
// for it: after the first, no table grows (a grow would copy under the
// shard lock, a latency spike).
func TestMemoryTablesPresized(t *testing.T) {
	const t0 = 1_700_000_000
	m, c := newTestMemory(t0)
	seq := 0
	for range 40 { // 40 s at 1600 nonces a second
		for range 1600 {
			seq++
			mustRecord(t, m, "n"+strconv.Itoa(seq), c.now().Add(5*time.Minute), true)
		}
		c.advance(time.Second)
	}
	for i := range m.shards {
		b := m.shards[i].buckets
		if len(b) < 4 {
			t.Fatalf("shard %d has %d tables", i, len(b))
		}
		// Tables after the first were made with room for the first's count.
		for _, tb := range b[1 : len(b)-1] {
			if want := tableSlotsFor(b[0].n); tb.grown > 0 || len(tb.slots) < want*9/10 || len(tb.slots) > want*3/2 {
				t.Errorf("shard %d: table of %d slots grown %d times for %d entries; the first held %d", i, len(tb.slots), tb.grown, tb.n, b[0].n)
			}
		}
	}
}

// TestMemoryClose checks that a closed store refuses (fail closed) rather
// than touching released tables, and that Close may be called twice.
func TestMemoryClose(t *testing.T) {
	m := NewMemory()
	until := time.Now().Add(time.Minute)
	for i := range 100_000 { // large tables: mapped outside the heap
		mustRecord(t, m, "k"+strconv.Itoa(i), until, true)
	}
	if m.TableBytes() < 100_000*8 {
		t.Fatalf("tables take %d bytes for 100000 nonces", m.TableBytes())
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Record(ctx, "k1", until); err != ErrClosed {
		t.Errorf("Record after Close: %v, want ErrClosed", err)
	}
	if _, err := m.Seen(ctx, "k1"); err != ErrClosed {
		t.Errorf("Seen after Close: %v, want ErrClosed", err)
	}
	if m.Len() != 0 || m.TableBytes() != 0 {
		t.Errorf("after Close: Len %d, TableBytes %d", m.Len(), m.TableBytes())
	}
	_ = m.Close()
}

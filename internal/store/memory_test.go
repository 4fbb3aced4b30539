package store

import (
	"context"
	"fmt"
	"hash/maphash"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

var _ oauth1.NonceStore = (*Memory)(nil)

// tables counts the tables of every shard.
func (m *Memory) tables() int {
	n := 0
	for i := range m.shards {
		n += len(m.shards[i].buckets)
	}
	return n
}

func newTestMemory(start int64) (*Memory, *testkit.Clock) {
	c := testkit.NewClock(time.Unix(start, 0))
	m := NewMemory()
	m.now = c.Now
	return m, c
}

var ctx = context.Background()

func mustSeen(t *testing.T, m *Memory, key string, stamp int64, want bool) {
	t.Helper()
	got, err := m.Seen(ctx, key, stamp)
	if err != nil || got != want {
		t.Fatalf("Seen(%q, %d) = %v, %v; want %v", key, stamp, got, err, want)
	}
}

func mustRecord(t *testing.T, m *Memory, key string, stamp int64, until time.Time, want bool) {
	t.Helper()
	got, err := m.Record(ctx, key, stamp, until)
	if err != nil || got != want {
		t.Fatalf("Record(%q, %d, %v) = %v, %v; want %v", key, stamp, until.Unix(), got, err, want)
	}
}

func TestMemoryRecordAndSeen(t *testing.T) {
	const t0 = 1_700_000_000
	m, _ := newTestMemory(t0)
	until := time.Unix(t0+300, 0)
	mustSeen(t, m, "a", t0, false)
	mustRecord(t, m, "a", t0, until, true)
	mustSeen(t, m, "a", t0, true)
	mustRecord(t, m, "a", t0, until, false)
	mustRecord(t, m, "a", t0, until.Add(time.Hour), false) // a later expiry does not make it fresh
	mustSeen(t, m, "b", t0, false)
	mustRecord(t, m, "b", t0, until, true)
	// Keys are compared exactly.
	mustSeen(t, m, "A", t0, false)
	mustSeen(t, m, "a\x00", t0, false)
	mustSeen(t, m, "", t0, false)
	mustRecord(t, m, "", t0, until, true)
	mustSeen(t, m, "", t0, true)
	if m.Len() != 3 {
		t.Errorf("Len() = %d, want 3", m.Len())
	}
	// Stamps before 1970 and far ahead file like any other.
	for _, stamp := range []int64{-1, -10, -11, 1 << 40} {
		key := "s" + strconv.FormatInt(stamp, 10)
		mustRecord(t, m, key, stamp, until, true)
		mustSeen(t, m, key, stamp, true)
		mustRecord(t, m, key, stamp, until, false)
	}
}

// TestMemoryFilesByStamp checks what filing by stamp means: a key is found
// with its own stamp, in one table per ten seconds of stamps, whatever the
// expiries; and it is kept until the latest expiry of its ten seconds,
// which is never earlier than its own.
func TestMemoryFilesByStamp(t *testing.T) {
	const t0 = 1_700_000_000 // a multiple of bucketSeconds
	m, c := newTestMemory(t0)
	for i := range int64(30) { // stamps t0-15..t0+14: four tables of stamps
		mustRecord(t, m, "k"+strconv.FormatInt(i, 10), t0-15+i, time.Unix(t0+60, 0), true)
	}
	for i := range m.shards {
		for _, b := range m.shards[i].buckets {
			if b.start != t0-20 && b.start != t0-10 && b.start != t0 && b.start != t0+10 {
				t.Fatalf("a table of stamps from %d", b.start-t0)
			}
		}
	}
	for i := range int64(30) {
		mustSeen(t, m, "k"+strconv.FormatInt(i, 10), t0-15+i, true)
	}
	// A key asked with a stamp from another ten seconds is not found: the
	// verifier always asks with the stamp the key holds.
	mustSeen(t, m, "k0", t0+100, false)

	// Two keys of the same ten seconds and shard, one kept 10 s, one 300 s
	// (a reload that lengthened the window): the first is kept as long as
	// the second.
	long := sameShard(m, "short")
	mustRecord(t, m, "short", t0+20, time.Unix(t0+10, 0), true)
	mustRecord(t, m, long, t0+21, time.Unix(t0+300, 0), true)
	c.Add(100 * time.Second)
	mustSeen(t, m, "short", t0+20, true)
	mustSeen(t, m, long, t0+21, true)
	// At t0+100 the tables of the first 30 keys (until t0+60) are gone.
	mustRecord(t, m, "sweep", t0+100, time.Unix(t0+400, 0), true)
	mustSeen(t, m, "k29", t0+14, false)
	if n := m.Len(); n != 3 {
		t.Errorf("Len() = %d after the sweep, want 3", n)
	}
}

// sameShard returns a key that files in the same shard as key.
func sameShard(m *Memory, key string) string {
	for i := 0; ; i++ {
		k := key + "-" + strconv.Itoa(i)
		if m.shard(maphash.String(m.seed, k)) == m.shard(maphash.String(m.seed, key)) {
			return k
		}
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
			mustRecord(t, m, "k", t0, c.Now().Add(tt.ttl), true)
			c.Add(tt.elapsed)
			mustSeen(t, m, "k", t0, tt.seen)
			// Once expired, the key may be recorded again.
			mustRecord(t, m, "k", t0, c.Now().Add(time.Minute), !tt.seen)
		})
	}
}

func TestMemorySweep(t *testing.T) {
	const t0 = 1_700_000_000 // a multiple of bucketSeconds
	m, c := newTestMemory(t0)
	// 100 keys stamped a second apart, each kept 301 s, as the verifier
	// does with a 5-minute window: expiries t0+1..t0+100.
	stamp := func(i int) int64 { return t0 - 300 + int64(i) }
	for i := range 100 {
		mustRecord(t, m, "k"+strconv.Itoa(i), stamp(i), time.Unix(stamp(i)+301, 0), true)
	}
	if m.Len() != 100 {
		t.Fatalf("Len() = %d", m.Len())
	}
	// 55 s later, keys 0..54 have expired. A table goes when the latest
	// expiry in it has passed: keys 0..49 go; keys 50..54 share tables
	// with keys 55..59 of their shard, if there are any, which live until
	// t0+56..t0+60. The sweep runs on the next Record in a new ten seconds.
	c.Add(55 * time.Second)
	mustRecord(t, m, "trigger", t0+55, c.Now().Add(time.Hour), true)
	if got := m.Len(); got < 100-55+1 || got > 100-50+1 {
		t.Errorf("after the sweep Len() = %d, want %d to %d", got, 100-55+1, 100-50+1)
	}
	for i := range 100 {
		if i < 50 || i >= 55 {
			mustSeen(t, m, "k"+strconv.Itoa(i), stamp(i), i >= 55)
		}
	}
	// Another Record in the same ten seconds does not sweep again (cheap
	// path), but does not resurrect anything either.
	before := m.Len()
	mustRecord(t, m, "trigger2", t0+55, c.Now().Add(time.Hour), true)
	if m.Len() != before+1 {
		t.Errorf("Len() = %d, want %d", m.Len(), before+1)
	}
	// Far in the future everything but the triggers is gone.
	c.Add(10 * time.Minute)
	mustRecord(t, m, "trigger3", t0+655, c.Now().Add(time.Hour), true)
	if m.Len() != 3 {
		t.Errorf("Len() = %d, want 3", m.Len())
	}
	if n := m.tables(); n > 3 {
		t.Errorf("%d tables left, the old ones should be gone", n)
	}
}

func TestMemoryReRecordAfterExpiry(t *testing.T) {
	// A key whose table expired (not swept yet) is recorded again: it gets
	// a fresh table, which a later sweep keeps, and nothing that table
	// held before comes back with the new expiry.
	const t0 = 1_700_000_000
	m, c := newTestMemory(t0)
	mustRecord(t, m, "k", t0, time.Unix(t0+5, 0), true)
	for i := range 64 { // every shard holds one, in the table of stamps from t0
		mustRecord(t, m, "old"+strconv.Itoa(i), t0, time.Unix(t0+5, 0), true)
	}
	c.Add(6 * time.Second)
	mustRecord(t, m, "k", t0, time.Unix(t0+600, 0), true)
	for i := range 64 {
		mustRecord(t, m, "new"+strconv.Itoa(i), t0, time.Unix(t0+600, 0), true)
	}
	for i := range 64 {
		mustSeen(t, m, "old"+strconv.Itoa(i), t0, false)
	}
	c.Add(30 * time.Second)
	mustRecord(t, m, "other", t0+36, time.Unix(t0+600, 0), true) // sweeps
	mustSeen(t, m, "k", t0, true)
	mustRecord(t, m, "k", t0, time.Unix(t0+600, 0), false)
	if n := m.Len(); n != 1+64+1 {
		t.Errorf("Len() = %d, want %d", n, 1+64+1)
	}
}

// TestMemoryKeep: a reload lengthens the window from 60 s to 300 s at
// t0+70. The new verifier accepts stamps from t0-230, but the store kept
// nonces 61 s after their stamp. Those it forgot must be refused by stamp
// (Since), those it still holds must be kept for the new window, and so
// must those the old configuration records while the two overlap.
func TestMemoryKeep(t *testing.T) {
	const t0 = 1_700_000_000
	m, c := newTestMemory(t0)
	m.since = time.Unix(t0-1000, 0)
	oldRelease := m.Keep(61 * time.Second)
	record := func(key string, stamp int64, hold int64) {
		t.Helper()
		mustRecord(t, m, key, stamp, time.Unix(stamp+hold, 0), true)
	}
	record("forgotten", t0, 61)
	record("held", t0+50, 61)
	c.Add(70 * time.Second)
	mustSeen(t, m, "forgotten", t0, false)
	if got := m.Since(); !got.Equal(time.Unix(t0-1000, 0)) {
		t.Fatalf("Since() = %d before the reload", got.Unix()-t0)
	}

	newRelease := m.Keep(301 * time.Second)
	// The old window reached back to t0+70-60 = t0+10 (a nonce stamped
	// t0+10 is kept until t0+71): stamps before are refused.
	if got := m.Since(); !got.Equal(time.Unix(t0+10, 0)) {
		t.Errorf("Since() = t0%+d after the window grew, want t0+10", got.Unix()-t0)
	}
	record("overlap", t0+69, 61) // a request the old configuration still serves
	oldRelease()
	oldRelease()             // a second release is harmless
	c.Add(200 * time.Second) // t0+270: the old hold has passed for both
	mustSeen(t, m, "held", t0+50, true)
	mustSeen(t, m, "overlap", t0+69, true)
	mustRecord(t, m, "held", t0+50, time.Unix(t0+50+301, 0), false)
	c.Add(150 * time.Second) // t0+420: the new hold has passed too
	mustSeen(t, m, "held", t0+50, false)

	// A shorter window changes nothing that is stored, nor Since.
	since := m.Since()
	shortRelease := m.Keep(31 * time.Second)
	if !m.Since().Equal(since) {
		t.Errorf("a shorter window moved Since to t0%+d", m.Since().Unix()-t0)
	}
	// With both registered, nonces are kept for the longer; once the
	// longer is released, for the shorter: a later lengthening starts
	// from there.
	record("both", t0+420, 31)
	c.Add(100 * time.Second)
	mustSeen(t, m, "both", t0+420, true)
	newRelease()
	if got := m.hold.Load(); got != 31 {
		t.Errorf("hold %d after the longer window was released, want 31", got)
	}
	c.Add(10 * time.Second)
	m.Keep(301 * time.Second)
	if got, want := m.Since().Unix(), int64(t0+530-31+1); got != want {
		t.Errorf("Since() = t0%+d after lengthening from 31 s, want t0%+d", got-t0, want-t0)
	}
	shortRelease()
}

// TestMemoryKeepConcurrent lengthens the window while 8 goroutines record
// with the old hold, as the old configuration's requests do during a reload,
// into new tables all along (a new ten seconds of stamps every 100
// records): every nonce is kept for the new hold, whether Keep found its
// table or its Record made the table after.
func TestMemoryKeepConcurrent(t *testing.T) {
	const t0 = 1_700_000_000
	const workers, each = 8, 2000
	for round := range 10 {
		m, c := newTestMemory(t0)
		release := m.Keep(61 * time.Second)
		var done atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w := range workers {
			wg.Go(func() {
				<-start
				for i := range each {
					stamp := int64(t0 + 10*(i/100))
					mustRecord(t, m, fmt.Sprintf("r%d-w%d-%d", round, w, i), stamp, time.Unix(stamp+61, 0), true)
					done.Add(1)
				}
			})
		}
		close(start)
		for done.Load() < workers*each/2 {
			runtime.Gosched()
		}
		m.Keep(301 * time.Second)
		release()
		wg.Wait()
		// Every stamp's old hold has passed (t0+190+61 < t0+252); no
		// table's new one has (t0+0+9+301 > t0+252).
		c.Add(252 * time.Second)
		for w := range workers {
			for i := range each {
				mustSeen(t, m, fmt.Sprintf("r%d-w%d-%d", round, w, i), int64(t0+10*(i/100)), true)
			}
		}
		m.Close()
	}
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
	_, _ = m.Record(ctx, "x", time.Now().Unix(), time.Now().Add(time.Minute))
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
				_, _ = m.Seen(ctx, key, 7)
				ok, err := m.Record(ctx, key, 7, until)
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
	v.Now = c.Now
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
	c.Add(4 * time.Minute)
	if _, p := v.Verify(ctx, r); p == nil || p.Code != oauth1.NonceUsed {
		t.Fatalf("replay after 4 min: %v, want nonce_used", p)
	}
	// After the window the timestamp, not the store, refuses it.
	c.Add(2 * time.Minute)
	if _, p := v.Verify(ctx, r); p == nil || p.Code != oauth1.TimestampRefused {
		t.Fatalf("replay after 6 min: %v, want timestamp_refused", p)
	}
}

func BenchmarkMemory(b *testing.B) {
	b.Run("Seen+Record", func(b *testing.B) {
		m := NewMemory()
		stamp := time.Now().Unix()
		until := time.Unix(stamp, 0).Add(5 * time.Minute)
		keys := make([]string, 1<<16)
		for i := range keys {
			keys[i] = "jira:1234\x00\x001700000000\x00" + strconv.Itoa(i)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			k := keys[i%len(keys)]
			i++
			if seen, _ := m.Seen(ctx, k, stamp); !seen {
				_, _ = m.Record(ctx, k, stamp, until)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		m := NewMemory()
		stamp := time.Now().Unix()
		until := time.Unix(stamp, 0).Add(5 * time.Minute)
		var n atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				k := "k" + strconv.FormatInt(n.Add(1), 10)
				_, _ = m.Seen(ctx, k, stamp)
				_, _ = m.Record(ctx, k, stamp, until)
			}
		})
	})
	// steady: the store of a proxy that has taken rate requests a second
	// for a whole window, stamped as they came; each op is a new nonce's
	// Seen and Record. Its cost should not grow with the window.
	for _, sc := range []struct {
		rate   int
		window time.Duration
	}{{4000, 5 * time.Minute}, {1000, 20 * time.Minute}} {
		b.Run(fmt.Sprintf("steady-%d/s-window-%s", sc.rate, sc.window), func(b *testing.B) {
			const t0 = 1_700_000_000
			m, _ := newTestMemory(t0)
			defer m.Close()
			hold := int64(sc.window/time.Second) + 1
			for ts := t0 - hold + 1; ts <= t0; ts++ {
				prefix := "bamboo\x00\x00" + strconv.FormatInt(ts, 10) + "\x00"
				for i := range sc.rate {
					_, _ = m.Record(ctx, prefix+strconv.Itoa(i), ts, time.Unix(ts+hold, 0))
				}
			}
			prefix := "bamboo\x00\x00" + strconv.Itoa(t0) + "\x00new-"
			until := time.Unix(t0+hold, 0)
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				k := prefix + strconv.Itoa(i)
				i++
				if seen, _ := m.Seen(ctx, k, t0); !seen {
					_, _ = m.Record(ctx, k, t0, until)
				}
			}
		})
	}
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
		// Stamped as they would come over five minutes, kept an hour.
		stamp, until := time.Now().Unix(), time.Now().Add(time.Hour)
		for i := 0; i < n; i++ {
			_, _ = m.Record(context.Background(), "bamboo:93f2\x00\x001795900000\x00nonce-"+strconv.Itoa(i), stamp+int64(i/(n/300)), until)
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
// from the input and checks every answer against a model: per shard and
// ten seconds of stamps, the keys recorded and the latest expiry. It also checks the
// contract the verifier relies on, that a key is seen at least until its
// own expiry. Each op is 3 bytes: kind, key, and a time argument. The 32
// keys are stamped over 29 seconds, in four tables.
func FuzzMemoryModel(f *testing.F) {
	f.Add([]byte{0, 1, 20, 0, 1, 20, 1, 1, 0, 2, 0, 25, 0, 1, 5})
	f.Add([]byte{0, 7, 255, 0, 8, 3, 2, 0, 200, 1, 7, 0, 0, 7, 1, 2, 0, 90, 1, 8, 0})
	f.Add([]byte{0, 0, 12, 0, 8, 200, 2, 0, 30, 1, 0, 0, 0, 0, 9, 1, 8, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		const t0 = 1_700_000_003
		m, c := newTestMemory(t0)
		type table struct {
			until int64
			keys  map[string]bool
		}
		type where struct{ shard, start int64 }
		tables := map[where]*table{}
		own := map[string]int64{} // key -> the expiry it was recorded with
		for len(ops) >= 3 {
			k, arg := int64(ops[1]%32), int64(ops[2])
			kind, key, stamp := ops[0]%3, "k"+strconv.FormatInt(k, 10), t0-10+k%8*4
			ops = ops[3:]
			now := c.Now().Unix()
			at := where{int64(maphash.String(m.seed, key) % memoryShards), stamp - mod(stamp, bucketSeconds)}
			tb := tables[at]
			if tb == nil {
				tb = &table{keys: map[string]bool{}}
				tables[at] = tb
			}
			live := tb.until > now && tb.keys[key]
			if own[key] > now && !live {
				t.Fatalf("model: %s forgotten before its expiry", key)
			}
			switch kind {
			case 0: // Record until now + arg - 8 (some already expired)
				until := now + arg - 8
				got, err := m.Record(ctx, key, stamp, time.Unix(until, 0))
				if err != nil || got == live {
					t.Fatalf("Record(%s, now%+d) = %v, %v; model live=%v", key, until-now, got, err, live)
				}
				if !live && until > now {
					if tb.until <= now {
						tb.keys = map[string]bool{}
					}
					tb.until = max(tb.until, until)
					tb.keys[key] = true
					own[key] = until
				}
			case 1:
				if got, _ := m.Seen(ctx, key, stamp); got != live {
					t.Fatalf("Seen(%s) = %v, model %v", key, got, live)
				}
			case 2: // advance 0..255 s
				c.Add(time.Duration(arg) * time.Second)
			}
		}
		n := 0
		for _, tb := range tables {
			if tb.until > c.Now().Unix() {
				n += len(tb.keys)
			}
		}
		if l := m.Len(); l < n {
			t.Fatalf("Len() = %d, fewer than the %d live keys", l, n)
		}
	})
}

// TestNonceTableProbing fills one table with hashes that share their high
// bits, so that they all start probing at the same slot and wrap around
// the end, and checks that each is found and that absent ones are not.
func TestNonceTableProbing(t *testing.T) {
	tb := nonceTable{slots: make([]uint64, minTableSlots)}
	const shard = 5 // every hash in a table shares its low 4 bits
	var hs []uint64
	for i := range uint64(1000) { // forces several doublings
		h := ^uint64(0)&^(1<<20-1) | i<<shardBits | shard
		hs = append(hs, h)
		tb.insert(h)
	}
	if tb.n != len(hs) || tb.grown < 4 {
		t.Fatalf("n = %d, grown %d times; want %d, at least 4", tb.n, tb.grown, len(hs))
	}
	if tb.n*4 > len(tb.slots)*3 {
		t.Fatalf("load %d/%d above 3/4", tb.n, len(tb.slots))
	}
	for i, h := range hs {
		if !tb.contains(h) {
			t.Fatalf("hash #%d not found", i)
		}
	}
	// Inserting a hash again keeps the count.
	tb.insert(hs[3])
	if tb.n != len(hs) {
		t.Fatalf("after a second insert: n %d", tb.n)
	}
	for i := uint64(1000); i < 1100; i++ {
		if tb.contains(^uint64(0)&^(1<<20-1) | i<<shardBits | shard) {
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
			mustRecord(t, m, "n"+strconv.Itoa(seq), c.Now().Unix(), c.Now().Add(5*time.Minute), true)
		}
		c.Add(time.Second)
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
		mustRecord(t, m, "k"+strconv.Itoa(i), 7, until, true)
	}
	if m.TableBytes() < 100_000*8 {
		t.Fatalf("tables take %d bytes for 100000 nonces", m.TableBytes())
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Record(ctx, "k1", 7, until); err != ErrClosed {
		t.Errorf("Record after Close: %v, want ErrClosed", err)
	}
	if _, err := m.Seen(ctx, "k1", 7); err != ErrClosed {
		t.Errorf("Seen after Close: %v, want ErrClosed", err)
	}
	if m.Len() != 0 || m.TableBytes() != 0 {
		t.Errorf("after Close: Len %d, TableBytes %d", m.Len(), m.TableBytes())
	}
	_ = m.Close()
}

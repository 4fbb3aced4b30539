package main

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond // 1ms..100ms
	}
	for _, tc := range []struct {
		vals []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{[]time.Duration{7}, 1, 7},
		{[]time.Duration{7}, 99, 7},
		{hundred, 50, 50 * time.Millisecond},
		{hundred, 99, 99 * time.Millisecond},
		{hundred, 99.9, 100 * time.Millisecond},
		{hundred, 100, 100 * time.Millisecond},
		{hundred, 1, 1 * time.Millisecond},
		{hundred, 0.5, 1 * time.Millisecond},
		{hundred, 0, 1 * time.Millisecond},
		{hundred, 50.5, 51 * time.Millisecond},
		// Nearest rank: p50 of 1..4 is 2 (2 of 4 values are <= 2), p51 is 3.
		{[]time.Duration{1, 2, 3, 4}, 50, 2},
		{[]time.Duration{1, 2, 3, 4}, 51, 3},
		{[]time.Duration{1, 2, 3, 4}, 75, 3},
		{[]time.Duration{1, 2, 3, 4}, 76, 4},
		// p99 of 1000 values is the 990th.
		{seq(1000), 99, 990},
		{seq(1000), 99.9, 999},
		{seq(1001), 99, 991}, // ceil(990.99)
	} {
		if got := percentile(tc.vals, tc.p); got != tc.want {
			t.Errorf("percentile(%d values, %v) = %v, want %v", len(tc.vals), tc.p, got, tc.want)
		}
	}
}

// TestPercentileDefinition checks the defining property on random data: at
// least p% of the values are <= the result, and fewer than p% are < it.
func TestPercentileDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		n := 1 + r.IntN(500)
		vals := make([]time.Duration, n)
		for i := range vals {
			vals[i] = time.Duration(r.IntN(50))
		}
		slices.Sort(vals)
		p := []float64{1, 10, 50, 90, 99, 99.9}[r.IntN(6)]
		got := percentile(vals, p)
		le, lt := 0, 0
		for _, v := range vals {
			if v <= got {
				le++
			}
			if v < got {
				lt++
			}
		}
		if float64(le) < p/100*float64(n)-1e-9 || float64(lt) >= p/100*float64(n) {
			t.Fatalf("p%v of %v = %v: %d <=, %d <", p, vals, got, le, lt)
		}
	}
}

func TestMergeSorts(t *testing.T) {
	got := merge([][]time.Duration{{5, 1}, nil, {3, 2, 4}})
	if !slices.Equal(got, []time.Duration{1, 2, 3, 4, 5}) {
		t.Fatalf("merge = %v", got)
	}
}

func seq(n int) []time.Duration {
	s := make([]time.Duration, n)
	for i := range s {
		s[i] = time.Duration(i + 1)
	}
	return s
}

func TestMedianTurnDifference(t *testing.T) {
	msList := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	// One stalled turn of a (165 ms) lowers one difference, not the median.
	a := &summary{turnP99: msList(6, 7, 165, 8, 6)}
	b := &summary{turnP99: msList(7, 9, 78, 9, 8)}
	med, lo, hi, n := medianTurnDifference(a, b)
	if n != 5 || med != 1*time.Millisecond || lo != -87*time.Millisecond || hi != 2*time.Millisecond {
		t.Errorf("odd: median %v, range %v to %v over %d", med, lo, hi, n)
	}
	// An even count takes the mean of the middle two; unequal lengths pair
	// the turns both have.
	a = &summary{turnP99: msList(5, 5, 5, 5, 9)}
	b = &summary{turnP99: msList(6, 8, 7, 9)}
	if med, _, _, n := medianTurnDifference(a, b); n != 4 || med != 2500*time.Microsecond {
		t.Errorf("even: median %v over %d, want 2.5ms over 4", med, n)
	}
	if _, _, _, n := medianTurnDifference(&summary{}, b); n != 0 {
		t.Errorf("no turns: n = %d", n)
	}
}

func TestPoolTimestamps(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	up := now.Add(-5 * time.Second)
	for _, tc := range []struct {
		signing, use time.Duration
		ahead        bool
	}{
		{3 * time.Minute, 125 * time.Second, false},
		{4 * time.Minute, 163 * time.Second, false},
		{time.Second, 10 * time.Second, false},
		{5 * time.Minute, 7 * time.Minute, true},
	} {
		ts, spread, ahead := poolTimestamps(now, up, tc.signing, tc.use)
		if ahead != tc.ahead {
			t.Errorf("signing %s, use %s: ahead = %v, want %v", tc.signing, tc.use, ahead, tc.ahead)
			continue
		}
		first, last := ts-spread/2, ts-spread/2+spread-1 // as presignRSA stamps them
		if first <= up.Unix() {
			t.Errorf("signing %s, use %s: stamp %d not after the proxies started (%d)", tc.signing, tc.use, first, up.Unix())
		}
		if ahead {
			continue
		}
		// Past at the earliest first use, in the window at the latest last use.
		if firstUse := now.Add(tc.signing * 9 / 10).Unix(); last >= firstUse {
			t.Errorf("signing %s, use %s: stamp %d is not past at the first use (%d)", tc.signing, tc.use, last, firstUse)
		}
		if lastUse := now.Add(tc.signing*11/10 + tc.use).Unix(); first < lastUse-300 {
			t.Errorf("signing %s, use %s: stamp %d is out of the window at the last use (%d)", tc.signing, tc.use, first, lastUse)
		}
	}
}

// TestCycle: the plain phases get the pool's requests in turn, and again
// from the start once it is used up, never nil.
func TestCycle(t *testing.T) {
	c := &cycle{reqs: [][]byte{[]byte("a"), []byte("b"), []byte("c")}}
	var got string
	for range 7 {
		got += string(c.next())
	}
	if got != "abcabca" {
		t.Errorf("cycle handed out %q, want abcabca", got)
	}
}

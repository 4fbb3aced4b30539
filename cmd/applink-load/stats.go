package main

import (
	"fmt"
	"slices"
	"time"
)

// percentile returns the p-th percentile (0 < p <= 100) of sorted, by the
// nearest-rank method: the smallest value such that at least p% of the
// values are less than or equal to it. It returns 0 for no values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	if p >= 100 {
		return sorted[n-1]
	}
	// rank = ceil(p/100 * n), computed in integers where p has at most
	// three decimals, so that 99% of 100 is exactly rank 99.
	milli := int64(p*1000 + 0.5)
	rank := int((milli*int64(n) + 100_000 - 1) / 100_000)
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

// summary is the outcome of one timed phase.
type summary struct {
	name     string
	requests int64 // answered with the expected status
	failures int64 // any other status, or an I/O error
	elapsed  time.Duration
	lat      []time.Duration // sorted
	target   float64         // open loop: the offered rate
	cpu      time.Duration   // the proxy's CPU time in the measured window
	note     string
	turnP99  []time.Duration // each alternating turn's own p99, in turn order
}

// cpuPerRequest is the proxy's CPU time per answered request.
func (s *summary) cpuPerRequest() time.Duration {
	if s.requests == 0 {
		return 0
	}
	return s.cpu / time.Duration(s.requests)
}

func (s *summary) rate() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(s.requests) / s.elapsed.Seconds()
}

func (s *summary) p(q float64) time.Duration { return percentile(s.lat, q) }

// merge joins per-worker latencies and sorts them.
func merge(parts [][]time.Duration) []time.Duration {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	all := make([]time.Duration, 0, n)
	for _, p := range parts {
		all = append(all, p...)
	}
	slices.Sort(all)
	return all
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond)) }

// medianTurnDifference pairs b's and a's turns in order and returns the
// median, lowest and highest of b's p99 minus a's: a stall of the host
// that lengthens one turn's tail moves the median little.
func medianTurnDifference(a, b *summary) (median, lo, hi time.Duration, n int) {
	n = min(len(a.turnP99), len(b.turnP99))
	if n == 0 {
		return 0, 0, 0, 0
	}
	d := make([]time.Duration, n)
	for i := range d {
		d[i] = b.turnP99[i] - a.turnP99[i]
	}
	slices.Sort(d)
	median = d[n/2]
	if n%2 == 0 {
		median = (d[n/2-1] + d[n/2]) / 2
	}
	return median, d[0], d[n-1], n
}

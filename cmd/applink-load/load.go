package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// client is one keep-alive connection that writes pre-rendered requests and
// reads just enough of each response to find its end: the generator shares
// the machine with the proxy, so it must be cheap.
type client struct {
	addr string
	c    net.Conn
	br   *bufio.Reader
}

func (cl *client) dial() error {
	c, err := net.Dial("tcp", cl.addr)
	if err != nil {
		return err
	}
	cl.c, cl.br = c, bufio.NewReaderSize(c, 16<<10)
	return nil
}

func (cl *client) close() {
	if cl.c != nil {
		cl.c.Close()
		cl.c = nil
	}
}

var errMalformed = errors.New("malformed response")

// do sends req and returns the response status. On an error the connection
// is closed, and the next do redials.
func (cl *client) do(req []byte) (int, error) {
	if cl.c == nil {
		if err := cl.dial(); err != nil {
			return 0, err
		}
	}
	status, err := cl.roundTrip(req)
	if err != nil {
		cl.close()
	}
	return status, err
}

func (cl *client) roundTrip(req []byte) (int, error) {
	if _, err := cl.c.Write(req); err != nil {
		return 0, err
	}
	line, err := cl.br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, errMalformed
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, errMalformed
	}
	length, chunked, closing := int64(-1), false, false
	for {
		h, err := cl.br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(h) <= 2 {
			break
		}
		name, value, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			return 0, errMalformed
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil {
				return 0, errMalformed
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			closing = bytes.EqualFold(value, []byte("close"))
		}
	}
	switch {
	case chunked:
		if err := cl.discardChunked(); err != nil {
			return 0, err
		}
	case length >= 0:
		if _, err := cl.br.Discard(int(length)); err != nil {
			return 0, err
		}
	default:
		_, _ = io.Copy(io.Discard, cl.br)
		closing = true
	}
	if closing {
		cl.close()
	}
	return status, nil
}

func (cl *client) discardChunked() error {
	for {
		line, err := cl.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.SplitN(line, []byte(";"), 2)[0])), 16, 64)
		if err != nil {
			return errMalformed
		}
		if size == 0 {
			for { // trailers, then the empty line
				l, err := cl.br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(l) <= 2 {
					return nil
				}
			}
		}
		if _, err := cl.br.Discard(int(size) + 2); err != nil {
			return err
		}
	}
}

// run describes one timed phase.
type run struct {
	name    string
	addr    string
	src     source
	want    int           // the status a good answer has
	conns   int           // connections (closed loop) or workers (open loop)
	warmup  time.Duration // not measured
	measure time.Duration
	rate    float64       // open loop: requests per second; 0 = closed loop
	counter *atomic.Int64 // if set, counts good answers as they come (soak)
	pid     int           // the proxy, for its CPU time over the measured window
}

// cpuMeter reads a process's CPU time at the start and end of the
// measured window.
type cpuMeter struct {
	pid   int
	start time.Duration
	ok    bool
	done  chan struct{}
}

func (m *cpuMeter) begin(at time.Time) {
	m.done = make(chan struct{})
	go func() {
		defer close(m.done)
		if m.pid == 0 {
			return
		}
		time.Sleep(time.Until(at))
		if c, err := procCPU(m.pid); err == nil {
			m.start, m.ok = c, true
		}
	}()
}

func (m *cpuMeter) finish() time.Duration {
	<-m.done
	if !m.ok {
		return 0
	}
	c, err := procCPU(m.pid)
	if err != nil {
		return 0
	}
	return c - m.start
}

// phaseState is shared by a phase's workers.
type phaseState struct {
	start, end time.Time // the measured window
	exhausted  atomic.Int64
	firstError atomic.Value
	ok, failed atomic.Int64
	cpu        *cpuMeter // the proxy's CPU time over the measured window
}

func (ps *phaseState) noteError(err error) {
	ps.firstError.CompareAndSwap(nil, err.Error())
}

// record counts one measured answer, and appends its latency to mine
// when it is a good one.
func (r run) record(ps *phaseState, status int, err error, lat time.Duration, mine []time.Duration) []time.Duration {
	switch {
	case err != nil:
		ps.failed.Add(1)
		ps.noteError(err)
	case status != r.want:
		ps.failed.Add(1)
		ps.noteError(fmt.Errorf("status %d", status))
	default:
		ps.ok.Add(1)
		if r.counter != nil {
			r.counter.Add(1)
		}
		mine = append(mine, lat)
	}
	return mine
}

// closedLoop: each connection sends its next request as soon as the last
// one was answered.
func (r run) closedLoop() *summary {
	ps := r.phase(time.Now())
	lats := r.drive(ps, func() (time.Time, bool) {
		t0 := time.Now()
		return t0, t0.Before(ps.end)
	})
	return r.summarize(ps, lats)
}

// openLoop offers requests at a fixed rate, whatever the answers do.
// Latency runs from when a request was due, not from when it was sent, so
// that a stalled proxy shows up in the percentiles (no coordinated
// omission).
func (r run) openLoop() *summary {
	begin := time.Now().Add(10 * time.Millisecond)
	ps := r.phase(begin)
	interval := time.Duration(float64(time.Second) / r.rate)
	var seq atomic.Int64
	lats := r.drive(ps, func() (time.Time, bool) {
		due := begin.Add(time.Duration(seq.Add(1)-1) * interval)
		if !due.Before(ps.end) {
			return due, false
		}
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		return due, true
	})
	s := r.summarize(ps, lats)
	s.target = r.rate
	return s
}

// phase is the state of a phase that begins now: measured after the
// warm-up, for r.measure, the proxy's CPU time counted from then.
func (r run) phase(begin time.Time) *phaseState {
	ps := &phaseState{}
	ps.start = begin.Add(r.warmup)
	ps.end = ps.start.Add(r.measure)
	ps.cpu = &cpuMeter{pid: r.pid}
	ps.cpu.begin(ps.start)
	return ps
}

// drive runs r.conns connections through the phase ps, each sending
// request after request: pace says when the next one is due (its latency
// runs from then), false when the phase is over. It returns the measured
// latencies of each connection.
func (r run) drive(ps *phaseState, pace func() (time.Time, bool)) [][]time.Duration {
	lats := make([][]time.Duration, r.conns)
	var wg sync.WaitGroup
	for w := range r.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &client{addr: r.addr}
			defer cl.close()
			mine := make([]time.Duration, 0, 4096)
			defer func() { lats[w] = mine }()
			for {
				due, ok := pace()
				if !ok {
					return
				}
				req := r.src.next()
				if req == nil {
					ps.exhausted.CompareAndSwap(0, time.Now().UnixNano())
					return
				}
				status, err := cl.do(req)
				lat := time.Since(due)
				if due.Before(ps.start) {
					continue
				}
				mine = r.record(ps, status, err, lat, mine)
			}
		}()
	}
	wg.Wait()
	return lats
}

// showTurns prints each turn's figures (-turns), to tell a stall of the
// machine, which hits one turn, from a cost every turn pays.
var showTurns bool

// interleave runs the phases in turns of measure/slices each, so that a
// stall of the machine (a noisy neighbour, a VM pause) falls on all alike
// rather than on whichever ran when it happened. The first turn of each
// has its warm-up, later ones turnWarmup (new connections settle).
func interleave(runs []run, slices int, turnWarmup time.Duration, loop func(run) *summary) []*summary {
	out := make([]*summary, len(runs))
	for i := range slices {
		for j, r := range runs {
			r.measure /= time.Duration(slices)
			if i > 0 {
				r.warmup = turnWarmup
			}
			s := loop(r)
			if showTurns {
				fmt.Printf("  turn %2d %-34s %6.0f req/s  p50 %s  p99 %s  max %s ms\n", i+1, r.name, s.rate(),
					ms(s.p(50)), ms(s.p(99)), ms(s.p(100)))
			}
			s.turnP99 = []time.Duration{s.p(99)}
			if out[j] == nil {
				out[j] = s
				continue
			}
			o := out[j]
			o.requests += s.requests
			o.failures += s.failures
			o.elapsed += s.elapsed
			o.cpu += s.cpu
			o.lat = merge([][]time.Duration{o.lat, s.lat})
			o.turnP99 = append(o.turnP99, s.turnP99...)
			if s.note != "" && o.note == "" {
				o.note = s.note
			}
		}
	}
	return out
}

func (r run) summarize(ps *phaseState, lats [][]time.Duration) *summary {
	s := &summary{name: r.name, requests: ps.ok.Load(), failures: ps.failed.Load(), elapsed: r.measure, lat: merge(lats)}
	if at := ps.exhausted.Load(); at != 0 {
		end := time.Unix(0, at)
		switch {
		case !end.After(ps.start):
			s.elapsed = 0
			s.note = "pre-signed requests ran out during the warm-up"
		case end.Before(ps.end):
			s.elapsed = end.Sub(ps.start)
			s.note = fmt.Sprintf("pre-signed requests ran out after %.1fs", s.elapsed.Seconds())
		}
	}
	if e, ok := ps.firstError.Load().(string); ok {
		if s.note != "" {
			s.note += "; "
		}
		s.note += "first failure: " + e
	}
	s.cpu = ps.cpu.finish()
	return s
}

package store

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// nonceBatcher sends concurrent nonce SETs to Redis as pipelines. While
// maxInFlight pipelines are out, new SETs queue; each pipeline, when it
// returns, sends everything that queued meanwhile as the next one. A lone
// request therefore goes out at once (no timer, no added latency), and
// under load one write and one read carry many SETs: Redis and the proxy
// each pay a system call and a wake-up per batch, not per request.
type nonceBatcher struct {
	c           redis.UniversalClient
	maxInFlight int
	timeout     time.Duration // of a whole pipeline, so that a frozen Redis fails a batch

	mu       sync.Mutex
	inFlight int
	queue    []*nonceSet

	pipelines atomic.Int64 // round trips sent (tests)
}

// nonceSet is one SET key 1 NX PX ttl and its answer.
type nonceSet struct {
	key  string
	ttl  time.Duration
	ok   bool
	err  error
	done chan struct{}
}

// maxBatch bounds one pipeline, so that one slow batch does not hold back
// thousands of requests.
const maxBatch = 512

var nonceSetPool = sync.Pool{New: func() any { return &nonceSet{done: make(chan struct{}, 1)} }}

// setNX records key for ttl unless it exists; false if it existed.
func (b *nonceBatcher) setNX(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	s := nonceSetPool.Get().(*nonceSet)
	s.key, s.ttl, s.ok, s.err = key, ttl, false, nil
	b.mu.Lock()
	if b.inFlight < b.maxInFlight {
		b.inFlight++
		b.mu.Unlock()
		b.send([]*nonceSet{s})
	} else {
		b.queue = append(b.queue, s)
		b.mu.Unlock()
	}
	select {
	case <-s.done:
		ok, err := s.ok, s.err
		nonceSetPool.Put(s)
		return ok, err
	case <-ctx.Done():
		// The SET still goes out; s is dropped, not reused, since the
		// batch will still write to it.
		return false, ctx.Err()
	}
}

// send runs one pipeline, answers its SETs, and hands what queued
// meanwhile to a new goroutine (the caller of this batch has its answer and
// must not wait for other requests' round trips), or frees its slot.
func (b *nonceBatcher) send(batch []*nonceSet) {
	b.pipeline(batch)
	b.mu.Lock()
	if len(b.queue) == 0 {
		b.inFlight--
		b.mu.Unlock()
		return
	}
	n := min(len(b.queue), maxBatch)
	next := make([]*nonceSet, n)
	copy(next, b.queue)
	b.queue = append(b.queue[:0], b.queue[n:]...)
	b.mu.Unlock()
	go b.send(next)
}

func (b *nonceBatcher) pipeline(batch []*nonceSet) {
	b.pipelines.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	if len(batch) == 1 {
		s := batch[0]
		s.ok, s.err = b.c.SetNX(ctx, s.key, "1", s.ttl).Result()
		s.done <- struct{}{}
		return
	}
	cmds := make([]*redis.BoolCmd, len(batch))
	pipe := b.c.Pipeline()
	for i, s := range batch {
		cmds[i] = pipe.SetNX(ctx, s.key, "1", s.ttl)
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error
	for i, s := range batch {
		s.ok, s.err = cmds[i].Result()
		s.done <- struct{}{}
	}
}

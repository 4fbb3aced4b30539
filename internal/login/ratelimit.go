package login

import (
	"sync"
	"time"
)

// failureLimiter counts failed logins per key (user name and client IP) in
// a fixed window: after max failures the key is refused until the window
// that started with its first failure ends. A success clears the key. The
// table is bounded; when full, expired windows are dropped first, then
// arbitrary ones (an attacker filling it only resets others' counts early).
type failureLimiter struct {
	max    int
	window time.Duration
	cap    int
	now    func() time.Time

	mu   sync.Mutex
	keys map[string]*failures
}

type failures struct {
	n     int
	reset time.Time
}

func newFailureLimiter(max int, window time.Duration, capacity int) *failureLimiter {
	return &failureLimiter{max: max, window: window, cap: capacity, now: time.Now, keys: make(map[string]*failures)}
}

// blocked reports whether key is refused now, and until when.
func (l *failureLimiter) blocked(key string) (bool, time.Time) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.keys[key]
	if !ok {
		return false, time.Time{}
	}
	if !now.Before(f.reset) {
		delete(l.keys, key)
		return false, time.Time{}
	}
	return f.n >= l.max, f.reset
}

// fail records a failure for key.
func (l *failureLimiter) fail(key string) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.keys[key]
	if ok && !now.Before(f.reset) {
		ok = false
	}
	if !ok {
		makeRoom(l.keys, l.cap, now, func(f *failures) time.Time { return f.reset })
		f = &failures{reset: now.Add(l.window)}
		l.keys[key] = f
	}
	f.n++
}

// succeed clears key.
func (l *failureLimiter) succeed(key string) {
	l.mu.Lock()
	delete(l.keys, key)
	l.mu.Unlock()
}

// makeRoom makes room for one more entry in m, a map bounded to max
// entries, when it is full: it deletes the entries expired at now (their
// expiry says when), then arbitrary ones until fewer than max are left.
func makeRoom[K comparable, V any](m map[K]V, max int, now time.Time, expiry func(V) time.Time) {
	if len(m) < max {
		return
	}
	for k, v := range m {
		if !now.Before(expiry(v)) {
			delete(m, k)
		}
	}
	for k := range m {
		if len(m) < max {
			break
		}
		delete(m, k)
	}
}

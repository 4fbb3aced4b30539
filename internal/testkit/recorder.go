package testkit

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Recorder is the stand-in product behind the proxy in the module's
// integration tests: it keeps every request that reached it and answers
// "user=<X-Forwarded-User>" with X-Upstream: yes, so a test can tell an
// upstream answer from the proxy's own.
type Recorder struct {
	srv   *httptest.Server
	mu    sync.Mutex
	reqs  []Recorded
	Count atomic.Int64 // requests that reached it
}

// Recorded is one request as the product saw it.
type Recorded struct {
	Method, URI string
	Header      http.Header
	Body        string
}

// NewRecorder starts a Recorder on a loopback port until the test ends.
func NewRecorder(t testing.TB) *Recorder {
	rec := &Recorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, Recorded{Method: r.Method, URI: r.RequestURI, Header: r.Header.Clone(), Body: string(body)})
		rec.mu.Unlock()
		rec.Count.Add(1)
		w.Header().Set("X-Upstream", "yes")
		fmt.Fprintf(w, "user=%s", r.Header.Get("X-Forwarded-User"))
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

// Addr is the host:port to proxy to.
func (rec *Recorder) Addr() string { return strings.TrimPrefix(rec.srv.URL, "http://") }

// Last returns the latest request, failing the test if none came.
func (rec *Recorder) Last(t testing.TB) Recorded {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.reqs) == 0 {
		t.Fatal("no request reached the upstream")
	}
	return rec.reqs[len(rec.reqs)-1]
}

// Mark returns a position in the record, for Since.
func (rec *Recorder) Mark() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.reqs)
}

// Since returns the requests recorded after mark (0: all of them).
func (rec *Recorder) Since(mark int) []Recorded {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]Recorded(nil), rec.reqs[mark:]...)
}

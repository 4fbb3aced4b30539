package caddymodule

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-applink/caddy-applink/internal/store"
)

// BenchmarkServeHTTP measures Handler.ServeHTTP on the request the load
// benchmark (cmd/applink-load) sends: a 2LO GET of /rest/api/2/myself
// signed in the Authorization header, each nonce used once, passed to a
// next handler that only answers 200. Building the requests is not timed.
//
//	go test -run x -bench ServeHTTP -benchmem ./caddymodule/
//
// The HMAC-SHA1 variant shows the handler's own overhead best: its
// signature check costs about a microsecond, a 2048-bit RSA one about ten.
func BenchmarkServeHTTP(b *testing.B) {
	h := provisionBenchHandler(b)
	b.Run("2LO-HMAC-SHA1", func(b *testing.B) {
		benchServeHTTP(b, h, benchAuthorizations(b, hmacKey))
	})
	b.Run("2LO-RSA-SHA1-2048", func(b *testing.B) {
		benchServeHTTP(b, h, benchAuthorizations(b, rsaKey))
	})
}

const (
	benchTarget = "/rest/api/2/myself"
	// benchPoolSize signed requests are cycled through; each cycle gets a
	// fresh nonce store, so that every nonce is new to the store it meets.
	benchPoolSize = 4096
	// benchChunk requests are built at a time, outside the timer, so that
	// the live heap stays small.
	benchChunk = 1024
	// Requests are stamped this far ahead, so that nonce stores created
	// later (whose Since is their creation) still take them.
	benchStampAhead = 240 * time.Second
)

func provisionBenchHandler(b *testing.B) *Handler {
	b.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	b.Cleanup(cancel)
	h := &Handler{
		BaseURL: proxyBase,
		Consumers: []*ConsumerConfig{
			{Key: rsaKey, PublicKeyFile: consumerKeys().PubFile, TwoLegged: "svc-bamboo", Impersonation: true},
			{Key: hmacKey, Secret: hmacSecret, TwoLegged: "svc-ci", ThreeLegged: new(false)},
		},
		State: &StateConfig{Backend: "memory"},
	}
	if err := h.Provision(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = h.Cleanup() })
	// Caddy's default log level: the handler's debug lines are off.
	h.logger = zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()),
		zapcore.AddSync(io.Discard), zapcore.InfoLevel))
	return h
}

// benchSigned caches the signed Authorization values per consumer across
// benchmark runs: signing 4096 RSA requests takes seconds.
var benchSigned = struct {
	sync.Mutex
	auth map[string][]string
	at   map[string]time.Time
}{auth: map[string][]string{}, at: map[string]time.Time{}}

func benchAuthorizations(b *testing.B, consumer string) []string {
	b.Helper()
	benchSigned.Lock()
	defer benchSigned.Unlock()
	// Re-sign before the stamps fall behind stores created now.
	if time.Since(benchSigned.at[consumer]) < benchStampAhead/2 {
		return benchSigned.auth[consumer]
	}
	ts := strconv.FormatInt(time.Now().Add(benchStampAhead).Unix(), 10)
	auth := make([]string, benchPoolSize)
	var wg sync.WaitGroup
	const workers = 4
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(auth); i += workers {
				s := signSpec{Target: benchTarget, Consumer: consumer, Timestamp: ts,
					Nonce: strptr("bench-" + strconv.Itoa(i))}
				if consumer == hmacKey {
					s.Secret = hmacSecret
				}
				auth[i] = s.build(b).Header.Get("Authorization")
			}
		}()
	}
	wg.Wait()
	benchSigned.auth[consumer], benchSigned.at[consumer] = auth, time.Now()
	return auth
}

// discardWriter is a ResponseWriter that keeps nothing.
type discardWriter struct{ header http.Header }

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

func benchServeHTTP(b *testing.B, h *Handler, auth []string) {
	w := &discardWriter{header: http.Header{}}
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusOK)
		return nil
	})
	build := func(from int, reqs []*http.Request) {
		for i := range reqs {
			r := httptest.NewRequest(http.MethodGet, proxyBase+benchTarget, nil)
			r.Header.Set("Authorization", auth[(from+i)%len(auth)])
			r.Header.Set("User-Agent", "applink-load")
			reqs[i] = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, nil)
		}
	}
	freshNonces := func() {
		if m, ok := h.verifier.Nonces.(*store.Memory); ok && m != nil {
			_ = m.Close()
		}
		h.verifier.Nonces = store.NewMemory()
	}
	shared := h.verifier.Nonces
	defer func() {
		_ = h.verifier.Nonces.(*store.Memory).Close()
		h.verifier.Nonces = shared
	}()
	h.verifier.Nonces = store.NewMemory()

	reqs := make([]*http.Request, benchChunk)
	n := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%benchChunk == 0 {
			b.StopTimer()
			if i > 0 && i%len(auth) == 0 {
				freshNonces()
			}
			build(i, reqs)
			n = 0
			b.StartTimer()
		}
		r := reqs[n]
		n++
		if err := h.ServeHTTP(w, r, next); err != nil {
			b.Fatal(err)
		}
		if len(r.Header[h.identity]) == 0 {
			b.Fatalf("request %d not verified", i)
		}
	}
}

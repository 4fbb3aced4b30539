package signer

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testConsumerKey = "caddy-applink:test"
	testToken       = "3lo-access-token-0123456789"
	testTokenSecret = "unused-by-rsa-sha1"
)

func genKey() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

var (
	testKey  = sync.OnceValue(genKey)
	otherKey = sync.OnceValue(genKey)
)

func newSigner(t testing.TB, base string, opts ...func(*Config)) *Signer {
	t.Helper()
	cfg := Config{ConsumerKey: testConsumerKey, PrivateKey: testKey(), RemoteBaseURL: base}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func fixed(cfg *Config) {
	cfg.Clock = func() time.Time { return time.Unix(1700000000, 0) }
	cfg.Nonce = func() string { return "n0nce" }
}

func newRequest(t testing.TB, method, url, contentType, body string) *http.Request {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

func readBody(t testing.TB, req *http.Request) string {
	t.Helper()
	if req.Body == nil {
		return ""
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return string(b)
}

// memNonces is the trivial NonceStore the core verifier needs.
type memNonces struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (m *memNonces) Seen(_ context.Context, key string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seen[key], nil
}

func (m *memNonces) Record(_ context.Context, key string, _ time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = make(map[string]bool)
	}
	if m.seen[key] {
		return false, nil
	}
	m.seen[key] = true
	return true, nil
}

func (m *memNonces) Since() time.Time { return time.Time{} }

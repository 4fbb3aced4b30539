package signer

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/store"
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

// memNonces is the real in-memory nonce store, remembering from the start
// of time: these tests sign and verify within the second the store is made.
type memNonces struct{ *store.Memory }

func (memNonces) Since() time.Time { return time.Time{} }

// checkSignedBase fails t unless signed's base string is want and its
// signature verifies over want with crypto/rsa directly.
func checkSignedBase(t *testing.T, signed *Signed, want string) {
	t.Helper()
	if signed.BaseString != want {
		t.Errorf("base string\n got %s\nwant %s", signed.BaseString, want)
	}
	sig, err := base64.StdEncoding.DecodeString(signed.Signature)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum([]byte(want))
	if err := rsa.VerifyPKCS1v15(&testKey().PublicKey, crypto.SHA1, sum[:], sig); err != nil {
		t.Errorf("signature does not verify: %v", err)
	}
}

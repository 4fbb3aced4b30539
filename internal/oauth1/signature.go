package oauth1

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"hash"
	"sync"
	"sync/atomic"
)

// Signature methods. Application links use RSA-SHA1; HMAC-SHA1 serves
// consumers configured with a shared secret. PLAINTEXT is never accepted.
const (
	RSASHA1  = "RSA-SHA1"
	HMACSHA1 = "HMAC-SHA1"
)

// SignRSASHA1 signs a base string with RSASSA-PKCS1-v1_5 over SHA-1 and
// returns the base64 signature (RFC 5849 section 3.4.3).
func SignRSASHA1(key *rsa.PrivateKey, base string) (string, error) {
	sum := sha1.Sum([]byte(base))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA1, sum[:])
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// VerifyRSASHA1 checks a raw (base64-decoded) RSA-SHA1 signature.
func VerifyRSASHA1(key *rsa.PublicKey, base string, sig []byte) error {
	return verifyRSASHA1(key, []byte(base), sig)
}

func verifyRSASHA1(key *rsa.PublicKey, base, sig []byte) error {
	return verifyRSASHA1With(nil, key, base, sig)
}

// SignHMACSHA1 signs a base string with HMAC-SHA1 keyed by
// enc(consumerSecret)&enc(tokenSecret) (RFC 5849 section 3.4.2).
func SignHMACSHA1(consumerSecret, tokenSecret, base string) string {
	var sum [sha1.Size]byte
	return base64.StdEncoding.EncodeToString(hmacSHA1(sum[:0], consumerSecret, tokenSecret, []byte(base)))
}

func hmacSHA1(dst []byte, consumerSecret, tokenSecret string, base []byte) []byte {
	var buf [128]byte
	key := appendPercentEncoded(buf[:0], consumerSecret)
	key = append(key, '&')
	key = appendPercentEncoded(key, tokenSecret)
	var m hash.Hash
	// Only consumer-only keys (2LO) are pooled: a token secret is per user
	// and revocable, and must not outlive its request in a global cache.
	var pool *sync.Pool
	if tokenSecret == "" {
		pool = hmacPool(key)
	}
	if pool != nil {
		m = pool.Get().(hash.Hash)
		defer pool.Put(m)
		m.Reset()
	} else {
		m = hmac.New(sha1.New, bytes.Clone(key))
	}
	m.Write(base)
	return m.Sum(dst)
}

// hmacPools maps an HMAC key to a *sync.Pool of keyed HMAC-SHA1 states:
// hmac.New costs five allocations and two SHA-1 blocks (BenchmarkHMACSHA1),
// while Reset on a pooled state restores the keyed state from a saved copy. The map is
// copied on write, so lookups take no lock. Keys are consumer secrets from
// the configuration (hmacSHA1 pools no key with a token secret);
// maxHMACPools bounds what reloads that rotate secrets leave behind.
var (
	hmacPools   atomic.Pointer[map[string]*sync.Pool]
	hmacPoolsMu sync.Mutex
)

const maxHMACPools = 1024

func hmacPool(key []byte) *sync.Pool {
	if m := hmacPools.Load(); m != nil {
		if p := (*m)[string(key)]; p != nil {
			return p
		}
	}
	hmacPoolsMu.Lock()
	defer hmacPoolsMu.Unlock()
	old := map[string]*sync.Pool{}
	if m := hmacPools.Load(); m != nil {
		old = *m
	}
	if p := old[string(key)]; p != nil {
		return p
	}
	if len(old) >= maxHMACPools {
		return nil
	}
	k := bytes.Clone(key)
	p := &sync.Pool{New: func() any { return hmac.New(sha1.New, k) }}
	m := make(map[string]*sync.Pool, len(old)+1)
	for name, q := range old {
		m[name] = q
	}
	m[string(k)] = p
	hmacPools.Store(&m)
	return p
}

// VerifyHMACSHA1 checks a raw HMAC-SHA1 signature in constant time.
func VerifyHMACSHA1(consumerSecret, tokenSecret, base string, sig []byte) bool {
	return verifyHMACSHA1(consumerSecret, tokenSecret, []byte(base), sig)
}

func verifyHMACSHA1(consumerSecret, tokenSecret string, base, sig []byte) bool {
	var sum [sha1.Size]byte
	return hmac.Equal(hmacSHA1(sum[:0], consumerSecret, tokenSecret, base), sig)
}

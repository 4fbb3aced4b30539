package oauth1

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"sync"
	"testing"
)

var thirdKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// rotatingVerifier is newTestVerifier whose "jira:rsa" consumer also takes
// otherKey, as during a key rotation.
func rotatingVerifier(t testing.TB) *Verifier {
	v, _ := newTestVerifier(t)
	v.Consumers("jira:rsa").SecondPublicKey = &otherKey().PublicKey
	return v
}

// TestVerifySecondPublicKey: a consumer with two keys accepts a signature
// by either, says which verified it, and refuses any other key's.
func TestVerifySecondPublicKey(t *testing.T) {
	v := rotatingVerifier(t)
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		key  *rsa.PrivateKey
		want int
	}{{"first key", testKey(), 1}, {"second key", otherKey(), 2}} {
		res, p := v.Verify(ctx, sign(t, spec{key: tt.key, query: "xoauth_requestor_id=alice"}))
		if p != nil || res.PublicKey != tt.want || res.User != "alice" {
			t.Errorf("%s: %+v %v; want verified by key %d", tt.name, res, p, tt.want)
		}
		signed, p := v.VerifyEndpoint(ctx, sign(t, spec{key: tt.key, method: "POST"}), RequestTokenEndpoint)
		if p != nil || signed.PublicKey != tt.want {
			t.Errorf("%s at the request-token endpoint: %+v %v; want verified by key %d", tt.name, signed, p, tt.want)
		}
	}
	res, p := v.Verify(ctx, sign(t, spec{key: thirdKey()}))
	checkRefusal(t, res, p, refusal{SignatureInvalid, 401, nil})

	// HMAC-SHA1 names no key.
	res, p = v.Verify(ctx, sign(t, spec{consumer: "hmac-client", sigMethod: HMACSHA1}))
	if p != nil || res.PublicKey != 0 {
		t.Errorf("HMAC: %+v %v; want PublicKey 0", res, p)
	}
	// Nor does a consumer with one key lose anything: the first is key 1.
	one, _ := newTestVerifier(t)
	if res, p := one.Verify(ctx, sign(t, spec{})); p != nil || res.PublicKey != 1 {
		t.Errorf("one key: %+v %v", res, p)
	}
	if res, p := one.Verify(ctx, sign(t, spec{key: otherKey()})); p == nil {
		t.Errorf("one key took another key's signature: %+v", res)
	}
}

// BenchmarkVerifySecondPublicKey: what a second key costs. A request the
// first key verifies costs what it costs with one key; only one signed
// with the second pays a second RSA check.
//
//	go test -run x -bench VerifySecondPublicKey -benchmem ./internal/oauth1/
func BenchmarkVerifySecondPublicKey(b *testing.B) {
	ctx := context.Background()
	run := func(b *testing.B, v *Verifier, key *rsa.PrivateKey, want int) {
		v.Nonces = freshStore{}
		r := sign(b, spec{key: key, query: benchQuery})
		if res, p := v.Verify(ctx, r); p != nil || res.PublicKey != want {
			b.Fatalf("%+v %v", res, p)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, p := v.Verify(ctx, r); p != nil {
				b.Fatal(p)
			}
		}
	}
	b.Run("one-key", func(b *testing.B) {
		v, _ := newTestVerifier(b)
		run(b, v, testKey(), 1)
	})
	b.Run("two-keys-signed-with-first", func(b *testing.B) { run(b, rotatingVerifier(b), testKey(), 1) })
	b.Run("two-keys-signed-with-second", func(b *testing.B) { run(b, rotatingVerifier(b), otherKey(), 2) })
}

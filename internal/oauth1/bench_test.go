package oauth1

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"testing"
	"time"
)

// benchQuery is a realistic Jira REST query: a handful of parameters, some
// needing percent-encoding, one repeated.
const benchQuery = "jql=project%20%3D%20ABC%20AND%20status%20%3D%20%22In%20Progress%22%20ORDER%20BY%20updated%20DESC" +
	"&startAt=0&maxResults=50&fields=summary,status,assignee,updated&expand=names&expand=schema"

// BenchmarkVerify measures a full Verify of a 2LO request against the bare
// RSA verification it cannot avoid. The nonce store reports every nonce as
// fresh, so one signed request serves all iterations and signing is not
// timed; the store itself is measured in package store.
//
//	go test -run x -bench . -benchmem -count 3 ./internal/oauth1/
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	newVerifier := func(b *testing.B) *Verifier {
		v, _ := newTestVerifier(b)
		v.Nonces = freshStore{}
		return v
	}

	// verifyLoop checks that r verifies in mode want, then times Verify of
	// it (newVerifier's store takes every nonce as fresh).
	verifyLoop := func(b *testing.B, v *Verifier, r *Request, want Mode) {
		if res, p := v.Verify(ctx, r); p != nil || res.Mode != want {
			b.Fatal(p)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, p := v.Verify(ctx, r); p != nil {
				b.Fatal(p)
			}
		}
	}

	// bareInputs signs one benchmark request and returns, beside it and its
	// verifier, what a bare RSA verification of it needs.
	bareInputs := func(b *testing.B) (*Verifier, *Request, *rsa.PublicKey, [sha1.Size]byte, []byte) {
		v := newVerifier(b)
		r := sign(b, spec{query: benchQuery})
		msg, signed, p := collect(r)
		if p != nil {
			b.Fatal(p)
		}
		base := BaseString(r.Method, v.BaseURL.SignedURL(r.RawPath), signed)
		sig, err := base64.StdEncoding.DecodeString(msg.oauth.val("oauth_signature"))
		if err != nil {
			b.Fatal(err)
		}
		return v, r, &testKey().PublicKey, sha1.Sum([]byte(base)), sig
	}

	b.Run("2LO-RSA-SHA1-2048", func(b *testing.B) {
		verifyLoop(b, newVerifier(b), sign(b, spec{query: benchQuery}), Mode2LO)
	})

	b.Run("bare-rsa.VerifyPKCS1v15", func(b *testing.B) {
		// The same key and the base string of the same request.
		_, _, pub, digest, sig := bareInputs(b)
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA1, digest[:], sig); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if err := rsa.VerifyPKCS1v15(pub, crypto.SHA1, digest[:], sig); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("2LO-RSA-SHA1-2048-paired-ratio", func(b *testing.B) {
		// Full Verify and the bare RSA verification alternate within one
		// loop, so that drifting machine speed (shared CPUs) hits both
		// alike; "full/bare" is the overhead ratio of the whole path.
		v, r, pub, digest, sig := bareInputs(b)
		var full, bare time.Duration
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			t0 := time.Now()
			if _, p := v.Verify(ctx, r); p != nil {
				b.Fatal(p)
			}
			t1 := time.Now()
			if err := rsa.VerifyPKCS1v15(pub, crypto.SHA1, digest[:], sig); err != nil {
				b.Fatal(err)
			}
			t2 := time.Now()
			full += t1.Sub(t0)
			bare += t2.Sub(t1)
		}
		b.ReportMetric(float64(full)/float64(bare), "full/bare")
		b.ReportMetric(float64(full-bare)/float64(b.N), "overhead-ns/op")
	})

	b.Run("2LO-HMAC-SHA1", func(b *testing.B) {
		verifyLoop(b, newVerifier(b), sign(b, spec{consumer: "hmac-client", sigMethod: HMACSHA1, query: benchQuery}), Mode2LO)
	})

	b.Run("2LOi-RSA-SHA1-2048-query-params", func(b *testing.B) {
		// Impersonation with the OAuth parameters in the query.
		verifyLoop(b, newVerifier(b), sign(b, spec{loc: InQuery, query: benchQuery + "&xoauth_requestor_id=alice"}), ModeImpersonation)
	})

	b.Run("anonymous", func(b *testing.B) {
		v := newVerifier(b)
		r := &Request{Method: "GET", RawPath: "/jira/rest/api/2/search", RawQuery: benchQuery}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if res, p := v.Verify(ctx, r); p != nil || res.Mode != ModeAnonymous {
				b.Fatal(p)
			}
		}
	})
}

func BenchmarkBaseString(b *testing.B) {
	r := sign(b, spec{query: benchQuery})
	_, signed, p := collect(r)
	if p != nil {
		b.Fatal(p)
	}
	uri := testBase + "/rest/api/2/search"
	b.ReportAllocs()
	for b.Loop() {
		_ = BaseString("GET", uri, signed)
	}
}

func BenchmarkParseAuthorizationHeader(b *testing.B) {
	h := sign(b, spec{}).Authorization[0]
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseAuthorizationHeader(h); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHMACSHA1 compares the pooled HMAC-SHA1 state that 2LO
// consumer-only keys use with a fresh hmac.New per request, as a key with
// a token secret takes (signature.go, hmacPools).
func BenchmarkHMACSHA1(b *testing.B) {
	base := []byte(BaseString("GET", testBase+"/rest/api/2/search", nil))
	b.Run("pooled", func(b *testing.B) {
		var sum [sha1.Size]byte
		b.ReportAllocs()
		for b.Loop() {
			hmacSHA1(sum[:0], "consumer-secret", "", base)
		}
	})
	b.Run("hmac.New", func(b *testing.B) {
		key := []byte("consumer-secret&")
		var sum [sha1.Size]byte
		b.ReportAllocs()
		for b.Loop() {
			m := hmac.New(sha1.New, key)
			m.Write(base)
			m.Sum(sum[:0])
		}
	})
}

package store

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
)

// anyStamp is the stamp of keys in tests of stores that file keys by key
// alone (Redis).
const anyStamp = 1_700_000_000

// testNonceStore is the conformance suite every nonce store must pass
// (memory, Redis). It runs on the real clock: stores with their own idea
// of time (Redis) cannot be given a fake one. Its keys are stamped now, as
// the verifier's are, give or take the window.
func testNonceStore(t *testing.T, open func(t *testing.T) oauth1.NonceStore) {
	stamp := time.Now().Unix()
	seen := func(t *testing.T, s oauth1.NonceStore, key string, want bool) {
		t.Helper()
		got, err := s.Seen(ctx, key, stamp)
		if err != nil || got != want {
			t.Fatalf("Seen(%q) = %v, %v; want %v", key, got, err, want)
		}
	}
	record := func(t *testing.T, s oauth1.NonceStore, key string, until time.Time, want bool) {
		t.Helper()
		got, err := s.Record(ctx, key, stamp, until)
		if err != nil || got != want {
			t.Fatalf("Record(%q, now%+v) = %v, %v; want %v", key, time.Until(until).Round(time.Second), got, err, want)
		}
	}

	t.Run("record and seen", func(t *testing.T) {
		s := open(t)
		until := time.Now().Add(5 * time.Minute)
		seen(t, s, "a", false)
		record(t, s, "a", until, true)
		seen(t, s, "a", true)
		record(t, s, "a", until, false)
		record(t, s, "a", until.Add(time.Hour), false) // a later expiry does not make it fresh
		seen(t, s, "b", false)
		record(t, s, "b", until, true)
		// Keys are compared exactly, and may hold any byte.
		seen(t, s, "A", false)
		seen(t, s, "a\x00", false)
		seen(t, s, "", false)
		record(t, s, "", until, true)
		seen(t, s, "", true)
		long := "jira:1234\x00" + string(make([]byte, 600)) + "\x001700000000\x00\xff\xfe"
		record(t, s, long, until, true)
		seen(t, s, long, true)
		seen(t, s, long[:len(long)-1], false)
	})

	t.Run("until in the past", func(t *testing.T) {
		s := open(t)
		past := time.Now().Add(-time.Second)
		record(t, s, "old", past, true) // nothing to remember...
		seen(t, s, "old", false)
		record(t, s, "old", past, true) // ...so it is fresh again
		// But a live entry is not overridden by a stale Record.
		record(t, s, "live", time.Now().Add(time.Minute), true)
		record(t, s, "live", past, false)
		seen(t, s, "live", true)
	})

	t.Run("expiry", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		// The memory store counts whole seconds: 1.1 s is alive now and
		// expired 1.3 s later in both stores.
		record(t, s, "k", time.Now().Add(1100*time.Millisecond), true)
		seen(t, s, "k", true)
		time.Sleep(1300 * time.Millisecond)
		seen(t, s, "k", false)
		record(t, s, "k", time.Now().Add(time.Minute), true)
		seen(t, s, "k", true)
	})

	t.Run("concurrent record", func(t *testing.T) {
		s := open(t)
		until := time.Now().Add(time.Minute)
		for round := range 20 {
			key := fmt.Sprintf("nonce-%d", round)
			var wins atomic.Int32
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range 32 {
				wg.Go(func() {
					<-start
					_, _ = s.Seen(ctx, key, stamp)
					ok, err := s.Record(ctx, key, stamp, until)
					if err != nil {
						t.Error(err)
					}
					if ok {
						wins.Add(1)
					}
				})
			}
			close(start)
			wg.Wait()
			if wins.Load() != 1 {
				t.Fatalf("round %d: %d goroutines recorded the same key, want exactly 1", round, wins.Load())
			}
		}
	})

	t.Run("since", func(t *testing.T) {
		s := open(t)
		since := s.Since()
		if since.After(time.Now()) {
			t.Errorf("Since() = %v, in the future", since)
		}
		_, _ = s.Record(ctx, "x", stamp, time.Now().Add(time.Minute))
		if !s.Since().Equal(since) {
			t.Error("Since() changed with use")
		}
	})

	t.Run("verifier refuses a replay", func(t *testing.T) {
		s := open(t)
		v := testVerifier(s)
		// Stamped a little ahead: the memory store refuses the second it
		// started in and earlier.
		r := signedRequest(time.Now().Unix()+2, "n-"+strconv.FormatInt(time.Now().UnixNano(), 36))
		if res, p := v.Verify(ctx, r); p != nil || res.Mode != oauth1.Mode2LO {
			t.Fatalf("first request: %+v %v", res, p)
		}
		if _, p := v.Verify(ctx, r); p == nil || p.Code != oauth1.NonceUsed {
			t.Fatalf("replay: %v, want nonce_used", p)
		}
	})
}

func TestMemoryNonces(t *testing.T) {
	t.Parallel()
	testNonceStore(t, func(*testing.T) oauth1.NonceStore { return NewMemory() })
}

var testBaseURL = func() oauth1.BaseURL {
	base, err := oauth1.ParseBaseURL("https://jira.example.com")
	if err != nil {
		panic(err)
	}
	return base
}()

// testVerifier verifies HMAC-SHA1 2LO requests of the consumer "bot"
// (secret "secret") against the given nonce store, on the real clock.
func testVerifier(nonces oauth1.NonceStore) *oauth1.Verifier {
	consumer := &oauth1.Consumer{Key: "bot", Secret: "secret", TwoLeggedUser: "bot"}
	return &oauth1.Verifier{
		BaseURL: testBaseURL,
		Consumers: func(k string) *oauth1.Consumer {
			if k == consumer.Key {
				return consumer
			}
			return nil
		},
		Nonces: nonces,
	}
}

// signedRequest is a 2LO request of "bot", signed for testVerifier.
func signedRequest(ts int64, nonce string) *oauth1.Request {
	params := []oauth1.Param{
		{Key: "oauth_consumer_key", Value: "bot"},
		{Key: "oauth_signature_method", Value: "HMAC-SHA1"},
		{Key: "oauth_timestamp", Value: strconv.FormatInt(ts, 10)},
		{Key: "oauth_nonce", Value: nonce},
		{Key: "oauth_token", Value: ""},
	}
	sig := oauth1.SignHMACSHA1("secret", "", oauth1.BaseString("GET", testBaseURL.SignedURL("/rest/api/2/myself"), params))
	h := "OAuth "
	for _, p := range params {
		h += p.Key + `="` + oauth1.PercentEncode(p.Value) + `", `
	}
	h += `oauth_signature="` + oauth1.PercentEncode(sig) + `"`
	return &oauth1.Request{Method: "GET", RawPath: "/rest/api/2/myself", Authorization: []string{h}}
}

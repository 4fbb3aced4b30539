package provider

import (
	"context"
	"crypto/rsa"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/rsakey"
	"github.com/caddy-applink/caddy-applink/internal/store"
)

// freshNonces reports every nonce as new, so one signed request can be
// verified b.N times; the nonce store is measured elsewhere.
type freshNonces struct{}

func (freshNonces) Seen(context.Context, string, int64) (bool, error) { return false, nil }
func (freshNonces) Record(context.Context, string, int64, time.Time) (bool, error) {
	return true, nil
}
func (freshNonces) Since() time.Time { return time.Time{} }

var benchKey = func() *rsa.PrivateKey {
	k, err := rsakey.Generate(2048)
	if err != nil {
		panic(err)
	}
	return k
}()

const benchBase = "https://jira.example.com"

// fillBolt creates a bbolt store holding n access tokens and returns it and
// the token values (token i is "tok-<i>").
func fillBolt(tb testing.TB, n int) (*store.Bolt, []string) {
	b, err := store.OpenBolt(filepath.Join(tb.TempDir(), "state.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = b.Close() })
	now := time.Now()
	values := make([]string, n)
	batch := make([]*store.Token, 0, 10000)
	for i := 0; i < n; i++ {
		values[i] = "tok-" + strconv.Itoa(i)
		batch = append(batch, &store.Token{ID: store.TokenID(values[i]), Kind: store.AccessToken,
			Consumer: "bamboo", User: "user" + strconv.Itoa(i%5000), Created: now, LastUsed: now,
			Expires: now.Add(DefaultAccessTTL), SessionEnds: now.Add(DefaultAccessTTL + sessionExtra)})
		if len(batch) == cap(batch) || i == n-1 {
			if err := b.Import(context.Background(), batch); err != nil {
				tb.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	return b, values
}

func benchVerifier(tb testing.TB, tokens store.TokenStore) *oauth1.Verifier {
	base, err := oauth1.ParseBaseURL(benchBase)
	if err != nil {
		tb.Fatal(err)
	}
	c := &oauth1.Consumer{Key: "bamboo", PublicKey: &benchKey.PublicKey, TwoLeggedUser: "svc", ThreeLegged: true}
	return &oauth1.Verifier{
		BaseURL:   base,
		Consumers: func(k string) *oauth1.Consumer { return map[string]*oauth1.Consumer{"bamboo": c}[k] },
		Nonces:    freshNonces{},
		Tokens:    &Provider{Tokens: tokens},
	}
}

// signedRequest signs a Jira-like GET with the given oauth_token.
func signedRequest(tb testing.TB, token string) *oauth1.Request {
	const path, query = "/rest/api/2/search", "jql=project%20%3D%20ABC&maxResults=50&expand=names"
	o := []oauth1.Param{
		{Key: "oauth_consumer_key", Value: "bamboo"}, {Key: "oauth_token", Value: token},
		{Key: "oauth_signature_method", Value: oauth1.RSASHA1}, {Key: "oauth_timestamp", Value: strconv.FormatInt(time.Now().Unix(), 10)},
		{Key: "oauth_nonce", Value: "n-" + token}, {Key: "oauth_version", Value: "1.0"},
	}
	all := append([]oauth1.Param{}, o...)
	qp, _ := oauth1.ParseForm(query)
	all = append(all, qp...)
	sig, err := oauth1.SignRSASHA1(benchKey, oauth1.BaseString("GET", benchBase+path, all))
	if err != nil {
		tb.Fatal(err)
	}
	o = append(o, oauth1.Param{Key: "oauth_signature", Value: sig})
	h := "OAuth "
	for i, p := range o {
		if i > 0 {
			h += ", "
		}
		h += p.Key + `="` + oauth1.PercentEncode(p.Value) + `"`
	}
	return &oauth1.Request{Method: "GET", RawPath: path, RawQuery: query, Authorization: []string{h}}
}

// BenchmarkVerify3LOvs2LO: a 3LO request (access token looked up in a bbolt
// store of 100,000 tokens) against a 2LO request, same key, same run.
// Target: 3LO at most 1.3x 2LO.
//
//	go test -run '^$' -bench Verify3LO -benchmem ./internal/provider/
func BenchmarkVerify3LOvs2LO(b *testing.B) {
	bolt, values := fillBolt(b, 100_000)
	v := benchVerifier(b, bolt)
	ctx := context.Background()
	r3 := signedRequest(b, values[len(values)/2])
	r2 := signedRequest(b, "")
	for _, r := range []*oauth1.Request{r2, r3} {
		if res, p := v.Verify(ctx, r); p != nil {
			b.Fatal(p)
		} else if res.Mode == oauth1.ModeAnonymous {
			b.Fatal("anonymous")
		}
	}
	b.Run("2LO", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, p := v.Verify(ctx, r2); p != nil {
				b.Fatal(p)
			}
		}
	})
	b.Run("3LO-bbolt-100k", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, p := v.Verify(ctx, r3); p != nil {
				b.Fatal(p)
			}
		}
	})
	// Both in one loop, so machine noise hits them alike: reports the ratio.
	b.Run("paired-ratio", func(b *testing.B) {
		var d2, d3 time.Duration
		for b.Loop() {
			t0 := time.Now()
			_, _ = v.Verify(ctx, r2)
			t1 := time.Now()
			_, _ = v.Verify(ctx, r3)
			d2 += t1.Sub(t0)
			d3 += time.Since(t1)
		}
		b.ReportMetric(float64(d3)/float64(d2), "3lo/2lo")
	})
}

// BenchmarkTokenLookup compares the token lookup with 1,000 and 100,000
// stored tokens. Target: ratio at most 1.5.
func BenchmarkTokenLookup(b *testing.B) {
	ctx := context.Background()
	c := &oauth1.Consumer{Key: "bamboo", PublicKey: &benchKey.PublicKey, ThreeLegged: true}
	for _, n := range []int{1_000, 100_000} {
		bolt, values := fillBolt(b, n)
		p := &Provider{Tokens: bolt}
		b.Run(fmt.Sprintf("tokens=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, _, pr := p.TokenSecret(ctx, c, values[(i*7919)%n], oauth1.Resource); pr != nil {
					b.Fatal(pr)
				}
				i++
			}
		})
	}
}

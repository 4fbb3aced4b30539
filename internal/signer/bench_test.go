package signer

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

// BenchmarkSign compares a whole Sign with the bare RSA operation it cannot
// avoid (rsa.SignPKCS1v15 over a SHA-1 digest, same 2048-bit key, same run).
// The target is Sign <= 1.1x bare.
func BenchmarkSign(b *testing.B) {
	key := testKey()
	s := newSigner(b, "https://jira.example.com/jira")

	b.Run("bare-rsa.SignPKCS1v15", func(b *testing.B) {
		digest := sha1.Sum([]byte("GET&https%3A%2F%2Fjira.example.com%2Fjira%2Frest%2Fapi%2F2%2Fsearch&x"))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA1, digest[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, bc := range []struct {
		name, method, target, ctype, body string
		mode                              Mode
		user                              string
		token                             *Token
	}{
		{"2lo", "GET", "/jira/rest/api/2/myself", "", "", Mode2LO, "", nil},
		{"impersonation-query", "GET", "/jira/rest/api/2/search?jql=project+%3D+TEST&expand=names&expand=schema&maxResults=50",
			"", "", ModeImpersonation, "alice", nil},
		{"3lo", "GET", "/jira/rest/api/2/issue/TEST-1?fields=summary,status", "", "", Mode3LO, "", &Token{Token: testToken}},
		{"form-post", "POST", "/jira/rest/x?a=1", formType + "; charset=UTF-8", "text=hello+world&a=0&a=2",
			ModeImpersonation, "alice", nil},
	} {
		b.Run(bc.name, func(b *testing.B) {
			// Sign is idempotent on a signed request, so one request serves
			// every iteration (its form body is put back each time).
			req := testkit.NewRequest(b, bc.method, "http://127.0.0.1:8080"+bc.target, bc.ctype, bc.body)
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Sign(req, bc.mode, bc.user, bc.token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSignVsBare interleaves the two operations in every iteration, so
// that CPU-frequency or neighbour noise hits both alike, and reports the
// ratio (target <= 1.1).
func BenchmarkSignVsBare(b *testing.B) {
	key := testKey()
	s := newSigner(b, "https://jira.example.com/jira")
	req := testkit.NewRequest(b, "GET", "http://127.0.0.1:8080/jira/rest/api/2/search?jql=project+%3D+TEST&expand=names&expand=schema", "", "")
	digest := sha1.Sum([]byte("GET&https%3A%2F%2Fjira.example.com%2Fjira%2Frest%2Fapi%2F2%2Fsearch&x"))
	var bare, sign time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA1, digest[:]); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := s.Sign(req, ModeImpersonation, "alice", nil); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		bare += t1.Sub(t0)
		sign += t2.Sub(t1)
	}
	b.ReportMetric(float64(bare.Nanoseconds())/float64(b.N), "bare-ns/op")
	b.ReportMetric(float64(sign.Nanoseconds())/float64(b.N), "sign-ns/op")
	b.ReportMetric(float64(sign)/float64(bare), "sign/bare")
}

// noRSA stands in for dghubble's RSASigner to measure what Sign costs on
// top of the RSA operation.
type noRSA struct{}

func (noRSA) Name() string                     { return "RSA-SHA1" }
func (noRSA) Sign(_, _ string) (string, error) { return "c2ln", nil }

func BenchmarkSignOverheadWithoutRSA(b *testing.B) {
	s := newSigner(b, "https://jira.example.com/jira")
	s.rsa = noRSA{}
	req := testkit.NewRequest(b, "GET", "http://127.0.0.1:8080/jira/rest/api/2/search?jql=project+%3D+TEST&expand=names&expand=schema", "", "")
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Sign(req, ModeImpersonation, "alice", nil); err != nil {
			b.Fatal(err)
		}
	}
}

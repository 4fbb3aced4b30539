package caddymodule

import (
	"crypto/rsa"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"

	"github.com/caddy-applink/caddy-applink/internal/hygiene"
	"github.com/caddy-applink/caddy-applink/internal/rsakey"
	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

// Test keys, generated once per test binary.
var (
	testKeysOnce sync.Once
	consumerKey  *rsa.PrivateKey // the configured consumer's key
	strangerKey  *rsa.PrivateKey // a key no consumer has
	keyDir       string
)

const (
	proxyBase  = "http://localhost:9080"
	rsaKey     = "bamboo:93f2"  // 2LO + impersonation
	noImpKey   = "confluence:1" // 2LO only
	impOnlyKey = "bitbucket:7"  // impersonation only
	hmacKey    = "ci-bot"       // HMAC-SHA1 with a secret, 2LO
	hmacSecret = "s3cr3t/with spaces&stuff"
)

func testKeys(t testing.TB) {
	testKeysOnce.Do(func() {
		var err error
		if consumerKey, err = rsakey.Generate(2048); err != nil {
			panic(err)
		}
		if strangerKey, err = rsakey.Generate(2048); err != nil {
			panic(err)
		}
		keyDir, err = os.MkdirTemp("", "applink-keys")
		if err != nil {
			panic(err)
		}
		pub, _ := rsakey.EncodePublicPEM(&consumerKey.PublicKey)
		if err := os.WriteFile(filepath.Join(keyDir, "consumer.pub.pem"), pub, 0o644); err != nil {
			panic(err)
		}
		priv, _ := rsakey.EncodePrivatePEM(consumerKey)
		if err := os.WriteFile(filepath.Join(keyDir, "consumer.pem"), priv, 0o600); err != nil {
			panic(err)
		}
	})
}

// recorder is the test upstream: it stores every request that reached it.
type (
	recorder = testkit.Recorder
	recorded = testkit.Recorded
)

func newRecorder(t testing.TB) *recorder { return testkit.NewRecorder(t) }

// identityHeaders returns every header the upstream got that a Java
// container could read as X-Forwarded-User.
func identityHeaders(r recorded) []string {
	var out []string
	for k, v := range r.Header {
		if hygiene.NormalizeHeaderName(k) == "x-forwarded-user" {
			out = append(out, k+"="+strings.Join(v, ","))
		}
	}
	return out
}

const globalOptions = `{
	skip_install_trust
	admin localhost:2999
	http_port 9080
	https_port 9443
	grace_period 1ns
	servers {
		trusted_proxies static 127.0.0.1/32
	}
}
`

// startProxy loads a Caddyfile site block for localhost:9080 whose
// applink block is extra + the standard consumers, proxying to rec.
func startProxy(t *testing.T, rec *recorder, applinkExtra string, siteExtra string) *caddytest.Tester {
	t.Helper()
	testKeys(t)
	pubFile := filepath.Join(keyDir, "consumer.pub.pem")
	pubDER, err := rsakey.ConsumerInfoString(&consumerKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg := globalOptions + fmt.Sprintf(`
http://localhost:9080 {
	applink {
		base_url %s
		consumer %s {
			name "Bamboo"
			public_key_file %s
			two_legged svc-bamboo
			impersonation
		}
		consumer %s {
			public_key %s
			two_legged svc-confluence
		}
		consumer %s {
			public_key_file %s
			impersonation
		}
		consumer %s {
			secret "%s"
			two_legged svc-ci
		}
		%s
	}
	%s
	reverse_proxy %s
}
`, proxyBase, rsaKey, pubFile, noImpKey, pubDER, impOnlyKey, pubFile, hmacKey, hmacSecret, applinkExtra, siteExtra, rec.Addr())
	tester := caddytest.NewTester(t)
	tester.InitServer(cfg, "caddyfile")
	waitForNonceFloor()
	return tester
}

// signSpec is a request to sign by hand (testkit.OAuth), so tests can
// tamper with any part of it; build fills in this package's defaults.
type signSpec testkit.OAuth

// build signs s (by default as consumer rsaKey with consumerKey, against
// proxyBase) and returns it as a request to the proxy.
func (s signSpec) build(t testing.TB) *http.Request {
	t.Helper()
	if s.Consumer == "" {
		s.Consumer = rsaKey
	}
	if s.Key == nil && s.Secret == "" {
		s.Key = consumerKey
	}
	if s.Base == "" {
		s.Base = proxyBase
	}
	w, err := testkit.OAuth(s).Sign()
	if err != nil {
		t.Fatal(err)
	}
	req, err := w.Request(proxyBase)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func strptr(s string) *string { return &s }

// do sends req through the tester's client and returns status, headers and body.
func do(t testing.TB, tester *caddytest.Tester, req *http.Request) (*http.Response, string) {
	t.Helper()
	return testkit.Do(t, tester.Client, req)
}

// problemOf extracts oauth_problem from a WWW-Authenticate header.
func problemOf(resp *http.Response) string {
	return testkit.Problem(resp.Header.Get("WWW-Authenticate"))
}

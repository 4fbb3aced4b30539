package caddymodule

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"

	"github.com/caddy-applink/caddy-applink/internal/hygiene"
	"github.com/caddy-applink/caddy-applink/internal/rsakey"
	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

// Test keys, generated once per test binary.
var (
	consumerKeys = testkit.SharedKeyPair("consumer") // the configured consumer's
	strangerKeys = testkit.SharedKeyPair("stranger") // no consumer's
)

// proxyBase is the proxy's base URL (startProxy), on its free port.
var proxyBase = fmt.Sprintf("http://localhost:%d", handlerHTTPPort)

const (
	rsaKey     = "bamboo:93f2"  // 2LO + impersonation
	noImpKey   = "confluence:1" // 2LO only
	impOnlyKey = "bitbucket:7"  // impersonation only
	hmacKey    = "ci-bot"       // HMAC-SHA1 with a secret, 2LO
	hmacSecret = "s3cr3t/with spaces&stuff"
)

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

// startProxy loads a Caddyfile site block for proxyBase whose
// applink block is extra + the standard consumers, proxying to rec.
func startProxy(t *testing.T, rec *recorder, applinkExtra string, siteExtra string) *caddytest.Tester {
	t.Helper()
	pubFile := consumerKeys().PubFile
	pubDER, err := rsakey.ConsumerInfoString(consumerKeys().Public())
	if err != nil {
		t.Fatal(err)
	}
	cfg := testkit.CaddyGlobals(handlerAdminPort, handlerHTTPPort, handlerHTTPSPort, testkit.NoGrace, testkit.TrustLoopback) + fmt.Sprintf(`
%s {
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
`, proxyBase, proxyBase, rsaKey, pubFile, noImpKey, pubDER, impOnlyKey, pubFile, hmacKey, hmacSecret, applinkExtra, siteExtra, rec.Addr())
	tester := testkit.LoadCaddy(t, handlerAdminPort, 20*time.Second, cfg)
	waitForNonceFloor()
	return tester
}

// signSpec is a request to sign by hand (testkit.OAuth), so tests can
// tamper with any part of it; build fills in this package's defaults.
type signSpec testkit.OAuth

// build signs s (by default as consumer rsaKey with consumerKeys, against
// proxyBase) and returns it as a request to the proxy.
func (s signSpec) build(t testing.TB) *http.Request {
	t.Helper()
	if s.Consumer == "" {
		s.Consumer = rsaKey
	}
	if s.Key == nil && s.Secret == "" {
		s.Key = consumerKeys().Key
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

package caddymodule

import (
	"crypto/rsa"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"

	// The incoming applink handler plays the remote in round-trip tests.
	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/rsakey"
	"github.com/caddy-applink/caddy-applink/internal/store"
	"github.com/caddy-applink/caddy-applink/internal/testoracle"
)

// Ports of this package's in-process Caddy: other packages' tests run in
// parallel with their own (caddymodule: admin 2999, http 9080; cmd/applink:
// 2019, 8080-8097).
const (
	transportAdminPort = 2998
	frontPort          = 9180 // the site the tests call (http_port)
	rtPort             = 9181 // our own applink handler as the remote
	gwPort             = 9182 // a gateway: incoming applink, then the transport
	transportHTTPSPort = 9543
)

const (
	testConsumerKey = "caddy-applink:gw"
	testToken       = "3lo-access-token-0123456789"
)

var (
	transportKeysOnce sync.Once
	gwKey             *rsa.PrivateKey // our (the gateway's) key
	transportKeyDir   string
)

// transportTestKeys generates the gateway key once and writes it to a temp dir.
func transportTestKeys(t testing.TB) {
	t.Helper()
	transportKeysOnce.Do(func() {
		var err error
		if gwKey, err = rsakey.Generate(2048); err != nil {
			panic(err)
		}
		if transportKeyDir, err = os.MkdirTemp("", "applink-transport-keys"); err != nil {
			panic(err)
		}
		priv, _ := rsakey.EncodePrivatePEM(gwKey)
		pub, _ := rsakey.EncodePublicPEM(&gwKey.PublicKey)
		if err := os.WriteFile(filepath.Join(transportKeyDir, "gw.pem"), priv, 0o600); err != nil {
			panic(err)
		}
		if err := os.WriteFile(filepath.Join(transportKeyDir, "gw.pub.pem"), pub, 0o644); err != nil {
			panic(err)
		}
	})
}

func privFile() string { return filepath.Join(transportKeyDir, "gw.pem") }
func pubFile() string  { return filepath.Join(transportKeyDir, "gw.pub.pem") }

// transportGlobalOptions of every config this package loads; logs go to logFile so
// that tests can read what an operator would see.
func transportGlobalOptions(logFile string) string {
	return fmt.Sprintf(`{
	skip_install_trust
	admin localhost:%d
	http_port %d
	https_port %d
	grace_period 1ns
	log {
		output file %s
		format json
		level DEBUG
	}
}
`, transportAdminPort, frontPort, transportHTTPSPort, logFile)
}

// caddyRun loads a Caddyfile (global options added) into this package's
// in-process Caddy and returns a tester and the log file.
func caddyRun(t *testing.T, sites string) (*caddytest.Tester, string) {
	t.Helper()
	transportTestKeys(t)
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	tester := caddytest.NewTester(t).WithDefaultOverrides(caddytest.Config{AdminPort: transportAdminPort, LoadRequestTimeout: 20 * time.Second})
	tester.InitServer(transportGlobalOptions(logFile)+sites, "caddyfile")
	if t.Failed() {
		t.FailNow()
	}
	return tester, logFile
}

func newReq(t *testing.T, method, url, ctype, body string, hdr ...string) *http.Request {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	return req
}

// transportRecorder is a Go remote that records what reached it and verifies the
// signature with our own protocol core (oauth1.Verifier) against base.
type transportRecorder struct {
	srv   *httptest.Server
	base  string
	mu    sync.Mutex
	reqs  []transportRecorded
	count atomic.Int64
	reply func(w http.ResponseWriter, r *http.Request) bool // optional canned answer
}

type transportRecorded struct {
	Method, URI, Host, Body string
	Header                  http.Header
	Result                  *oauth1.Result
	Problem                 *oauth1.Problem
}

// newTransportRecorder starts a remote that believes its base URL is base ("" for
// its own http://127.0.0.1:port). Consumer testConsumerKey is allowed 2LO
// (as svc-gw) and impersonation.
func newTransportRecorder(t *testing.T, base string) *transportRecorder {
	t.Helper()
	transportTestKeys(t)
	rec := &transportRecorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(rec.serve))
	t.Cleanup(rec.srv.Close)
	rec.base = base
	if base == "" {
		rec.base = rec.srv.URL
	}
	return rec
}

func (rec *transportRecorder) addr() string { return strings.TrimPrefix(rec.srv.URL, "http://") }

func (rec *transportRecorder) serve(w http.ResponseWriter, r *http.Request) {
	rec.count.Add(1)
	if rec.reply != nil && rec.reply(w, r) {
		return
	}
	body, _ := io.ReadAll(r.Body)
	base, err := oauth1.ParseBaseURL(rec.base)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	consumer := &oauth1.Consumer{Key: testConsumerKey, PublicKey: &gwKey.PublicKey, TwoLeggedUser: "svc-gw", Impersonation: true}
	v := &oauth1.Verifier{
		BaseURL:   base,
		Consumers: func(k string) *oauth1.Consumer { return map[string]*oauth1.Consumer{testConsumerKey: consumer}[k] },
		Nonces:    nonces{store.NewMemory()},
	}
	form := ""
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		form = string(body)
	}
	res, p := v.Verify(r.Context(), &oauth1.Request{
		Method: r.Method, RawPath: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery,
		Authorization: r.Header.Values("Authorization"), Form: form,
	})
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, transportRecorded{Method: r.Method, URI: r.RequestURI, Host: r.Host, Body: string(body),
		Header: r.Header.Clone(), Result: res, Problem: p})
	rec.mu.Unlock()
	if p != nil {
		p.Write(w, rec.base)
		return
	}
	fmt.Fprintf(w, "mode=%s user=%s", res.Mode, res.User)
}

func (rec *transportRecorder) last(t *testing.T) transportRecorded {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.reqs) == 0 {
		t.Fatal("no request reached the remote")
	}
	return rec.reqs[len(rec.reqs)-1]
}

// nonces is a nonce store for the transportRecorder: fresh process, no past.
// nonces is the real in-memory nonce store, remembering from the start of
// time: these tests sign and verify within the second the store is made.
type nonces struct{ *store.Memory }

func (nonces) Since() time.Time { return time.Time{} }

// --- python-oauthlib as an independent verifier ---

// startOracle runs internal/testoracle (python-oauthlib) as a provider whose Tomcat
// believes it is at origin (plus prefix), trusting the gateway key under
// testConsumerKey, with testToken as the one valid 3LO access token.
func startOracle(t *testing.T, origin, prefix string) *testoracle.Oracle {
	t.Helper()
	transportTestKeys(t)
	return testoracle.Start(t, testoracle.Options{PublicKeyFile: pubFile(), ConsumerKey: testConsumerKey,
		Token: testToken, Origin: origin, Prefix: prefix})
}

// parseVerdict is the oracle's answer resp (with its body); it stops t if
// there is none.
func parseVerdict(t *testing.T, resp *http.Response, body string) testoracle.Verdict {
	t.Helper()
	v, err := testoracle.ParseVerdict(resp, body)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

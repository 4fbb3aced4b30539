package caddymodule

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"

	// The incoming applink handler plays the remote in round-trip tests.
	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/store"
	"github.com/caddy-applink/caddy-applink/internal/testkit"
	"github.com/caddy-applink/caddy-applink/internal/testoracle"
)

const (
	testConsumerKey = "caddy-applink:gw"
	testToken       = "3lo-access-token-0123456789"
)

// gwKeys is our (the gateway's) key pair, gw.pem and gw.pub.pem.
var gwKeys = testkit.SharedKeyPair("gw")

// transportGlobals is the global options block of the transport tests'
// configs; logs go to logFile so that tests can read what an operator
// would see.
func transportGlobals(logFile string) string {
	return testkit.CaddyGlobals(transportAdminPort, frontPort, transportHTTPSPort, testkit.NoGrace, jsonLog(logFile))
}

// caddyRun loads a Caddyfile (global options added) into this package's
// in-process Caddy and returns a tester and the log file.
func caddyRun(t *testing.T, sites string) (*caddytest.Tester, string) {
	t.Helper()
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	return testkit.LoadCaddy(t, transportAdminPort, 20*time.Second, transportGlobals(logFile)+sites), logFile
}

// roundTrip sends req through tr, as Caddy's reverse proxy would, and
// returns the answer and its body.
func roundTrip(t *testing.T, tr http.RoundTripper, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
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
	consumer := &oauth1.Consumer{Key: testConsumerKey, PublicKey: gwKeys().Public(), TwoLeggedUser: "svc-gw", Impersonation: true}
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
	return testoracle.Start(t, testoracle.Options{PublicKeyFile: gwKeys().PubFile, ConsumerKey: testConsumerKey,
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

package oauth1

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Shared fixtures of the oauth1 tests: two 2048-bit RSA keys generated once
// per test binary, an in-test nonce store with error injection, a verifier
// with a fixed clock, and a signer that builds requests the way Atlassian's
// applinks (or, with omitted oauth_token, oauthlib) would.

var testKeys = sync.OnceValues(func() (*rsa.PrivateKey, *rsa.PrivateKey) {
	a, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	b, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return a, b
})

// testKey is the key of the "jira:rsa" consumer; otherKey belongs to nobody.
func testKey() *rsa.PrivateKey  { k, _ := testKeys(); return k }
func otherKey() *rsa.PrivateKey { _, k := testKeys(); return k }

func privatePEM(k *rsa.PrivateKey) string {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func publicPEM(k *rsa.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// testNow is the verifier's clock in most tests.
const testNow = 1_700_000_000

const (
	testBase       = "https://jira.example.com/jira"
	testHMACSecret = "s3cr3t&+~é"
)

// fakeStore is a NonceStore that counts calls and can fail.
type fakeStore struct {
	mu        sync.Mutex
	m         map[string]time.Time
	since     time.Time
	seenErr   error
	recordErr error
	noSeen    bool // Seen always says fresh, to reach Record's own check
	seens     atomic.Int32
	records   atomic.Int32
	stamp     atomic.Int64 // the stamp of the last call
}

func newFakeStore() *fakeStore { return &fakeStore{m: map[string]time.Time{}} }

func (s *fakeStore) Seen(_ context.Context, key string, stamp int64) (bool, error) {
	s.seens.Add(1)
	s.stamp.Store(stamp)
	if s.seenErr != nil {
		return false, s.seenErr
	}
	if s.noSeen {
		return false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[key]
	return ok, nil
}

func (s *fakeStore) Record(_ context.Context, key string, stamp int64, until time.Time) (bool, error) {
	s.records.Add(1)
	s.stamp.Store(stamp)
	if s.recordErr != nil {
		return false, s.recordErr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[key]; ok {
		return false, nil
	}
	s.m[key] = until
	return true, nil
}

func (s *fakeStore) Since() time.Time { return s.since }

func (s *fakeStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// freshStore is a NonceStore that remembers nothing (benchmarks, fuzzing).
type freshStore struct{}

func (freshStore) Seen(context.Context, string, int64) (bool, error) { return false, nil }
func (freshStore) Record(context.Context, string, int64, time.Time) (bool, error) {
	return true, nil
}
func (freshStore) Since() time.Time { return time.Time{} }

var errStoreDown = errors.New("store down")

func testConsumers() map[string]*Consumer {
	return map[string]*Consumer{
		"jira:rsa":    {Key: "jira:rsa", PublicKey: &testKey().PublicKey, TwoLeggedUser: "sysadmin", Impersonation: true},
		"hmac-client": {Key: "hmac-client", Secret: testHMACSecret, TwoLeggedUser: "bot", Impersonation: true},
		"rsa-no2lo":   {Key: "rsa-no2lo", PublicKey: &testKey().PublicKey},
		"rsa-2lo-only": {Key: "rsa-2lo-only", PublicKey: &testKey().PublicKey,
			TwoLeggedUser: "builder"},
		"no-methods": {Key: "no-methods", TwoLeggedUser: "x"},
	}
}

func newTestVerifier(t testing.TB) (*Verifier, *fakeStore) {
	t.Helper()
	base, err := ParseBaseURL(testBase)
	if err != nil {
		t.Fatal(err)
	}
	consumers := testConsumers()
	st := newFakeStore()
	return &Verifier{
		BaseURL:   base,
		Consumers: func(k string) *Consumer { return consumers[k] },
		Nonces:    st,
		Now:       func() time.Time { return time.Unix(testNow, 0) },
	}, st
}

func ptr[T any](v T) *T { return &v }

var nonceCounter atomic.Int64

// spec describes a request to sign. Zero fields take the defaults of
// withDefaults: a 2LO GET from "jira:rsa" with oauth_token="" in the header.
type spec struct {
	method    string
	path      string // raw path as sent
	signURL   string // base string URI; default BaseURL.SignedURL(path)
	query     string // non-OAuth query as sent
	form      string // non-OAuth form body as sent
	loc       Location
	consumer  string
	sigMethod string
	key       *rsa.PrivateKey
	secret    *string
	token     *string // nil: no oauth_token at all
	noToken   bool
	ts        string
	nonce     string
	extra     []Param  // more OAuth-location params (oauth_version, ...)
	omit      []string // protocol params neither signed nor sent
	realm     string
}

func (s spec) withDefaults() spec {
	if s.method == "" {
		s.method = "GET"
	}
	if s.path == "" {
		s.path = "/jira/rest/api/2/search"
	}
	if s.loc == 0 {
		s.loc = InHeader
	}
	if s.consumer == "" {
		s.consumer = "jira:rsa"
	}
	if s.sigMethod == "" {
		s.sigMethod = RSASHA1
	}
	if s.key == nil {
		s.key = testKey()
	}
	if s.secret == nil {
		s.secret = ptr(testHMACSecret)
	}
	if s.token == nil && !s.noToken {
		s.token = ptr("")
	}
	if s.ts == "" {
		s.ts = strconv.Itoa(testNow)
	}
	if s.nonce == "" {
		s.nonce = fmt.Sprintf("nonce-%d", nonceCounter.Add(1))
	}
	return s
}

// protocolParams returns the oauth_* parameters (no signature) in send order.
func (s spec) protocolParams() []Param {
	ps := []Param{
		{"oauth_consumer_key", s.consumer},
		{"oauth_signature_method", s.sigMethod},
		{"oauth_timestamp", s.ts},
		{"oauth_nonce", s.nonce},
	}
	if s.token != nil {
		ps = append([]Param{{"oauth_token", *s.token}}, ps...)
	}
	ps = append(ps, s.extra...)
	out := ps[:0:0]
	for _, p := range ps {
		omitted := false
		for _, o := range s.omit {
			omitted = omitted || p.Key == o
		}
		if !omitted {
			out = append(out, p)
		}
	}
	return out
}

// sign builds the request described by s, signed with the helpers of this
// package (BaseString + Sign*), which the vector and oauthlib tests check
// independently.
func sign(t testing.TB, s spec) *Request {
	t.Helper()
	s = s.withDefaults()
	base, err := ParseBaseURL(testBase)
	if err != nil {
		t.Fatal(err)
	}
	proto := s.protocolParams()
	all := append([]Param(nil), proto...)
	for _, raw := range []string{s.query, s.form} {
		ps, err := ParseForm(raw)
		if err != nil {
			t.Fatalf("spec query/form %q: %v", raw, err)
		}
		all = append(all, ps...)
	}
	uri := s.signURL
	if uri == "" {
		uri = base.SignedURL(s.path)
	}
	bs := BaseString(s.method, uri, all)
	var sig string
	switch s.sigMethod {
	case HMACSHA1:
		sig = SignHMACSHA1(*s.secret, "", bs)
	case "PLAINTEXT":
		sig = PercentEncode(*s.secret) + "&"
	default:
		if sig, err = SignRSASHA1(s.key, bs); err != nil {
			t.Fatal(err)
		}
	}
	proto = append(proto, Param{"oauth_signature", sig})
	r := &Request{Method: s.method, RawPath: s.path, RawQuery: s.query, Form: s.form}
	switch s.loc {
	case InHeader:
		r.Authorization = []string{renderHeader(s.realm, proto)}
	case InQuery:
		r.RawQuery = joinForm(s.query, renderForm(proto))
	case InForm:
		r.Form = joinForm(s.form, renderForm(proto))
	}
	return r
}

func renderHeader(realm string, ps []Param) string {
	var b strings.Builder
	b.WriteString("OAuth ")
	if realm != "" {
		fmt.Fprintf(&b, `realm="%s", `, PercentEncode(realm))
	}
	for i, p := range ps {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, `%s="%s"`, PercentEncode(p.Key), PercentEncode(p.Value))
	}
	return b.String()
}

func renderForm(ps []Param) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = PercentEncode(p.Key) + "=" + PercentEncode(p.Value)
	}
	return strings.Join(parts, "&")
}

func joinForm(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "&" + b
}

// paramValue returns the value of the first param named key.
func paramValue(ps []Param, key string) (string, bool) {
	for _, p := range ps {
		if p.Key == key {
			return p.Value, true
		}
	}
	return "", false
}

// collect is collectInto as tests want it: a nil message for a request
// without OAuth.
func collect(r *Request) (*message, []Param, *Problem) {
	msg, signed, found, p := collectInto(r, nil)
	if !found {
		return nil, nil, p
	}
	return &msg, signed, nil
}

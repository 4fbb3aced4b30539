package caddymodule

import (
	"crypto/rsa"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"

	"github.com/caddy-applink/caddy-applink/internal/hygiene"
	"github.com/caddy-applink/caddy-applink/internal/oauth1"
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

// signSpec describes a request to sign by hand, so tests can tamper with
// any part of it.
type signSpec struct {
	Method      string
	Target      string // path and query, as sent
	SignedAs    string // path and query to sign, if different (tampering)
	Form        string // raw form body, sent with Content-Type form
	FormType    string // Content-Type for Form; default form-urlencoded
	Loc         oauth1.Location
	Consumer    string
	Key         *rsa.PrivateKey
	Secret      string // HMAC-SHA1 instead of RSA when set
	TokenSecret string // HMAC-SHA1 token secret (3LO)
	Method2     string // signature method to claim; default from Key/Secret
	Token       *string
	Timestamp   string
	Nonce       string
	Extra       []oauth1.Param // more oauth_* parameters, signed
	Omit        string         // an oauth parameter to leave out
	BaseURL     string         // base URL to sign against; default proxyBase
	SignedVerb  string         // method to sign, if different (tampering)
}

var nonceSeq atomic.Int64

func (s signSpec) build(t testing.TB) *http.Request {
	t.Helper()
	if s.Method == "" {
		s.Method = http.MethodGet
	}
	if s.Consumer == "" {
		s.Consumer = rsaKey
	}
	if s.Key == nil && s.Secret == "" {
		s.Key = consumerKey
	}
	method := s.Method2
	if method == "" {
		method = oauth1.RSASHA1
		if s.Secret != "" {
			method = oauth1.HMACSHA1
		}
	}
	if s.Timestamp == "" {
		s.Timestamp = strconv.FormatInt(time.Now().Unix(), 10)
	}
	if s.Nonce == "" {
		s.Nonce = fmt.Sprintf("n%d-%d", time.Now().UnixNano(), nonceSeq.Add(1))
	}
	o := []oauth1.Param{
		{Key: "oauth_consumer_key", Value: s.Consumer},
		{Key: "oauth_signature_method", Value: method},
		{Key: "oauth_timestamp", Value: s.Timestamp},
		{Key: "oauth_nonce", Value: s.Nonce},
		{Key: "oauth_version", Value: "1.0"},
	}
	if s.Token != nil {
		o = append(o, oauth1.Param{Key: "oauth_token", Value: *s.Token})
	} else {
		o = append(o, oauth1.Param{Key: "oauth_token", Value: ""})
	}
	if s.Omit != "" {
		kept := o[:0]
		for _, p := range o {
			if p.Key != s.Omit {
				kept = append(kept, p)
			}
		}
		o = kept
	}
	o = append(o, s.Extra...)
	signedTarget := s.Target
	if s.SignedAs != "" {
		signedTarget = s.SignedAs
	}
	path, query, _ := strings.Cut(signedTarget, "?")
	qp, err := oauth1.ParseForm(query)
	if err != nil {
		t.Fatal(err)
	}
	all := append([]oauth1.Param{}, o...)
	all = append(all, qp...)
	if s.Form != "" && (s.FormType == "" || strings.HasPrefix(s.FormType, "application/x-www-form-urlencoded")) {
		fp, err := oauth1.ParseForm(s.Form)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, fp...)
	}
	baseURL := s.BaseURL
	if baseURL == "" {
		baseURL = proxyBase
	}
	base, err := oauth1.ParseBaseURL(baseURL)
	if err != nil {
		t.Fatal(err)
	}
	verb := s.Method
	if s.SignedVerb != "" {
		verb = s.SignedVerb
	}
	bs := oauth1.BaseString(verb, base.SignedURL(path), all)
	var sig string
	if s.Secret != "" {
		sig = oauth1.SignHMACSHA1(s.Secret, s.TokenSecret, bs)
	} else {
		sig, err = oauth1.SignRSASHA1(s.Key, bs)
		if err != nil {
			t.Fatal(err)
		}
	}
	if s.Omit != "oauth_signature" {
		o = append(o, oauth1.Param{Key: "oauth_signature", Value: sig})
	}

	target := s.Target
	form := s.Form
	var auth string
	switch s.Loc {
	case oauth1.InQuery:
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		target += sep + encodeParams(o)
	case oauth1.InForm:
		if form != "" {
			form += "&"
		}
		form += encodeParams(o)
	default:
		var b strings.Builder
		b.WriteString(`OAuth realm="` + oauth1.PercentEncode(baseURL) + `"`)
		for _, p := range o {
			b.WriteString(", " + oauth1.PercentEncode(p.Key) + `="` + oauth1.PercentEncode(p.Value) + `"`)
		}
		auth = b.String()
	}
	var body io.Reader
	if form != "" {
		body = strings.NewReader(form)
	}
	req, err := http.NewRequest(s.Method, "http://localhost:9080"+target, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != "" {
		ct := s.FormType
		if ct == "" {
			ct = "application/x-www-form-urlencoded"
		}
		req.Header.Set("Content-Type", ct)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return req
}

func encodeParams(ps []oauth1.Param) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = oauth1.PercentEncode(p.Key) + "=" + oauth1.PercentEncode(p.Value)
	}
	return strings.Join(parts, "&")
}

func strptr(s string) *string { return &s }

// do sends req through the tester's client and returns status, headers and body.
func do(t testing.TB, tester *caddytest.Tester, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := tester.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// problemOf extracts oauth_problem from a WWW-Authenticate header.
func problemOf(resp *http.Response) string {
	h := resp.Header.Get("WWW-Authenticate")
	i := strings.Index(h, `oauth_problem="`)
	if i < 0 {
		return ""
	}
	rest := h[i+len(`oauth_problem="`):]
	return rest[:strings.IndexByte(rest, '"')]
}

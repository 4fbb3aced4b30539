package consumer

import (
	"context"
	"crypto/rsa"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/provider"
	"github.com/caddy-applink/caddy-applink/internal/rsakey"
	"github.com/caddy-applink/caddy-applink/internal/signer"
	"github.com/caddy-applink/caddy-applink/internal/store"
	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

const testConsumer = "caddy-applink:consumer-test"

var (
	ourKey   = sync.OnceValue(func() *rsa.PrivateKey { return mustKey() })
	otherKey = sync.OnceValue(func() *rsa.PrivateKey { return mustKey() })
)

func mustKey() *rsa.PrivateKey {
	k, err := rsakey.Generate(2048)
	if err != nil {
		panic(err)
	}
	return k
}

// remote is a fake Atlassian service provider built from our own provider
// core: the token endpoints as the applink handler serves them (verified
// with oauth1.Verifier, answered by provider.Provider), with hooks.
type remote struct {
	srv      *httptest.Server
	base     string
	prov     *provider.Provider
	tokens   *store.MemoryTokens
	calls    atomic.Int32 // access-token requests
	requests atomic.Int32 // request-token requests
	// beforeAccess runs before an access-token request is processed, with
	// its 1-based number; after, before the answer is written.
	beforeAccess, afterAccess func(n int)
	down                      atomic.Bool // answer 503
}

func newRemote(t *testing.T, clk *testkit.Clock) *remote {
	t.Helper()
	r := &remote{tokens: store.NewMemoryTokens()}
	r.prov = &provider.Provider{Tokens: r.tokens, AccessTTL: time.Hour, SessionTTL: 48 * time.Hour, Now: clk.Now}
	consumer := &oauth1.Consumer{Key: testConsumer, Name: "Test app", PublicKey: &ourKey().PublicKey, ThreeLegged: true}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.down.Load() {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		var at oauth1.Endpoint
		switch req.URL.Path {
		case "/jira" + RequestTokenPath:
			at = oauth1.RequestTokenEndpoint
			r.requests.Add(1)
		case "/jira" + AccessTokenPath:
			at = oauth1.AccessTokenEndpoint
		default:
			http.NotFound(w, req)
			return
		}
		n := 0
		if at == oauth1.AccessTokenEndpoint {
			n = int(r.calls.Add(1))
			if r.beforeAccess != nil {
				r.beforeAccess(n)
			}
		}
		body, _ := io.ReadAll(req.Body)
		base, _ := oauth1.ParseBaseURL(r.base)
		v := &oauth1.Verifier{BaseURL: base, Consumers: func(k string) *oauth1.Consumer {
			if k == consumer.Key {
				return consumer
			}
			return nil
		}, Nonces: nonces{store.NewMemory()}, Tokens: r.prov}
		signed, p := v.VerifyEndpoint(req.Context(), &oauth1.Request{Method: req.Method, RawPath: req.URL.EscapedPath(),
			RawQuery: req.URL.RawQuery, Authorization: req.Header.Values("Authorization"), Form: string(body)}, at)
		var out []oauth1.Param
		if p == nil {
			if at == oauth1.RequestTokenEndpoint {
				cb, has := signed.Param("oauth_callback")
				out, p = r.prov.IssueRequestToken(req.Context(), signed.Consumer, cb, has)
			} else if tok, _ := signed.State.(*store.Token); tok != nil && tok.Kind == store.RequestToken {
				v, has := signed.Param("oauth_verifier")
				out, p = r.prov.Exchange(req.Context(), signed.Consumer, signed.Token, v, has)
			} else {
				h, has := signed.Param("oauth_session_handle")
				out, p = r.prov.Renew(req.Context(), signed.Consumer, signed.Token, h, has)
			}
		}
		if n > 0 && r.afterAccess != nil {
			r.afterAccess(n)
		}
		if p != nil {
			p.Write(w, r.base)
			return
		}
		w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
		_, _ = io.WriteString(w, provider.EncodeForm(out))
	}))
	t.Cleanup(r.srv.Close)
	r.base = r.srv.URL + "/jira"
	return r
}

// approve plays the user at the remote: decides the request token and
// returns the verifier.
func (r *remote) approve(t *testing.T, requestToken, user string, allow bool) string {
	t.Helper()
	d, p := r.prov.Decide(context.Background(), requestToken, user, allow, "")
	if p != nil {
		t.Fatalf("decide: %v", p)
	}
	return d.Verifier
}

// user returns who an access token acts for at the remote, "" if it is not
// valid there.
func (r *remote) user(token string) string {
	tok, err := r.tokens.Get(context.Background(), store.TokenID(token))
	if err != nil || tok.Kind != store.AccessToken {
		return ""
	}
	return tok.User
}

func (r *remote) link(t *testing.T, key *rsa.PrivateKey) *Link {
	t.Helper()
	s, err := signer.New(signer.Config{ConsumerKey: testConsumer, PrivateKey: key, RemoteBaseURL: r.base})
	if err != nil {
		t.Fatal(err)
	}
	return &Link{ID: "jira", Signer: s, DisplayURL: "https://jira.example.com/jira/"}
}

// nonces is the real in-memory nonce store, remembering from the start of
// time: these tests sign and verify within the second the store is made.
type nonces struct{ *store.Memory }

func (nonces) Since() time.Time { return time.Time{} }

// tokenOf extracts oauth_token from an authorize URL.
func tokenOf(t *testing.T, authURL string) string {
	t.Helper()
	_, q, ok := strings.Cut(authURL, "?oauth_token=")
	if !ok {
		t.Fatalf("no oauth_token in %s", authURL)
	}
	tok, _, _ := strings.Cut(q, "&")
	return tok
}

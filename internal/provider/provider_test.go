package provider

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/store"
)

func TestSealerBindsSecretsToTheirTokenAndKey(t *testing.T) {
	s, err := NewSealer("a-key-of-sixteen+")
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal("id-1", "the secret")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sealed), "the secret") {
		t.Error("sealed value contains the plain text")
	}
	if got, err := s.Open("id-1", sealed); err != nil || got != "the secret" {
		t.Errorf("Open: %q %v", got, err)
	}
	if _, err := s.Open("id-2", sealed); err == nil {
		t.Error("a sealed secret opened for another token")
	}
	other, _ := NewSealer("another-key-of-16")
	if _, err := other.Open("id-1", sealed); err == nil {
		t.Error("a sealed secret opened with another key")
	}
	if _, err := NewSealer("short"); err == nil {
		t.Error("a short key was accepted")
	}
}

func TestCheckCallback(t *testing.T) {
	for cb, ok := range map[string]bool{
		"oob": true, "https://bamboo.example.com/cb?x=1": true, "http://127.0.0.1:8080/": true,
		"": false, "javascript:alert(1)": false, "/relative": false, "ftp://h/": false, "https://": false, "OOB": false,
	} {
		if got := CheckCallback(cb) == nil; got != ok {
			t.Errorf("CheckCallback(%q) ok=%v, want %v", cb, got, ok)
		}
	}
}

type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func newTestProvider(t *testing.T) (*Provider, *clock, *oauth1.Consumer) {
	c := &clock{now: time.Unix(1_800_000_000, 0)}
	return &Provider{Tokens: store.NewMemoryTokens(), Now: c.Now, AccessTTL: time.Hour, SessionTTL: 2 * time.Hour},
		c, &oauth1.Consumer{Key: "bamboo", ThreeLegged: true}
}

func param(ps []oauth1.Param, key string) string {
	for _, p := range ps {
		if p.Key == key {
			return p.Value
		}
	}
	return ""
}

func TestDanceLifecycle(t *testing.T) {
	ctx := context.Background()
	p, clk, c := newTestProvider(t)
	out, pr := p.IssueRequestToken(ctx, c, "https://app/cb", true)
	if pr != nil || param(out, "oauth_callback_confirmed") != "true" {
		t.Fatalf("request token: %v %v", out, pr)
	}
	token := param(out, "oauth_token")
	if len(token) != 32 || param(out, "oauth_token_secret") == "" {
		t.Errorf("token shape: %v", out)
	}

	// Decisions are made once, even when two arrive together.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var decisions []*Decision
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if d, pr := p.Decide(ctx, token, "alice", true, ""); pr == nil {
				mu.Lock()
				decisions = append(decisions, d)
				mu.Unlock()
			} else if pr.Code != oauth1.TokenUsed {
				t.Errorf("concurrent decision: %v", pr)
			}
		}()
	}
	wg.Wait()
	if len(decisions) != 1 || !strings.HasPrefix(decisions[0].Redirect, "https://app/cb?oauth_token="+token+"&oauth_verifier=") {
		t.Fatalf("decisions: %+v", decisions)
	}
	verifier := decisions[0].Verifier

	if _, pr := p.Exchange(ctx, &oauth1.Consumer{Key: "other", ThreeLegged: true}, token, verifier, true); pr == nil || pr.Code != oauth1.TokenRejected {
		t.Errorf("another consumer's exchange: %v", pr)
	}
	acc, pr := p.Exchange(ctx, c, token, verifier, true)
	if pr != nil || param(acc, "oauth_expires_in") != "3600" || param(acc, "oauth_authorization_expires_in") != "7200" {
		t.Fatalf("exchange: %v %v", acc, pr)
	}
	if _, pr := p.Exchange(ctx, c, token, verifier, true); pr == nil || pr.Code != oauth1.TokenRejected {
		t.Errorf("second exchange: %v", pr)
	}

	// Expiry, then renewal within the session, then the session's end.
	access := param(acc, "oauth_token")
	tok, _, pr := p.tokenSecret(ctx, c, access, store.AccessToken)
	if pr != nil {
		t.Fatal(pr)
	}
	if user, pr := p.ResolveAccess(ctx, c, tok); pr != nil || user != "alice" {
		t.Errorf("resolve: %q %v", user, pr)
	}
	clk.now = clk.now.Add(90 * time.Minute)
	if _, pr := p.ResolveAccess(ctx, c, tok); pr == nil || pr.Code != oauth1.TokenExpired {
		t.Errorf("expired access token: %v", pr)
	}
	renewed, pr := p.Renew(ctx, c, access, param(acc, "oauth_session_handle"), true)
	if pr != nil || param(renewed, "oauth_token") == access {
		t.Fatalf("renew: %v %v", renewed, pr)
	}
	clk.now = clk.now.Add(3 * time.Hour)
	if _, pr := p.Renew(ctx, c, param(renewed, "oauth_token"), param(renewed, "oauth_session_handle"), true); pr == nil || pr.Code != oauth1.PermissionDenied {
		t.Errorf("renewal after the session ended: %v", pr)
	}
}

func TestHMACConsumersNeedTheStateKey(t *testing.T) {
	ctx := context.Background()
	p, _, _ := newTestProvider(t)
	hmacConsumer := &oauth1.Consumer{Key: "bot", Secret: "s", ThreeLegged: true}
	if _, pr := p.IssueRequestToken(ctx, hmacConsumer, "", false); pr == nil || pr.Code != oauth1.PermissionDenied {
		t.Errorf("HMAC 3LO without a sealer: %v", pr)
	}
	p.Sealer, _ = NewSealer("0123456789abcdef")
	out, pr := p.IssueRequestToken(ctx, hmacConsumer, "", false)
	if pr != nil {
		t.Fatal(pr)
	}
	_, secret, pr := p.tokenSecret(ctx, hmacConsumer, param(out, "oauth_token"), store.RequestToken)
	if pr != nil || secret != param(out, "oauth_token_secret") {
		t.Errorf("sealed secret round trip: %q %v", secret, pr)
	}
	if _, pr := p.IssueRequestToken(ctx, &oauth1.Consumer{Key: "off"}, "", false); pr == nil || pr.Code != oauth1.PermissionDenied {
		t.Errorf("three_legged off: %v", pr)
	}
}

func TestEncodeFormUsesOAuthEncoding(t *testing.T) {
	got := EncodeForm([]oauth1.Param{{Key: "a", Value: "x y+z~"}, {Key: "b", Value: "é"}})
	if got != "a=x%20y%2Bz~&b=%C3%A9" {
		t.Errorf("EncodeForm = %q", got)
	}
}

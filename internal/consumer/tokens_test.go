package consumer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/provider"
	"github.com/caddy-applink/caddy-applink/internal/signer"
	"github.com/caddy-applink/caddy-applink/internal/store"
	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

const callback = "https://app.example.com/plugins/servlet/applinks/oauth/login-dance/access?applicationLinkID=jira"

func newTokens(clk *testkit.Clock, st store.RemoteStore, sealer *provider.Sealer, links ...*Link) *Tokens {
	return &Tokens{Store: st, Sealer: sealer, Now: clk.Now, RenewBefore: 10 * time.Minute, Links: func(remote string) *Link {
		for _, l := range links {
			if l.Remote() == remote {
				return l
			}
		}
		return nil
	}}
}

// dance runs Start, the user's approval and Finish.
// linked is how most tests start: a clock, a remote on it, our link to it,
// and Tokens over a fresh memory store using that link.
func linked(t *testing.T) (*testkit.Clock, *remote, *Link, *store.MemoryTokens, *Tokens) {
	t.Helper()
	clk := testkit.NewClock(time.Now())
	r := newRemote(t, clk)
	l := r.link(t, ourKey())
	st := store.NewMemoryTokens()
	return clk, r, l, st, newTokens(clk, st, nil, l)
}

func dance(t *testing.T, r *remote, tk *Tokens, l *Link, user, remoteUser string) *Stored {
	t.Helper()
	ctx := context.Background()
	authURL, err := tk.Start(ctx, l, user, callback)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	tok := tokenOf(t, authURL)
	s, err := tk.Finish(ctx, l, user, tok, r.approve(t, tok, remoteUser, true))
	if err != nil {
		t.Fatalf("finish: %v", err)
	}
	return s
}

// TestDance: Start gives the remote's approval page on the display URL,
// with our callback; Finish stores the access token with the remote's
// lifetimes; it acts as the approving user at the remote.
func TestDance(t *testing.T) {
	clk, r, l, _, tk := linked(t)
	ctx := context.Background()

	authURL, err := tk.Start(ctx, l, "alice", callback)
	if err != nil {
		t.Fatal(err)
	}
	tok := tokenOf(t, authURL)
	want := "https://jira.example.com/jira/plugins/servlet/oauth/authorize?oauth_token=" + tok + "&oauth_callback=" + url.QueryEscape(callback)
	if authURL != want {
		t.Errorf("authorize URL\n got %s\nwant %s", authURL, want)
	}
	if pt, _ := r.tokens.Get(ctx, store.TokenID(tok)); pt == nil || pt.Callback != callback || !pt.Version10a {
		t.Errorf("remote's request token %+v: want our callback, OAuth 1.0a", pt)
	}
	if _, err := tk.Get(ctx, l.Remote(), "alice"); !errors.Is(err, ErrNoAccessToken) {
		t.Errorf("access token before Finish: %v", err)
	}

	s, err := tk.Finish(ctx, l, "alice", tok, r.approve(t, tok, "alice.remote", true))
	if err != nil {
		t.Fatal(err)
	}
	if r.user(s.Token) != "alice.remote" || s.SessionHandle == "" || s.Remote != l.Remote() || s.User != "alice" {
		t.Errorf("stored %+v: acts as %q at the remote", s, r.user(s.Token))
	}
	if d := s.Expires.Sub(clk.Now()); d != time.Hour {
		t.Errorf("expires in %v, want the remote's oauth_expires_in (1h)", d)
	}
	if d := s.SessionEnds.Sub(clk.Now()); d != 48*time.Hour {
		t.Errorf("session ends in %v, want oauth_authorization_expires_in (48h)", d)
	}
	got, err := tk.AccessToken(ctx, l.Remote(), "alice")
	if err != nil || got.Token != s.Token {
		t.Errorf("AccessToken = %v, %v", got, err)
	}
	if _, err := tk.AccessToken(ctx, l.Remote(), "bob"); !errors.Is(err, ErrNoAccessToken) {
		t.Errorf("bob: %v", err)
	}
	// The dance is over: the same answer again is refused.
	if _, err := tk.Finish(ctx, l, "alice", tok, "x"); !errors.Is(err, ErrNoDance) {
		t.Errorf("second Finish: %v", err)
	}
}

// TestDanceRefusals: the answer must carry this user's request token;
// "denied" stores nothing; an expired dance is refused; a new dance never
// destroys the user's working token.
func TestDanceRefusals(t *testing.T) {
	clk, r, l, st, tk := linked(t)
	ctx := context.Background()
	working := dance(t, r, tk, l, "alice", "alice")

	// A new dance (a forged GET in the user's browser, say) leaves the
	// working token alone.
	authURL, err := tk.Start(ctx, l, "alice", callback)
	if err != nil {
		t.Fatal(err)
	}
	tok := tokenOf(t, authURL)
	if got, _ := tk.AccessToken(ctx, l.Remote(), "alice"); got == nil || got.Token != working.Token {
		t.Errorf("a started dance replaced the working token: %v", got)
	}
	// Another user's token, or a forged one, is refused, and the dance goes on.
	if _, err := tk.Finish(ctx, l, "bob", tok, "v"); !errors.Is(err, ErrNoDance) {
		t.Errorf("bob finishing alice's dance: %v", err)
	}
	if _, err := tk.Finish(ctx, l, "alice", "attacker-token", "v"); !errors.Is(err, ErrTokenMismatch) {
		t.Errorf("forged token: %v", err)
	}
	if _, err := tk.Finish(ctx, l, "alice", "", "v"); !errors.Is(err, ErrTokenMismatch) {
		t.Errorf("empty token: %v", err)
	}
	// Denied: nothing stored, the dance forgotten, the working token kept.
	r.approve(t, tok, "alice", false)
	if _, err := tk.Finish(ctx, l, "alice", tok, "denied"); !errors.Is(err, ErrDenied) {
		t.Errorf("denied: %v", err)
	}
	if _, err := st.GetRemote(ctx, pendingRemote(l.Remote()), "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("dance kept after denial: %v", err)
	}
	if got, _ := tk.AccessToken(ctx, l.Remote(), "alice"); got == nil || got.Token != working.Token {
		t.Errorf("denial touched the working token: %v", got)
	}

	// A wrong verifier: the remote refuses; typed error with its problem.
	authURL, _ = tk.Start(ctx, l, "carol", callback)
	tok = tokenOf(t, authURL)
	r.approve(t, tok, "carol", true)
	_, err = tk.Finish(ctx, l, "carol", tok, "wrong-verifier")
	var rerr *RemoteError
	if !errors.As(err, &rerr) || rerr.Problem != oauth1.TokenRejected || rerr.Status != 401 || rerr.Endpoint != "access-token" {
		t.Errorf("wrong verifier: %v", err)
	}

	// Too slow: the dance expires with the request token's lifetime.
	authURL, _ = tk.Start(ctx, l, "dave", callback)
	tok = tokenOf(t, authURL)
	clk.Add(DefaultPendingTTL + time.Second)
	if _, err := tk.Finish(ctx, l, "dave", tok, "v"); !errors.Is(err, ErrDanceExpired) {
		t.Errorf("late answer: %v", err)
	}
}

// TestSealed: with a Sealer nothing of the token is readable in the store;
// another key cannot open it.
func TestSealed(t *testing.T) {
	clk, r, l, st, _ := linked(t)
	sealer, _ := provider.NewSealer("0123456789abcdef-consumer-test")
	tk := newTokens(clk, st, sealer, l)
	ctx := context.Background()
	authURL, _ := tk.Start(ctx, l, "alice", callback)
	tok := tokenOf(t, authURL)
	rec, err := st.GetRemote(ctx, pendingRemote(l.Remote()), "alice")
	if err != nil || !rec.Pending || rec.Token != "" || len(rec.Sealed) == 0 || bytes.Contains(rec.Sealed, []byte(tok)) {
		t.Errorf("pending record %+v, %v", rec, err)
	}
	s, err := tk.Finish(ctx, l, "alice", tok, r.approve(t, tok, "alice", true))
	if err != nil {
		t.Fatal(err)
	}
	rec, _ = st.GetRemote(ctx, l.Remote(), "alice")
	if rec.Token != "" || rec.Secret != "" || rec.SessionHandle != "" || rec.Pending ||
		bytes.Contains(rec.Sealed, []byte(s.Token)) || bytes.Contains(rec.Sealed, []byte(s.SessionHandle)) {
		t.Errorf("access record not sealed: %+v", rec)
	}
	if got, err := tk.AccessToken(ctx, l.Remote(), "alice"); err != nil || got.Token != s.Token || got.Secret != s.Secret {
		t.Errorf("sealed token read back as %v, %v", got, err)
	}
	// Moved to another user: does not open.
	moved := *rec
	moved.User = "mallory"
	_ = st.PutRemote(ctx, &moved)
	if _, err := tk.AccessToken(ctx, l.Remote(), "mallory"); !errors.Is(err, ErrSealed) {
		t.Errorf("moved record: %v", err)
	}
	other, _ := provider.NewSealer("another-key-0123456789")
	if _, err := newTokens(clk, st, other, l).AccessToken(ctx, l.Remote(), "alice"); !errors.Is(err, ErrSealed) {
		t.Errorf("other key: %v", err)
	}
	if _, err := newTokens(clk, st, nil, l).AccessToken(ctx, l.Remote(), "alice"); !errors.Is(err, ErrSealed) {
		t.Errorf("no key: %v", err)
	}
	// An unsealed record stays readable once a key is configured.
	plain := newTokens(clk, st, nil, l)
	p := dance(t, r, plain, l, "erin", "erin")
	if got, err := tk.AccessToken(ctx, l.Remote(), "erin"); err != nil || got.Token != p.Token {
		t.Errorf("plain record with a sealer: %v, %v", got, err)
	}
}

// TestRenewal: a token within the renewal window is renewed through its
// session handle before use; the old one dies at the remote; the session
// handle and lifetimes are updated.
func TestRenewal(t *testing.T) {
	clk, r, l, _, tk := linked(t)
	ctx := context.Background()
	s := dance(t, r, tk, l, "alice", "alice")
	calls := r.calls.Load()

	clk.Add(45 * time.Minute) // 15 minutes left: outside the window
	got, err := tk.AccessToken(ctx, l.Remote(), "alice")
	if err != nil || got.Token != s.Token || r.calls.Load() != calls {
		t.Fatalf("outside the window: %v %v, %d renewals", got, err, r.calls.Load()-calls)
	}
	clk.Add(6 * time.Minute) // 9 minutes left
	got, err = tk.AccessToken(ctx, l.Remote(), "alice")
	if err != nil || got.Token == s.Token || r.user(got.Token) != "alice" {
		t.Fatalf("inside the window: %v %v", got, err)
	}
	if r.user(s.Token) != "" {
		t.Error("the old token still works at the remote")
	}
	n, _ := tk.Get(ctx, l.Remote(), "alice")
	if n.Token != got.Token || n.SessionHandle == s.SessionHandle || n.Expires.Sub(clk.Now()) != time.Hour {
		t.Errorf("renewed record %+v", n)
	}

	// Expired, but the session lives: renewed on use.
	clk.Add(2 * time.Hour)
	again, err := tk.AccessToken(ctx, l.Remote(), "alice")
	if err != nil || again.Token == got.Token || r.user(again.Token) != "alice" {
		t.Fatalf("expired token: %v %v", again, err)
	}

	// Session over: forgotten, the user must dance again.
	clk.Add(49 * time.Hour)
	if _, err := tk.AccessToken(ctx, l.Remote(), "alice"); !errors.Is(err, ErrNoAccessToken) {
		t.Errorf("after the session: %v", err)
	}
	if _, err := tk.Get(ctx, l.Remote(), "alice"); !errors.Is(err, ErrNoAccessToken) {
		t.Errorf("dead record kept: %v", err)
	}
}

// TestRenewalFailures: a refused renewal forgets the token (typed error
// with the problem); an unreachable remote keeps a still-valid token in
// use, and an expired one is an ErrRemoteUnavailable.
func TestRenewalFailures(t *testing.T) {
	clk, r, l, _, tk := linked(t)
	ctx := context.Background()

	s := dance(t, r, tk, l, "alice", "alice")
	clk.Add(55 * time.Minute) // within the 10 minute window
	r.down.Store(true)
	got, err := tk.AccessToken(ctx, l.Remote(), "alice")
	if err != nil || got.Token != s.Token {
		t.Errorf("remote down, token valid: %v %v", got, err)
	}
	clk.Add(10 * time.Minute) // expired
	if _, err := tk.AccessToken(ctx, l.Remote(), "alice"); !errors.Is(err, ErrRemoteUnavailable) || errors.Is(err, ErrNoAccessToken) {
		t.Errorf("remote down, token expired: %v", err)
	}
	if _, err := tk.Get(ctx, l.Remote(), "alice"); err != nil {
		t.Errorf("token forgotten while the remote was down: %v", err)
	}
	r.down.Store(false)

	// Revoked at the remote: the renewal is refused, the token forgotten.
	if _, err := r.tokens.Delete(ctx, store.Filter{User: "alice"}); err != nil {
		t.Fatal(err)
	}
	_, err = tk.AccessToken(ctx, l.Remote(), "alice")
	var rerr *RemoteError
	if !errors.Is(err, ErrNoAccessToken) || !errors.As(err, &rerr) || rerr.Problem != oauth1.TokenRejected {
		t.Errorf("revoked: %v", err)
	}
	if _, err := tk.Get(ctx, l.Remote(), "alice"); !errors.Is(err, ErrNoAccessToken) {
		t.Errorf("refused token kept: %v", err)
	}

	// No link to renew through: a valid token is used, an expired one is gone.
	b := dance(t, r, tk, l, "bob", "bob")
	bare := newTokens(clk, tk.Store, nil)
	clk.Add(59 * time.Minute)
	if got, err := bare.AccessToken(ctx, l.Remote(), "bob"); err != nil || got.Token != b.Token {
		t.Errorf("no link, valid: %v %v", got, err)
	}
	clk.Add(2 * time.Minute)
	if _, err := bare.AccessToken(ctx, l.Remote(), "bob"); !errors.Is(err, ErrNoAccessToken) {
		t.Errorf("no link, expired: %v", err)
	}
}

// TestRenewalCoalesced: concurrent requests renew once.
func TestRenewalCoalesced(t *testing.T) {
	clk, r, l, _, tk := linked(t)
	dance(t, r, tk, l, "alice", "alice")
	clk.Add(2 * time.Hour)
	before := r.calls.Load()
	release := make(chan struct{})
	r.beforeAccess = func(int) { <-release }
	var wg sync.WaitGroup
	toks := make([]string, 20)
	errs := make([]error, 20)
	for i := range toks {
		wg.Go(func() {
			got, err := tk.AccessToken(context.Background(), l.Remote(), "alice")
			errs[i] = err
			if got != nil {
				toks[i] = got.Token
			}
		})
	}
	time.Sleep(200 * time.Millisecond)
	close(release)
	wg.Wait()
	for i := range toks {
		if errs[i] != nil || toks[i] != toks[0] || r.user(toks[i]) != "alice" {
			t.Fatalf("request %d: %q %v", i, toks[i], errs[i])
		}
	}
	if n := r.calls.Load() - before; n != 1 {
		t.Errorf("%d renewals, want 1", n)
	}
}

// TestRenewedElsewhere: two processes sharing a store renew at once; the
// remote accepts one, and the other, refused, picks up the token the
// winner stored instead of forgetting it.
func TestRenewedElsewhere(t *testing.T) {
	clk, r, l, st, a := linked(t)
	b := newTokens(clk, st, nil, l)
	old := dance(t, r, a, l, "alice", "alice")
	clk.Add(2 * time.Hour)
	first, second := make(chan struct{}), make(chan struct{})
	r.beforeAccess = func(n int) {
		switch n {
		case 1: // both have read the old record before either renews
			<-second
		case 2:
			close(second)
			// the first renewal is answered and stored before this one is processed
			deadline := time.Now().Add(5 * time.Second)
			for time.Now().Before(deadline) {
				if cur, _ := a.Get(context.Background(), l.Remote(), "alice"); cur != nil && cur.Token != old.Token {
					close(first)
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	}
	var wg sync.WaitGroup
	var ta, tb string
	var ea, eb error
	wg.Go(func() {
		got, err := a.AccessToken(context.Background(), l.Remote(), "alice")
		ea = err
		if got != nil {
			ta = got.Token
		}
	})
	wg.Go(func() {
		time.Sleep(50 * time.Millisecond)
		got, err := b.AccessToken(context.Background(), l.Remote(), "alice")
		eb = err
		if got != nil {
			tb = got.Token
		}
	})
	wg.Wait()
	select {
	case <-first:
	default:
		t.Fatal("the scenario did not happen in order")
	}
	if ea != nil || eb != nil || ta != tb || r.user(ta) != "alice" {
		t.Errorf("a: %q %v; b: %q %v", ta, ea, tb, eb)
	}
	if cur, _ := a.Get(context.Background(), l.Remote(), "alice"); cur == nil || cur.Token != ta {
		t.Errorf("stored %v, want the winner's token", cur)
	}
}

// TestForgetAndExpire: the transport's reactions to a remote's refusal of
// a 3LO request act only on the token it used.
func TestForgetAndExpire(t *testing.T) {
	_, r, l, _, tk := linked(t)
	ctx := context.Background()
	s := dance(t, r, tk, l, "alice", "alice")
	if tk.Forget(ctx, l.Remote(), "alice", "some-older-token") {
		t.Error("Forget deleted a token it was not given")
	}
	if !tk.Expire(ctx, l.Remote(), "alice", s.Token) {
		t.Error("Expire: a token with a live session must be renewable")
	}
	got, err := tk.AccessToken(ctx, l.Remote(), "alice")
	if err != nil || got.Token == s.Token || r.user(got.Token) != "alice" {
		t.Errorf("after Expire: %v %v (want a renewed token)", got, err)
	}
	if !tk.Forget(ctx, l.Remote(), "alice", got.Token) {
		t.Error("Forget of the current token")
	}
	if _, err := tk.AccessToken(ctx, l.Remote(), "alice"); !errors.Is(err, ErrNoAccessToken) {
		t.Errorf("after Forget: %v", err)
	}
}

// TestLinkRefusals: the remote's refusals of our token requests are typed,
// with the problem; unreachable or failing remotes are
// ErrRemoteUnavailable; redirects are refusals naming the Location.
func TestLinkRefusals(t *testing.T) {
	clk := testkit.NewClock(time.Now())
	r := newRemote(t, clk)
	ctx := context.Background()

	_, err := r.link(t, otherKey()).FetchRequestToken(ctx, "oob")
	var rerr *RemoteError
	if !errors.As(err, &rerr) || rerr.Problem != oauth1.SignatureInvalid || rerr.Status != 401 || rerr.Endpoint != "request-token" {
		t.Errorf("wrong key: %v", err)
	}
	l := r.link(t, ourKey())
	if _, err := l.FetchRequestToken(ctx, "not a url"); !errors.As(err, &rerr) || rerr.Problem != oauth1.ParameterRejected {
		t.Errorf("bad callback: %v", err)
	}
	rt, err := l.FetchRequestToken(ctx, "")
	if err != nil || rt.CallbackConfirmed {
		t.Errorf("OAuth 1.0 request token: %+v %v", rt, err)
	}
	if _, err := l.ExchangeRequestToken(ctx, nil, ""); err == nil {
		t.Error("exchange without a token")
	}
	_, err = l.ExchangeRequestToken(ctx, &signer.Token{Token: rt.Token, Secret: rt.Secret}, "")
	if !errors.As(err, &rerr) || rerr.Problem != oauth1.PermissionUnknown {
		t.Errorf("unapproved: %v", err)
	}

	r.down.Store(true)
	if _, err := l.FetchRequestToken(ctx, "oob"); !errors.Is(err, ErrRemoteUnavailable) {
		t.Errorf("503: %v", err)
	}
	r.down.Store(false)
	r.srv.Close()
	if _, err := l.FetchRequestToken(ctx, "oob"); !errors.Is(err, ErrRemoteUnavailable) {
		t.Errorf("closed: %v", err)
	}

	redirecting := &Link{ID: "x", Signer: l.Signer, Do: func(req *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 302, Header: http.Header{"Location": {"https://sso.example.com/login"}},
			Body: http.NoBody, Request: req}, nil
	}}
	if _, err := redirecting.FetchRequestToken(ctx, "oob"); !errors.As(err, &rerr) || !strings.Contains(rerr.Detail, "sso.example.com") {
		t.Errorf("redirect: %v", err)
	}
}

// TestRenewWindow: by default a token renews a day before it expires; a
// negative window renews only expired tokens.
func TestRenewWindow(t *testing.T) {
	clk := testkit.NewClock(time.Now())
	r := newRemote(t, clk) // access tokens live 1 h
	l := r.link(t, ourKey())
	ctx := context.Background()
	def := newTokens(clk, store.NewMemoryTokens(), nil, l)
	def.RenewBefore = 0
	s := dance(t, r, def, l, "alice", "alice")
	if got, err := def.AccessToken(ctx, l.Remote(), "alice"); err != nil || got.Token == s.Token {
		t.Errorf("default window (24h) with a 1h token: %v %v, want a renewal", got, err)
	}
	late := newTokens(clk, store.NewMemoryTokens(), nil, l)
	late.RenewBefore = -1
	s = dance(t, r, late, l, "bob", "bob")
	clk.Add(59 * time.Minute)
	if got, err := late.AccessToken(ctx, l.Remote(), "bob"); err != nil || got.Token != s.Token {
		t.Errorf("negative window, not expired: %v %v", got, err)
	}
	clk.Add(time.Minute)
	if got, err := late.AccessToken(ctx, l.Remote(), "bob"); err != nil || got.Token == s.Token {
		t.Errorf("negative window, expired: %v %v", got, err)
	}
}

// TestListHeldStates: what administrators see for each kind of record,
// with a dance in progress under its remote's own name.
func TestListHeldStates(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	s := store.NewMemoryTokens()
	const jira = "https://jira.example.com"
	for _, rt := range []*store.RemoteToken{
		{Remote: jira, User: "live", Expires: now.Add(time.Hour)},
		{Remote: jira, User: "renewable", Expires: now.Add(-time.Hour), SessionEnds: now.Add(time.Hour)},
		{Remote: jira, User: "dead", Expires: now.Add(-time.Hour), SessionEnds: now.Add(-time.Minute)},
		{Remote: pendingRemote(jira), User: "dancing", Pending: true, Expires: now.Add(time.Minute)},
		{Remote: pendingRemote(jira), User: "gave-up", Pending: true, Expires: now.Add(-time.Minute)},
	} {
		if err := s.PutRemote(ctx, rt); err != nil {
			t.Fatal(err)
		}
	}
	held, err := ListHeld(ctx, s, jira, "", now)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, h := range held {
		if h.Remote != jira {
			t.Errorf("%s listed under %q", h.User, h.Remote)
		}
		got[h.User] = h.State
	}
	want := map[string]string{"live": "active", "renewable": "active", "dead": "expired", "dancing": "pending", "gave-up": "expired"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("states %v\nwant   %v", got, want)
	}
	if n, err := ForgetHeld(ctx, s, jira, "gave-up"); n != 1 || err != nil {
		t.Errorf("ForgetHeld(gave-up) = %d, %v", n, err)
	}
	if n, _ := ForgetHeld(ctx, s, "", "live"); n != 1 {
		t.Errorf("ForgetHeld(any remote, live) = %d", n)
	}
	if held, _ := ListHeld(ctx, s, "", "", now); len(held) != 3 {
		t.Errorf("%d left, want 3", len(held))
	}
	// The sweep takes what lists as expired, and only that.
	_ = s.PutRemote(ctx, &store.RemoteToken{Remote: pendingRemote(jira), User: "gave-up", Pending: true, Expires: now.Add(-time.Minute)})
	if n, err := SweepHeld(ctx, s, now); n != 2 || err != nil {
		t.Errorf("SweepHeld = %d, %v; want the dead token and the lapsed dance", n, err)
	}
	got = map[string]string{}
	held, _ = ListHeld(ctx, s, "", "", now)
	for _, h := range held {
		got[h.User] = h.State
	}
	if want := map[string]string{"renewable": "active", "dancing": "pending"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after the sweep %v, want %v", got, want)
	}
}

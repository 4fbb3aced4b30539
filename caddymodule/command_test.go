package caddymodule

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-applink/caddy-applink/internal/store"
)

// startProxyWithStateFile starts a proxy on a fresh state file and returns
// the store its running config uses, shared through the pool.
func startProxyWithStateFile(t *testing.T) store.StateStore {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	startProxy(t, newRecorder(t), "state file "+path, "")
	// The running config holds the file: this shares it, and needs no
	// config of its own.
	st, err := acquireState(caddy.Context{Context: context.Background()}, &StateConfig{Backend: "file", Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { releaseState(st.key) })
	return st.store
}

// TestRemoteTokensCommand drives "applink remote-tokens" against a running
// proxy's admin API: the consumer-side tokens in its state file are listed
// (never their values) and forgotten by user.
func TestRemoteTokensCommand(t *testing.T) {
	rs := startProxyWithStateFile(t)
	now := time.Now()
	for _, rt := range []*store.RemoteToken{
		{Remote: "https://jira.example.com", User: "alice", Token: "secret-token-value", Secret: "s3cr3t", Created: now, Expires: now.Add(time.Hour)},
		{Remote: "https://jira.example.com", User: "bob", Token: "t", Created: now, Expires: now.Add(-time.Hour)},
		{Remote: "https://bamboo.example.com", User: "alice", Token: "t", Created: now, Expires: now.Add(-time.Hour), SessionEnds: now.Add(time.Hour)},
	} {
		if err := rs.PutRemote(context.Background(), rt); err != nil {
			t.Fatal(err)
		}
	}
	admin := fmt.Sprintf("localhost:%d", handlerAdminPort)
	run := func(action string, sel forgetRequest, asJSON bool) string {
		t.Helper()
		var out bytes.Buffer
		if err := remoteTokens(admin, action, sel, asJSON, &out); err != nil {
			t.Fatalf("remote-tokens %s %+v: %v", action, sel, err)
		}
		return out.String()
	}
	list := run("list", forgetRequest{}, false)
	for _, want := range []string{
		"https://jira.example.com    alice  active",
		"https://jira.example.com    bob    expired",
		"https://bamboo.example.com  alice  active", // renewable: its session lasts
	} {
		if !strings.Contains(list, want) {
			t.Errorf("list lacks %q:\n%s", want, list)
		}
	}
	if js := run("list", forgetRequest{}, true); strings.Contains(js+list, "secret-token-value") || strings.Contains(js+list, "s3cr3t") {
		t.Errorf("a token value or secret is shown:\n%s\n%s", list, js)
	}
	if got := run("list", forgetRequest{User: "alice", Remote: "https://bamboo.example.com"}, false); strings.Count(got, "\n") != 2 {
		t.Errorf("filtered list:\n%s", got)
	}
	if err := remoteTokens(admin, "forget", forgetRequest{}, false, &bytes.Buffer{}); err == nil {
		t.Error("forget without a selector ran")
	}
	if got := run("forget", forgetRequest{User: "alice"}, false); got != "forgot 2 token(s)\n" {
		t.Errorf("forget: %q", got)
	}
	if list := run("list", forgetRequest{}, false); strings.Contains(list, "alice") || !strings.Contains(list, "bob") {
		t.Errorf("after forgetting alice:\n%s", list)
	}
}

// TestTokensCommand drives "applink tokens" against a running proxy's
// admin API: the provider-side tokens of its state file are listed (by
// ID, never by value), filtered and revoked by user, in this order.
func TestTokensCommand(t *testing.T) {
	s := startProxyWithStateFile(t)
	now := time.Now()
	for _, tok := range []*store.Token{
		{ID: store.TokenID("alice-token-value"), Kind: store.AccessToken, Consumer: "bamboo:93f2", User: "alice", Created: now, Expires: now.Add(time.Hour)},
		{ID: store.TokenID("bob-token-value"), Kind: store.AccessToken, Consumer: "bamboo:93f2", User: "bob", Created: now, Expires: now.Add(time.Hour), LastUsed: now},
	} {
		if err := s.Put(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	alice := store.TokenID("alice-token-value")
	for _, c := range []struct {
		action    string
		sel       revokeRequest
		asJSON    bool
		want, not []string // what the output has, and has not
		lines     int      // how many lines, 0 for any
	}{
		{"list", revokeRequest{}, false, []string{"ID ", "LAST USED", alice, "bob"}, []string{"-token-value"}, 3},
		{"list", revokeRequest{}, true, []string{"[", alice}, []string{"-token-value"}, 0},
		{"list", revokeRequest{User: "bob"}, false, []string{"bob"}, []string{"alice"}, 2},
		{"revoke", revokeRequest{}, false, nil, nil, -1}, // refused: no selector
		{"revoke", revokeRequest{User: "alice"}, false, []string{"revoked 1 token(s)\n"}, nil, 1},
		{"list", revokeRequest{}, false, []string{"bob"}, []string{"alice"}, 2},
	} {
		var b bytes.Buffer
		err := tokens(fmt.Sprintf("localhost:%d", handlerAdminPort), c.action, c.sel, c.asJSON, &b)
		out := b.String()
		if c.lines < 0 {
			if err == nil {
				t.Errorf("tokens %s %+v ran: %q", c.action, c.sel, out)
			}
			continue
		}
		if err != nil {
			t.Fatalf("tokens %s %+v: %v", c.action, c.sel, err)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("tokens %s %+v lacks %q:\n%s", c.action, c.sel, w, out)
			}
		}
		for _, n := range c.not {
			if strings.Contains(out, n) {
				t.Errorf("tokens %s %+v shows %q:\n%s", c.action, c.sel, n, out)
			}
		}
		if c.lines > 0 && strings.Count(out, "\n") != c.lines {
			t.Errorf("tokens %s %+v: %d lines, want %d:\n%s", c.action, c.sel, strings.Count(out, "\n"), c.lines, out)
		}
	}
}

// TestStateSweeper: the state file drops dead provider tokens, lapsed
// dances and unrenewable consumer-side tokens on its own, and keeps the
// rest.
func TestStateSweeper(t *testing.T) {
	old := sweepEvery.Swap(int64(20 * time.Millisecond))
	defer sweepEvery.Store(old)
	s := startProxyWithStateFile(t)
	ctx := context.Background()
	now := time.Now()
	for _, tok := range []*store.Token{
		{ID: store.TokenID("dead"), Kind: store.AccessToken, Consumer: "c", User: "u", Created: now.Add(-2 * time.Hour), Expires: now.Add(-time.Hour)},
		{ID: store.TokenID("live"), Kind: store.AccessToken, Consumer: "c", User: "u", Created: now, Expires: now.Add(time.Hour)},
	} {
		if err := s.Put(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	rs := s
	for _, rt := range []*store.RemoteToken{
		{Remote: "pending:https://jira.example.com", User: "gave-up", Pending: true, Expires: now.Add(-time.Minute)},
		{Remote: "https://jira.example.com", User: "gone", Expires: now.Add(-time.Hour), SessionEnds: now.Add(-time.Minute)},
		{Remote: "https://jira.example.com", User: "kept", Expires: now.Add(-time.Hour), SessionEnds: now.Add(time.Hour)},
	} {
		if err := rs.PutRemote(ctx, rt); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		tokens, _ := s.List(ctx, store.Filter{})
		held, _ := rs.ListRemote(ctx, "", "")
		if len(tokens) == 1 && len(held) == 1 {
			if tokens[0].ID != store.TokenID("live") || held[0].User != "kept" {
				t.Fatalf("the sweep kept %s and %s", tokens[0].ID, held[0].User)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 5 s: %d tokens and %d held, want 1 and 1", len(tokens), len(held))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

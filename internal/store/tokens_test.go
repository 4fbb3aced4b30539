package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// testTokenStore is the conformance suite every TokenStore must pass.
func testTokenStore(t *testing.T, open func(t *testing.T) TokenStore) {
	ctx := context.Background()
	// The real clock: a store may expire records by itself (Redis does,
	// an hour after a token is dead).
	now := time.Now().UTC().Truncate(time.Second)
	mk := func(value string, kind Kind, consumer, user string) *Token {
		return &Token{ID: TokenID(value), Kind: kind, Consumer: consumer, User: user,
			SealedSecret: []byte("sealed"), Created: now, Expires: now.Add(time.Hour)}
	}

	t.Run("put get", func(t *testing.T) {
		s := open(t)
		tok := mk("a", AccessToken, "c1", "alice")
		if err := s.Put(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, tok); !errors.Is(err, ErrExists) {
			t.Errorf("second Put: %v, want ErrExists", err)
		}
		got, err := s.Get(ctx, TokenID("a"))
		if err != nil || got.User != "alice" || got.Consumer != "c1" || string(got.SealedSecret) != "sealed" || !got.Expires.Equal(tok.Expires) {
			t.Errorf("Get: %+v, %v", got, err)
		}
		if _, err := s.Get(ctx, TokenID("nope")); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get unknown: %v", err)
		}
		// What Get returns is a copy.
		got.User = "mallory"
		if again, _ := s.Get(ctx, TokenID("a")); again.User != "alice" {
			t.Error("Get returned shared state")
		}
	})

	t.Run("update", func(t *testing.T) {
		s := open(t)
		_ = s.Put(ctx, mk("r", RequestToken, "c1", ""))
		got, err := s.Update(ctx, TokenID("r"), func(t *Token) error { t.State, t.User = Approved, "bob"; return nil })
		if err != nil || got.State != Approved {
			t.Fatalf("Update: %+v %v", got, err)
		}
		if g, _ := s.Get(ctx, TokenID("r")); g.User != "bob" {
			t.Errorf("update not stored: %+v", g)
		}
		boom := errors.New("boom")
		if _, err := s.Update(ctx, TokenID("r"), func(t *Token) error { t.User = "eve"; return boom }); !errors.Is(err, boom) {
			t.Errorf("failing Update: %v", err)
		}
		if g, _ := s.Get(ctx, TokenID("r")); g.User != "bob" {
			t.Errorf("failed update was written: %+v", g)
		}
		if _, err := s.Update(ctx, TokenID("r"), func(*Token) error { return ErrDelete }); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, TokenID("r")); !errors.Is(err, ErrNotFound) {
			t.Errorf("ErrDelete kept the token: %v", err)
		}
		if _, err := s.Update(ctx, TokenID("r"), func(*Token) error { return nil }); !errors.Is(err, ErrNotFound) {
			t.Errorf("Update unknown: %v", err)
		}
	})

	t.Run("update is atomic", func(t *testing.T) {
		// A request token may be exchanged once: of many concurrent
		// exchanges exactly one sees it pending.
		s := open(t)
		_ = s.Put(ctx, mk("x", RequestToken, "c1", ""))
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Update(ctx, TokenID("x"), func(t *Token) error {
					if t.State != Pending {
						return errors.New("used")
					}
					t.State = Approved
					return nil
				})
				if err == nil {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if wins != 1 {
			t.Errorf("%d concurrent updates won, want 1", wins)
		}
	})

	t.Run("remote tokens", func(t *testing.T) {
		s := open(t).(RemoteStore)
		if _, err := s.GetRemote(ctx, "https://jira", "alice"); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetRemote of nothing: %v", err)
		}
		rt := &RemoteToken{Remote: "https://jira", User: "alice", Token: "t1", Secret: "s1", Created: now, Expires: now.Add(time.Hour)}
		if err := s.PutRemote(ctx, rt); err != nil {
			t.Fatal(err)
		}
		rt.Token = "t2" // replaces
		_ = s.PutRemote(ctx, rt)
		_ = s.PutRemote(ctx, &RemoteToken{Remote: "https://jira", User: "bob", Token: "b"})
		got, err := s.GetRemote(ctx, "https://jira", "alice")
		if err != nil || got.Token != "t2" || got.Secret != "s1" {
			t.Errorf("GetRemote: %+v %v", got, err)
		}
		if err := s.DeleteRemote(ctx, "https://jira", "alice"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetRemote(ctx, "https://jira", "alice"); !errors.Is(err, ErrNotFound) {
			t.Errorf("after delete: %v", err)
		}
		if got, _ := s.GetRemote(ctx, "https://jira", "bob"); got == nil || got.Token != "b" {
			t.Error("delete removed another user's token")
		}
	})

	t.Run("list remote tokens", func(t *testing.T) {
		s := open(t).(RemoteStore)
		for _, rt := range []*RemoteToken{
			{Remote: "https://jira", User: "alice", Token: "a1"},
			{Remote: "https://jira", User: "bob", Pending: true, Token: "b1"},
			{Remote: "https://bamboo", User: "alice", Sealed: []byte{1, 2, 3}},
		} {
			if err := s.PutRemote(ctx, rt); err != nil {
				t.Fatal(err)
			}
		}
		names := func(remote, user string) string {
			t.Helper()
			list, err := s.ListRemote(ctx, remote, user)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, rt := range list {
				out = append(out, rt.Remote+"|"+rt.User)
			}
			sort.Strings(out)
			return strings.Join(out, ",")
		}
		for _, tt := range []struct{ remote, user, want string }{
			{"", "", "https://bamboo|alice,https://jira|alice,https://jira|bob"},
			{"https://jira", "", "https://jira|alice,https://jira|bob"},
			{"", "alice", "https://bamboo|alice,https://jira|alice"},
			{"https://bamboo", "alice", "https://bamboo|alice"},
			{"https://bamboo", "bob", ""},
			{"https://jira/", "", ""}, // remotes compare exactly
		} {
			if got := names(tt.remote, tt.user); got != tt.want {
				t.Errorf("ListRemote(%q, %q) = %s, want %s", tt.remote, tt.user, got, tt.want)
			}
		}
		list, _ := s.ListRemote(ctx, "https://bamboo", "")
		if len(list) != 1 || string(list[0].Sealed) != "\x01\x02\x03" {
			t.Errorf("sealed record listed as %+v", list)
		}
		_ = s.DeleteRemote(ctx, "https://jira", "bob")
		if got := names("https://jira", ""); got != "https://jira|alice" {
			t.Errorf("after delete: %s", got)
		}
	})

	t.Run("list delete sweep", func(t *testing.T) {
		s := open(t)
		for i, spec := range []struct {
			kind     Kind
			consumer string
			user     string
		}{{AccessToken, "c1", "alice"}, {AccessToken, "c1", "bob"}, {AccessToken, "c2", "alice"}, {RequestToken, "c1", ""}} {
			if err := s.Put(ctx, mk(fmt.Sprint(i), spec.kind, spec.consumer, spec.user)); err != nil {
				t.Fatal(err)
			}
		}
		count := func(f Filter) int {
			l, err := s.List(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			return len(l)
		}
		if count(Filter{}) != 4 || count(Filter{User: "alice"}) != 2 || count(Filter{Consumer: "c1", Kind: AccessToken}) != 2 || count(Filter{ID: TokenID("2")}) != 1 {
			t.Error("List filters wrong")
		}
		if n, err := s.Delete(ctx, Filter{User: "alice"}); err != nil || n != 2 {
			t.Errorf("Delete by user: %d %v", n, err)
		}
		if n, _ := s.Delete(ctx, Filter{ID: TokenID("1"), User: "not-bob"}); n != 0 {
			t.Error("Delete by ID ignored the other fields")
		}
		if n, _ := s.Delete(ctx, Filter{ID: TokenID("1")}); n != 1 {
			t.Error("Delete by ID")
		}
		live := mk("live", AccessToken, "c1", "x")
		live.Expires = now.Add(-time.Minute)
		live.SessionEnds = now.Add(time.Hour) // renewable: not dead
		_ = s.Put(ctx, live)
		if n, err := s.Sweep(ctx, now.Add(2*time.Hour)); err != nil || n != 2 {
			t.Errorf("Sweep: %d %v, want the request token and the renewable one (both dead by then)", n, err)
		}
		if count(Filter{}) != 0 {
			t.Error("tokens left after sweep")
		}
	})
}

func TestMemoryTokens(t *testing.T) {
	testTokenStore(t, func(*testing.T) TokenStore { return NewMemoryTokens() })
}

func TestBoltTokens(t *testing.T) {
	testTokenStore(t, func(t *testing.T) TokenStore {
		b, err := OpenBolt(filepath.Join(t.TempDir(), "state.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		return b
	})
}

func TestBoltSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "state.db")
	b, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	tok := &Token{ID: TokenID("keep"), Kind: AccessToken, Consumer: "c", User: "u", Expires: time.Now().Add(time.Hour)}
	if err := b.Put(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	_ = b.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode: %v %v", fi, err)
	}
	b, err = OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got, err := b.Get(context.Background(), TokenID("keep")); err != nil || got.User != "u" {
		t.Errorf("after reopen: %+v %v", got, err)
	}
	raw, _ := os.ReadFile(path)
	if strings.Contains(string(raw), "keep") {
		t.Error("the token value is in the state file")
	}
}

func TestBoltLockedAndCorruptFilesNameTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	b, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := OpenBolt(path); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "locked") {
		t.Errorf("second open: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "corrupt.db")
	if err := os.WriteFile(bad, []byte(strings.Repeat("not a bolt file ", 512)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenBolt(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("corrupt file: %v", err)
	}
}

package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

func openJournalAt(t *testing.T, path string, clock *testkit.Clock) *NonceJournal {
	t.Helper()
	j, err := openNonceJournal(path, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = j.Close() })
	return j
}

func TestNonceJournalRestoresLiveRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db.nonces")
	clock := testkit.NewClock(time.Unix(1_800_000_000, 0))
	j := openJournalAt(t, path, clock)
	if j.Restored("a") {
		t.Fatal("a fresh journal restored a key")
	}
	now := clock.Now()
	for key, until := range map[string]time.Time{
		"short": now.Add(30 * time.Second),
		"long":  now.Add(10 * time.Minute),
		"gone":  now.Add(-time.Second), // already expired when appended
	} {
		if err := j.Append(key, until); err != nil {
			t.Fatal(err)
		}
	}
	if j.Restored("long") {
		t.Error("a key appended in this run counts as restored: the memory store answers for those")
	}
	// kill -9: the file is not closed.
	clock.Add(time.Minute)
	j2 := openJournalAt(t, path, clock)
	for key, want := range map[string]bool{"long": true, "short": false, "gone": false, "other": false, "lon": false} {
		if got := j2.Restored(key); got != want {
			t.Errorf("after reopen, Restored(%q) = %v, want %v", key, got, want)
		}
	}
	clock.Add(9 * time.Minute)
	if j2.Restored("long") {
		t.Error("Restored(long) is still true after its until")
	}

	// The rewrite kept only what was live, and the key itself is not in
	// the file (nonce keys hold access tokens).
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(journalHeader) + journalRecord; len(data) != want {
		t.Errorf("rewritten journal is %d bytes, want %d (header and the one live record)", len(data), want)
	}
	if bytes.Contains(data, []byte("long")) {
		t.Error("the journal holds the key in clear")
	}
	if fi, err := os.Stat(path); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("journal mode = %v, want 0600", fi.Mode().Perm())
	}
}

func TestNonceJournalToleratesCrashDebris(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "j")
	clock := testkit.NewClock(time.Unix(1_800_000_000, 0))
	j := openJournalAt(t, path, clock)
	if err := j.Append("kept", clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// A record cut short by a crash of the host, and a temporary file
	// left by a crash during a rewrite.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte{0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	if err := os.WriteFile(path+".tmp", []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	j2 := openJournalAt(t, path, clock)
	if !j2.Restored("kept") {
		t.Error("a torn tail lost the record before it")
	}

	// A file cut short while its header was written holds nothing.
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, journalHeader[:5], 0o600); err != nil {
		t.Fatal(err)
	}
	openJournalAt(t, short, clock)
}

func TestNonceJournalRefusesForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db.nonces")
	if err := os.WriteFile(path, []byte("something else entirely\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := OpenNonceJournal(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not an applink nonce journal") {
		t.Fatalf("OpenNonceJournal on a foreign file = %v; want an error naming it", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "something else entirely\n" {
		t.Error("the foreign file was changed")
	}
}

// TestNonceJournalTurns checks that the journal sets its file aside after a
// turn and deletes it once its records expire, and that a record in the
// set-aside file still counts after a restart.
func TestNonceJournalTurns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	clock := testkit.NewClock(time.Unix(1_800_000_000, 0))
	j := openJournalAt(t, path, clock)
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }

	if err := j.Append("first", clock.Now().Add(15*time.Minute)); err != nil {
		t.Fatal(err)
	}
	clock.Add(journalTurn)
	if err := j.Append("second", clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if !exists(path + ".old") {
		t.Fatal("no file set aside after a turn")
	}
	// Restart now: both files count.
	reopened := func() *NonceJournal {
		k, err := openNonceJournal(path, clock.Now)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k := reopened()
	if !k.Restored("first") || !k.Restored("second") {
		t.Errorf("after a restart, Restored(first, second) = %v, %v; want true, true", k.Restored("first"), k.Restored("second"))
	}
	if exists(path + ".old") {
		t.Error("the set-aside file outlived the rewrite at open")
	}
	_ = k.Close()

	// Without a restart: the set-aside file goes once "first" expires.
	j = openJournalAt(t, path, clock)
	clock.Add(journalTurn)
	if err := j.Append("third", clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if !exists(path + ".old") {
		t.Fatal("no file set aside after the second turn")
	}
	clock.Add(2 * time.Minute)
	if err := j.Append("fourth", clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if exists(path + ".old") {
		t.Error("the set-aside file stayed after all its records expired")
	}
}

func TestNonceJournalClosed(t *testing.T) {
	j, err := OpenNonceJournal(filepath.Join(t.TempDir(), "j"))
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Append("k", time.Now().Add(time.Minute)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
}

// TestJournaledNoncesRefuseRestored drives the store the verifier sees: a
// nonce journaled before a restart is seen, and not fresh, afterwards.
func TestJournaledNoncesRefuseRestored(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	j, err := OpenNonceJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	before := JournaledNonces{Memory: NewMemory(), Journal: j}
	stamp := time.Now().Unix() + 60
	until := time.Unix(stamp, 0).Add(5 * time.Minute)
	if fresh, err := before.Record(ctx, "ahead", stamp, until); !fresh || err != nil {
		t.Fatalf("Record = %v, %v", fresh, err)
	}
	if err := before.JournalAhead(ctx, "ahead", until); err != nil {
		t.Fatal(err)
	}
	// The process dies: neither store is closed.
	j2, err := OpenNonceJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	after := JournaledNonces{Memory: NewMemory(), Journal: j2}
	if seen, err := after.Seen(ctx, "ahead", stamp); !seen || err != nil {
		t.Errorf("Seen after restart = %v, %v; want true", seen, err)
	}
	if fresh, err := after.Record(ctx, "ahead", stamp, until); fresh || err != nil {
		t.Errorf("Record after restart = %v, %v; want false (a replay)", fresh, err)
	}
	if fresh, err := after.Record(ctx, "other", stamp, until); !fresh || err != nil {
		t.Errorf("Record(other) after restart = %v, %v; want true", fresh, err)
	}
}

// TestJournaledNoncesOutliveALongerWindow: the proxy restarts with a longer
// timestamp_window. A nonce journaled under a 1-minute window, stamped 2
// minutes ahead, expired for the old window 61 s after its stamp; the new
// window of an hour accepts its stamp for an hour, so the restarted proxy
// must still refuse its replay then, and may forget it after.
func TestJournaledNoncesOutliveALongerWindow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	const t0 = 1_800_000_000
	clock := testkit.NewClock(time.Unix(t0, 0))
	m, _ := newTestMemory(t0)
	m.now = clock.Now
	before := JournaledNonces{Memory: m, Journal: openJournalAt(t, path, clock)}
	stamp := int64(t0 + 120)
	until := time.Unix(stamp, 0).Add(61 * time.Second)
	if fresh, err := before.Record(ctx, "ahead", stamp, until); !fresh || err != nil {
		t.Fatalf("Record = %v, %v", fresh, err)
	}
	if err := before.JournalAhead(ctx, "ahead", until); err != nil {
		t.Fatal(err)
	}
	// kill -9, and a restart with timestamp_window 1h.
	clock.Add(10 * time.Second)
	m2, _ := newTestMemory(t0 + 10)
	m2.now = clock.Now
	after := JournaledNonces{Memory: m2, Journal: openJournalAt(t, path, clock)}
	for _, at := range []int64{stamp + 30, stamp + 61, stamp + 3600} {
		clock.Set(time.Unix(at, 0))
		if seen, err := after.Seen(ctx, "ahead", stamp); !seen || err != nil {
			t.Errorf("stamp%+d s: Seen = %v, %v; want true (the new window still accepts the stamp)", at-stamp, seen, err)
		}
	}
	clock.Set(time.Unix(stamp+61+3600, 0))
	if seen, _ := after.Seen(ctx, "ahead", stamp); seen {
		t.Error("still restored after the longest window a restart could bring")
	}
}

func BenchmarkNonceJournalAppend(b *testing.B) {
	j, err := OpenNonceJournal(filepath.Join(b.TempDir(), "j"))
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	until := time.Now().Add(5 * time.Minute)
	key := "consumer\x00\x001800000000\x00" + strings.Repeat("n", 32)
	b.ReportAllocs()
	for b.Loop() {
		if err := j.Append(key, until); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzParseJournal feeds the journal parser any content: it never panics,
// refuses only what does not start as a journal, and restores exactly the
// whole records that are live.
func FuzzParseJournal(f *testing.F) {
	rec := func(until int64, key string) []byte { return encodeRecord(nonceDigest(key), until) }
	journal := func(parts ...[]byte) []byte { return bytes.Join(append([][]byte{journalHeader}, parts...), nil) }
	f.Add([]byte{})
	f.Add(bytes.Clone(journalHeader[:7]))
	f.Add(journal(rec(1_800_000_100, "k")))
	f.Add(journal(rec(1_800_000_100, "k"), rec(1_799_999_000, "old"), []byte{1, 2, 3}))
	f.Add([]byte("applink nonce journal 2\n"))
	const now = 1_800_000_000
	f.Fuzz(func(t *testing.T, data []byte) {
		// A few hundred records say all there is to say; megabytes of them
		// only slow the search. Cut, not skipped: a skip would be a path
		// of its own for the fuzzer to explore and minimize.
		data = data[:min(len(data), 1<<10)]
		restored := map[[digestSize]byte]int64{}
		latest, err := parseJournal(data, now, restored)
		isJournal := bytes.HasPrefix(data, journalHeader) || bytes.HasPrefix(journalHeader, data)
		if err != nil {
			if isJournal {
				t.Fatalf("a journal was refused: %v", err)
			}
			return
		}
		if !isJournal {
			t.Fatal("foreign content was taken for a journal")
		}
		want := map[[digestSize]byte]int64{}
		var wantLatest int64
		if len(data) > len(journalHeader) {
			for body := data[len(journalHeader):]; len(body) >= journalRecord; body = body[journalRecord:] {
				if until := int64(binary.BigEndian.Uint64(body)); until > now {
					d := [digestSize]byte(body[8:journalRecord])
					want[d] = max(want[d], until)
					wantLatest = max(wantLatest, until)
				}
			}
		}
		if latest != wantLatest || len(restored) != len(want) {
			t.Fatalf("restored %d records until %d, want %d until %d", len(restored), latest, len(want), wantLatest)
		}
		for d, until := range want {
			if restored[d] != until {
				t.Fatalf("record %x restored until %d, want %d", d, restored[d], until)
			}
		}
	})
}

// TestNonceJournalTurnFailure: a turn that cannot set the file aside fails
// the append (the verifier then answers 503), loses no record, and the next
// append, once the obstacle is gone, succeeds.
func TestNonceJournalTurnFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	clock := testkit.NewClock(time.Unix(1_800_000_000, 0))
	j := openJournalAt(t, path, clock)
	if err := j.Append("before", clock.Now().Add(20*time.Minute)); err != nil {
		t.Fatal(err)
	}
	// A directory with something in it where the set-aside file goes.
	if err := os.MkdirAll(filepath.Join(path+".old", "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	clock.Add(journalTurn)
	if err := j.Append("refused", clock.Now().Add(time.Minute)); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Append with the turn blocked = %v; want an error naming the journal", err)
	}
	if err := os.RemoveAll(path + ".old"); err != nil {
		t.Fatal(err)
	}
	if err := j.Append("after", clock.Now().Add(time.Minute)); err != nil {
		t.Fatalf("Append once the turn can proceed: %v", err)
	}
	k, err := openNonceJournal(path, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	for key, want := range map[string]bool{"before": true, "after": true, "refused": false} {
		if got := k.Restored(key); got != want {
			t.Errorf("after reopen, Restored(%q) = %v, want %v", key, got, want)
		}
	}
}

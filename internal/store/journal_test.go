package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

var (
	testJournalID = [16]byte{1, 2, 3}
	thisBoot      = [16]byte{'b', 'o', 'o', 't', 1}
	nextBoot      = [16]byte{'b', 'o', 'o', 't', 2}
)

const t0 = 1_800_000_000

// journalFixture opens journals of one state file at a settable clock, as
// successive runs of the proxy would.
type journalFixture struct {
	t     *testing.T
	state string
	clock *testkit.Clock
}

func newJournalFixture(t *testing.T) *journalFixture {
	return &journalFixture{t: t, state: filepath.Join(t.TempDir(), "state.db"), clock: testkit.NewClock(time.Unix(t0, 0))}
}

// open starts a run: fresh for the first run of a new state file.
func (f *journalFixture) open(fresh bool, boot [16]byte) *NonceJournal {
	f.t.Helper()
	j, err := openNonceJournal(f.state, testJournalID, fresh, f.clock.Now, boot)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { _ = j.Close() })
	return j
}

func (f *journalFixture) append(j *NonceJournal, key string, stamp int64, keep time.Duration) {
	f.t.Helper()
	if err := j.Append(NonceDigest(key), stamp, time.Unix(stamp, 0).Add(keep)); err != nil {
		f.t.Fatal(err)
	}
}

func (f *journalFixture) segments() []string {
	f.t.Helper()
	m, err := filepath.Glob(filepath.Join(JournalPathFor(f.state), "seg-*"))
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

func restored(j *NonceJournal, key string) bool { return j.Restored(NonceDigest(key)) }

// TestNonceJournalRestartsWithoutAFloor: a first start, a graceful restart
// and a crash (the journal is never closed, as after kill -9) all start
// with no floor, and every nonce accepted before is restored.
func TestNonceJournalRestartsWithoutAFloor(t *testing.T) {
	f := newJournalFixture(t)
	j := f.open(true, thisBoot)
	if s := j.Since().Unix(); s > 0 {
		t.Fatalf("a first start has a floor at %d", s)
	}
	if restored(j, "a") {
		t.Fatal("a fresh journal restored a key")
	}
	f.append(j, "behind", t0-30, 301*time.Second) // a client 30 s behind
	f.append(j, "now", t0, 301*time.Second)
	if restored(j, "now") {
		t.Error("a key appended in this run counts as restored: the memory store answers for those")
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	f.clock.Add(10 * time.Second)
	j2 := f.open(false, thisBoot)
	if s := j2.Since().Unix(); s > 0 || len(j2.Ignored()) > 0 {
		t.Fatalf("after a graceful restart: floor %d, ignored %v; want none", s, j2.Ignored())
	}
	for _, k := range []string{"behind", "now"} {
		if !restored(j2, k) {
			t.Errorf("after a graceful restart, %q is not restored", k)
		}
	}
	f.append(j2, "second run", t0+10, 301*time.Second)

	// kill -9: j2 is not closed; the next run opens the same files.
	f.clock.Add(5 * time.Second)
	j3 := f.open(false, thisBoot)
	if s := j3.Since().Unix(); s > 0 || len(j3.Ignored()) > 0 {
		t.Fatalf("after a crash of the process: floor %d, ignored %v; want none", s, j3.Ignored())
	}
	for _, k := range []string{"behind", "now", "second run"} {
		if !restored(j3, k) {
			t.Errorf("after a crash, %q is not restored", k)
		}
	}
	if restored(j3, "never appended") {
		t.Error("a key never appended is restored")
	}

	// The files hold digests, never keys, and only the proxy may read them.
	for _, p := range f.segments() {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte("second run")) {
			t.Errorf("%s holds a key in clear", p)
		}
		if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", p, fi.Mode().Perm())
		}
	}
}

// TestNonceJournalDistrustsAHostCrash: a segment left unclean in an
// earlier boot may have lost its last records with the page cache, so the
// start refuses what was stamped before it; the floor survives the next
// restart, and the records that are there are still restored.
func TestNonceJournalDistrustsAHostCrash(t *testing.T) {
	f := newJournalFixture(t)
	j := f.open(true, thisBoot)
	f.append(j, "k", t0, 301*time.Second)
	// The host dies: no Close. It boots again.
	f.clock.Add(30*time.Second + 500*time.Millisecond)
	j2 := f.open(false, nextBoot)
	want := int64(t0 + 31) // the start second, rounded up
	if s := j2.Since().Unix(); s != want {
		t.Errorf("after a host crash, floor = %d, want %d", s, want)
	}
	if ig := j2.Ignored(); len(ig) != 1 || !strings.Contains(ig[0], "not closed cleanly before the host restarted") {
		t.Errorf("Ignored() = %q", ig)
	}
	if !restored(j2, "k") {
		t.Error("the records of an unclean segment are not restored")
	}
	if err := j2.Close(); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(time.Second)
	j3 := f.open(false, nextBoot)
	if s := j3.Since().Unix(); s != want {
		t.Errorf("the floor did not survive a graceful restart: %d, want %d", s, want)
	}
	if len(j3.Ignored()) != 0 {
		t.Errorf("a graceful close left segments untrusted: %q", j3.Ignored())
	}
}

// TestNonceJournalSetsAsideWhatItCannotTrust: a torn, foreign or
// truncated segment, another state file's segment, a missing journal
// beside a used state file: each starts with a floor, names the file and
// why, and never stops the start.
func TestNonceJournalSetsAsideWhatItCannotTrust(t *testing.T) {
	for _, tc := range []struct {
		name    string
		damage  func(t *testing.T, f *journalFixture)
		why     string
		setAsid bool
	}{
		{"torn header", func(t *testing.T, f *journalFixture) {
			writeFile(t, filepath.Join(JournalPathFor(f.state), "seg-00000000000000ff-1"), []byte(segmentMagic[:9]))
		}, "torn while it was being created", true},
		{"foreign file", func(t *testing.T, f *journalFixture) {
			writeFile(t, filepath.Join(JournalPathFor(f.state), "seg-00000000000000ff-2"), []byte("my notes\n"))
		}, "not an applink nonce journal segment", true},
		{"another state file", func(t *testing.T, f *journalFixture) {
			other, err := openNonceJournal(filepath.Join(t.TempDir(), "other.db"), [16]byte{9}, true, f.clock.Now, thisBoot)
			if err != nil {
				t.Fatal(err)
			}
			_ = other.Close()
			m, _ := filepath.Glob(filepath.Join(other.dir, "seg-*"))
			data, _ := os.ReadFile(m[0])
			writeFile(t, filepath.Join(JournalPathFor(f.state), "seg-00000000000000ff-3"), data)
		}, "written for another state file", true},
		{"unreadable", func(t *testing.T, f *journalFixture) {
			// A directory where a segment is: reading it fails, as a
			// segment whose permissions or disk went bad would.
			if err := os.Mkdir(filepath.Join(JournalPathFor(f.state), "seg-00000000000000ff-4"), 0o700); err != nil {
				t.Fatal(err)
			}
		}, "unreadable", false},
		{"truncated", func(t *testing.T, f *journalFixture) {
			for _, p := range f.segments() {
				if err := os.Truncate(p, segmentHeader+journalRecord); err != nil {
					t.Fatal(err)
				}
			}
		}, "truncated", false},
		{"missing", func(t *testing.T, f *journalFixture) {
			if err := os.RemoveAll(JournalPathFor(f.state)); err != nil {
				t.Fatal(err)
			}
		}, "no journal beside a state file that has been used", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newJournalFixture(t)
			j := f.open(true, thisBoot)
			f.append(j, "first", t0, 301*time.Second)
			f.append(j, "second", t0, 301*time.Second)
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			tc.damage(t, f)
			f.clock.Add(2 * time.Second)
			j2 := f.open(false, thisBoot)
			if s := j2.Since().Unix(); s != t0+2 {
				t.Errorf("floor = %d, want %d (the start)", s, t0+2)
			}
			ig := j2.Ignored()
			if len(ig) != 1 || !strings.Contains(ig[0], tc.why) || !strings.Contains(ig[0], JournalPathFor(f.state)) {
				t.Fatalf("Ignored() = %q; want one entry naming the journal and %q", ig, tc.why)
			}
			if tc.setAsid {
				if m, _ := filepath.Glob(filepath.Join(JournalPathFor(f.state), "*.ignored")); len(m) != 1 {
					t.Errorf("set aside: %v; want the one file, kept", m)
				}
			}
			if tc.name == "truncated" && (!restored(j2, "first") || restored(j2, "second")) {
				t.Error("a truncated segment lost the record before the cut, or kept the one after")
			}
			// The floor is carried on, and the journal still works.
			f.append(j2, "third", t0+2, 301*time.Second)
			if err := j2.Close(); err != nil {
				t.Fatal(err)
			}
			j3 := f.open(false, thisBoot)
			if s := j3.Since().Unix(); s != t0+2 || !restored(j3, "third") {
				t.Errorf("next start: floor %d, third restored %v; want %d, true", s, restored(j3, "third"), t0+2)
			}
		})
	}
}

func writeFile(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestNonceJournalReadsTheLegacyJournal: an upgrade finds the journal of
// the release before, which journaled only the nonces stamped ahead: those
// are restored, the start keeps that release's floor, and the old files go.
func TestNonceJournalReadsTheLegacyJournal(t *testing.T) {
	f := newJournalFixture(t)
	d := NonceDigest("ahead")
	rec := make([]byte, legacyRecord)
	binary.BigEndian.PutUint64(rec, uint64(t0+400))
	copy(rec[8:], d[:])
	writeFile(t, legacyJournalFor(f.state), append(bytes.Clone(legacyJournalHeader), rec...))
	j := f.open(false, thisBoot)
	if !restored(j, "ahead") {
		t.Error("the legacy journal's record is not restored")
	}
	if s := j.Since().Unix(); s != t0 {
		t.Errorf("floor = %d, want %d: the release before forgot what it accepted stamped before now", s, t0)
	}
	if _, err := os.Stat(legacyJournalFor(f.state)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the legacy journal is still there: %v", err)
	}
}

// TestNonceJournalDeletesExpiredSegments: full segments go once all their
// records expire; the stamps they held become the floor (their nonces are
// forgotten), which matters only to a window longer than the one they were
// kept for, and which the next start keeps.
func TestNonceJournalDeletesExpiredSegments(t *testing.T) {
	defer func(n int) { segmentRecords = n }(segmentRecords)
	segmentRecords = 4
	f := newJournalFixture(t)
	j := f.open(true, thisBoot)
	for i := range 10 {
		f.append(j, "k"+string(rune('a'+i)), t0+int64(i), 60*time.Second)
	}
	if n := len(f.segments()); n != 3 {
		t.Fatalf("%d segments for 10 records of 4 a segment, want 3", n)
	}
	f.clock.Set(time.Unix(t0+64, 0)) // the first segment's records (stamps 0-3) have all expired
	f.append(j, "late", t0+64, 60*time.Second)
	if n := len(f.segments()); n != 2 {
		t.Errorf("%d segments after the first expired, want 2", n)
	}
	if s := j.Since().Unix(); s != t0+4 {
		t.Errorf("floor = %d, want %d (after the deleted segment's last stamp)", s, t0+4)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j2 := f.open(false, thisBoot)
	if s := j2.Since().Unix(); s != t0+4 {
		t.Errorf("after a restart, floor = %d, want %d", s, t0+4)
	}
	if !restored(j2, "ke") || restored(j2, "ka") {
		t.Error("restored the wrong records")
	}
}

func TestNonceJournalClosed(t *testing.T) {
	f := newJournalFixture(t)
	j := f.open(true, thisBoot)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Append(NonceDigest("k"), t0, time.Unix(t0+60, 0)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
}

// TestNonceJournalSurvivesAFaultOnItsMapping: the segment file is cut
// under the mapping (an I/O error on the page would look the same); the
// append fails, the process lives, and the next append starts a new
// segment.
func TestNonceJournalSurvivesAFaultOnItsMapping(t *testing.T) {
	f := newJournalFixture(t)
	j := f.open(true, thisBoot)
	f.append(j, "before", t0, time.Minute)
	for _, p := range f.segments() {
		if err := os.Truncate(p, 0); err != nil {
			t.Fatal(err)
		}
	}
	err := j.Append(NonceDigest("cut"), t0, time.Unix(t0+60, 0))
	if err == nil || !strings.Contains(err.Error(), "nonce journal") {
		t.Fatalf("append to a truncated mapping = %v; want an error", err)
	}
	f.append(j, "after", t0, time.Minute)
	if n := len(f.segments()); n != 2 {
		t.Errorf("%d segments, want 2 (the cut one and a new one)", n)
	}
}

// TestJournaledNoncesRefuseReplaysAcrossARestart drives the store the
// verifier sees: what was recorded before a crash is seen, and not fresh,
// afterwards; the floor is the journal's, not the memory store's start.
func TestJournaledNoncesRefuseReplaysAcrossARestart(t *testing.T) {
	f := newJournalFixture(t)
	ctx := context.Background()
	m, _ := newTestMemory(t0)
	m.now = f.clock.Now
	before := JournaledNonces{Memory: m, Journal: f.open(true, thisBoot)}
	stamp := int64(t0 - 20)
	until := time.Unix(stamp, 0).Add(301 * time.Second)
	if fresh, err := before.Record(ctx, "accepted", stamp, until); !fresh || err != nil {
		t.Fatalf("Record = %v, %v", fresh, err)
	}
	// The process dies: neither store is closed.
	f.clock.Add(3 * time.Second)
	m2, _ := newTestMemory(t0 + 3)
	m2.now = f.clock.Now
	after := JournaledNonces{Memory: m2, Journal: f.open(false, thisBoot)}
	if s := after.Since().Unix(); s > 0 {
		t.Errorf("Since = %d, want no floor (the memory store started at %d)", s, t0+3)
	}
	if seen, err := after.Seen(ctx, "accepted", stamp); !seen || err != nil {
		t.Errorf("Seen after restart = %v, %v; want true", seen, err)
	}
	if fresh, err := after.Record(ctx, "accepted", stamp, until); fresh || err != nil {
		t.Errorf("Record after restart = %v, %v; want false (a replay)", fresh, err)
	}
	if fresh, err := after.Record(ctx, "other", stamp, until); !fresh || err != nil {
		t.Errorf("Record(other) after restart = %v, %v; want true", fresh, err)
	}
}

// TestJournaledNoncesOutliveALongerWindow: the proxy restarts with a longer
// timestamp_window. A nonce kept for a 1-minute window expired 61 s after
// its stamp; a new window of an hour accepts that stamp for an hour, so
// the restarted proxy must still refuse its replay then, and may forget it
// after.
func TestJournaledNoncesOutliveALongerWindow(t *testing.T) {
	f := newJournalFixture(t)
	ctx := context.Background()
	m, _ := newTestMemory(t0)
	m.now = f.clock.Now
	before := JournaledNonces{Memory: m, Journal: f.open(true, thisBoot)}
	stamp := int64(t0 + 120)
	until := time.Unix(stamp, 0).Add(61 * time.Second)
	if fresh, err := before.Record(ctx, "ahead", stamp, until); !fresh || err != nil {
		t.Fatalf("Record = %v, %v", fresh, err)
	}
	f.clock.Add(10 * time.Second)
	m2, _ := newTestMemory(t0 + 10)
	m2.now = f.clock.Now
	after := JournaledNonces{Memory: m2, Journal: f.open(false, thisBoot)}
	for _, at := range []int64{stamp + 30, stamp + 61, stamp + 3600} {
		f.clock.Set(time.Unix(at, 0))
		if seen, err := after.Seen(ctx, "ahead", stamp); !seen || err != nil {
			t.Errorf("stamp%+d s: Seen = %v, %v; want true (the new window still accepts the stamp)", at-stamp, seen, err)
		}
	}
	f.clock.Set(time.Unix(stamp+61+3600, 0))
	if seen, _ := after.Seen(ctx, "ahead", stamp); seen {
		t.Error("still restored after the longest window a restart could bring")
	}
}

// FuzzReadSegment parses any content as a segment: it never panics, takes
// only a well-formed segment of its own state file, restores exactly its
// whole, live records within its capacity, and calls it truncated exactly
// when it is shorter than its capacity.
func FuzzReadSegment(f *testing.F) {
	seg := func(capacity int, records ...[3]uint64) []byte {
		b := make([]byte, segmentHeader, segmentHeader+len(records)*journalRecord)
		copy(b, segmentMagic)
		copy(b[hdrID:], testJournalID[:])
		copy(b[hdrBoot:], thisBoot[:])
		binary.LittleEndian.PutUint64(b[hdrCapacity:], uint64(capacity))
		for _, r := range records {
			var rec [journalRecord]byte
			binary.LittleEndian.PutUint64(rec[0:], r[0])
			binary.LittleEndian.PutUint64(rec[16:], r[1])
			binary.LittleEndian.PutUint64(rec[24:], r[2])
			b = append(b, rec[:]...)
		}
		return b
	}
	f.Add([]byte{})
	f.Add([]byte(segmentMagic[:7]))
	f.Add(seg(1, [3]uint64{7, t0, t0 + 100}))
	f.Add(seg(4, [3]uint64{7, t0, t0 + 100}, [3]uint64{8, t0 - 9000, t0 - 8000}, [3]uint64{9, 0, 0}))
	f.Add(seg(2, [3]uint64{7, t0, t0 + 100}, [3]uint64{8, t0, t0 + 100}, [3]uint64{9, t0, t0 + 100}))
	f.Fuzz(func(t *testing.T, data []byte) {
		data = data[:min(len(data), segmentHeader+64*journalRecord)]
		got, live, problems, err := readSegment(data, testJournalID, thisBoot, t0)
		h, herr := parseSegmentHeader(data)
		if ours := herr == nil && h.id == testJournalID; ours != (err == nil) {
			t.Fatalf("header %v (ours %v), readSegment error %v", herr, ours, err)
		}
		if err != nil {
			return
		}
		if truncated := len(data) < segmentHeader+h.capacity*journalRecord; truncated != slices.Contains(problems, "truncated") {
			t.Fatalf("truncated %v, problems %q", truncated, problems)
		}
		want := map[uint64]int64{}
		var maxStamp int64
		body := data[segmentHeader:]
		for i := 0; i < h.capacity && len(body) >= journalRecord; i, body = i+1, body[journalRecord:] {
			until := int64(binary.LittleEndian.Uint64(body[24:]))
			stamp := int64(binary.LittleEndian.Uint64(body[16:]))
			if until == 0 {
				continue
			}
			maxStamp = max(maxStamp, stamp)
			if keep := max(until, stamp+int64(JournalGrace/time.Second)); keep > t0 {
				k := restoredKey(body[:digestSize])
				want[k] = max(want[k], keep)
			}
		}
		set := newRestoredSet(live)
		for k, keep := range want {
			if set == nil || !set.contains(k, t0) || !set.contains(k, keep-1) || set.contains(k, keep) {
				t.Fatalf("record %x, kept until %d, is not restored until then", k, keep)
			}
		}
		if len(want) == 0 && set != nil {
			t.Fatal("restored records where none is live")
		}
		if got.maxStamp != maxStamp {
			t.Fatalf("max stamp %d, want %d", got.maxStamp, maxStamp)
		}
	})
}

// BenchmarkNonceJournalAppend: what the journal costs a request (the
// digest and the copy into the mapped segment), against what the release
// before cost a request stamped ahead of the clock (one write system
// call of a record to a file opened for appending).
func BenchmarkNonceJournalAppend(b *testing.B) {
	key := "consumer\x00\x001800000000\x00" + strings.Repeat("n", 32)
	b.Run("mapped", func(b *testing.B) {
		j, err := OpenNonceJournal(filepath.Join(b.TempDir(), "state.db"), testJournalID, true)
		if err != nil {
			b.Fatal(err)
		}
		defer j.Close()
		until := time.Now().Add(5 * time.Minute)
		stamp := time.Now().Unix()
		b.ReportAllocs()
		for b.Loop() {
			if err := j.Append(NonceDigest(key), stamp, until); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("write-syscall", func(b *testing.B) {
		fd, err := os.OpenFile(filepath.Join(b.TempDir(), "j"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			b.Fatal(err)
		}
		defer fd.Close()
		b.ReportAllocs()
		for b.Loop() {
			d := NonceDigest(key)
			var rec [legacyRecord]byte
			binary.BigEndian.PutUint64(rec[:], uint64(time.Now().Unix()+300))
			copy(rec[8:], d[:])
			if _, err := fd.Write(rec[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkNonceJournalOpenFullWindow: the start after a run of 4,000
// requests a second for a whole default window (301 s, 1.2 million nonces).
func BenchmarkNonceJournalOpenFullWindow(b *testing.B) {
	const rate, window = 4000, 301
	state := filepath.Join(b.TempDir(), "state.db")
	clock := testkit.NewClock(time.Unix(t0, 0))
	j, err := openNonceJournal(state, testJournalID, true, clock.Now, thisBoot)
	if err != nil {
		b.Fatal(err)
	}
	var key [8]byte
	for i := range rate * window {
		binary.LittleEndian.PutUint64(key[:], uint64(i))
		stamp := int64(t0 - window + i/rate)
		if err := j.Append(NonceDigest(string(key[:])), stamp, time.Unix(stamp+window, 0)); err != nil {
			b.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		k, err := openNonceJournal(state, testJournalID, false, clock.Now, thisBoot)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if !restored(k, string(key[:])) {
			b.Fatal("the last nonce is not restored")
		}
		_ = k.Close()
		b.StartTimer()
	}
}

// TestNonceJournalSetsAsideAForeignLegacyFile: a file where the release
// before kept its journal that is not one is moved aside, never deleted,
// and the start has a floor.
func TestNonceJournalSetsAsideAForeignLegacyFile(t *testing.T) {
	f := newJournalFixture(t)
	writeFile(t, legacyJournalFor(f.state), []byte("my notes\n"))
	j := f.open(false, thisBoot)
	if s := j.Since().Unix(); s != t0 {
		t.Errorf("floor = %d, want %d", s, t0)
	}
	if ig := j.Ignored(); len(ig) == 0 || !strings.Contains(ig[0], "not an applink nonce journal") {
		t.Errorf("Ignored() = %q", ig)
	}
	if data, err := os.ReadFile(legacyJournalFor(f.state) + ".ignored"); err != nil || string(data) != "my notes\n" {
		t.Errorf("the foreign file was not kept aside: %q, %v", data, err)
	}
}

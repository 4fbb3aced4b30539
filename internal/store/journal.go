package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// NonceJournal keeps every nonce the proxy accepts on disk beside the state
// file, so that a restart, graceful or not, neither forgets a nonce (a
// replay would pass) nor has to refuse every request stamped before it (a
// linked app does not retry a refused timestamp).
//
// The journal is a directory of segment files, each a header and a run of
// fixed-size records (a nonce key's SHA-256 digest, never the key, which
// may hold an access token; its stamp; and how long it must be kept).
// The current segment is mapped into memory: an append is a copy into the
// page cache, which the kernel keeps when the process dies (kill -9, a
// panic, the OOM killer) and writes out within seconds. What it can lose is
// the last seconds before the host itself fails; so a graceful close syncs
// the segments and marks them clean, a segment also names the boot it was
// written in, and a start that finds an unclean segment of an earlier boot
// refuses, for one window, what was stamped before it (as does a start that
// finds a segment torn, unreadable or another state file's, or none where
// there should be one). That floor, and the stamps whose segments expired
// (see Since), are carried in every new segment's header, so that they
// survive the next restart too.
type NonceJournal struct {
	dir    string
	id     [16]byte // the state file's: a segment with another is not ours
	boot   [16]byte // zero where the boot cannot be known
	now    func() time.Time
	ignore []string // why a segment was not trusted, for the log

	restored atomic.Pointer[restoredSet] // what was accepted before this open; nil once expired

	floor atomic.Int64 // Since, unix s: max(the open's floor, deleted + 1)

	mu        sync.Mutex
	cur       *segment
	old       []*segment // full, or left by earlier runs: deleted once expired
	opened    int64      // the open's floor (unix s), carried on
	deleted   int64      // the latest stamp of a deleted segment (unix s)
	lastSweep int64
	closed    bool
}

// JournalPathFor is the journal directory of a state file: beside it, so
// that the lock that makes the state file one process's makes the journal
// its own too.
func JournalPathFor(stateFile string) string { return stateFile + ".nonces.d" }

// legacyJournalFor is where earlier releases journaled only the nonces
// stamped ahead of the clock.
func legacyJournalFor(stateFile string) string { return stateFile + ".nonces" }

const (
	segmentMagic  = "applink nonce journal 2\n"
	segmentHeader = 4096 // records start on a page of their own
	journalRecord = 32   // digest (16), stamp (8), keep-until (8, written last: 0 is no record)
	digestSize    = 16

	// header fields, little-endian
	hdrID       = 24
	hdrBoot     = 40
	hdrClean    = 56 // 1: closed cleanly, everything synced
	hdrSince    = 64 // the floor in force when the segment was started
	hdrDeleted  = 72 // the latest stamp of a segment deleted before
	hdrCapacity = 80 // records
	hdrCreated  = 88
)

// segmentRecords is how many records a segment holds: 8 MiB files, one
// every half minute at 4,000 requests a second. A variable for the tests.
var segmentRecords = (8<<20 - segmentHeader) / journalRecord

// sweepSeconds is how often an append looks for segments to delete.
const sweepSeconds = 1

// JournalGrace is how long after its stamp a restored nonce is kept at
// least: the proxy may restart with a longer timestamp_window, under which
// its stamp stays acceptable for longer. It is the longest hold a verifier
// asks for: the longest window the handler takes, and a second.
const JournalGrace = time.Hour + time.Second

type segment struct {
	path     string
	maxStamp int64
	maxUntil int64
	clean    bool
	w        *segmentWriter // the current segment only
	next     int
	capacity int
}

// NonceDigest is what the journal keeps of a nonce key.
func NonceDigest(key string) [digestSize]byte {
	sum := sha256.Sum256([]byte(key))
	return [digestSize]byte(sum[:digestSize])
}

// OpenNonceJournal opens the journal of stateFile, whose journal ID is id.
// fresh says the state file was created by this open: then no request can
// have been accepted with it, and a missing journal is no loss. Segments it
// cannot trust are set aside (renamed *.ignored) and listed by Ignored;
// only a journal it cannot write is an error.
func OpenNonceJournal(stateFile string, id [16]byte, fresh bool) (*NonceJournal, error) {
	return openNonceJournal(stateFile, id, fresh, time.Now, bootID())
}

func openNonceJournal(stateFile string, id [16]byte, fresh bool, now func() time.Time, boot [16]byte) (*NonceJournal, error) {
	dir := JournalPathFor(stateFile)
	j := &NonceJournal{dir: dir, id: id, boot: boot, now: now}
	t := now()
	ts := t.Unix()
	startFloor := ts // a request stamped in this second may have been accepted before it
	if t.Nanosecond() != 0 {
		startFloor++
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("nonce journal %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("nonce journal %s: %w", dir, err)
	}
	floor, ours := int64(0), false
	distrust := func(name, why string) {
		j.ignore = append(j.ignore, filepath.Join(dir, name)+": "+why)
		floor = max(floor, startFloor)
	}
	var live []restoredEntry
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, "seg-") || strings.Contains(name, ".") {
			continue
		}
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			distrust(name, "unreadable ("+err.Error()+")")
			continue
		}
		seg, kept, problems, err := readSegment(data, id, boot, ts)
		if err != nil {
			distrust(name, err.Error()+"; set aside as "+name+".ignored")
			if rerr := os.Rename(path, path+".ignored"); rerr != nil {
				return nil, fmt.Errorf("nonce journal %s: setting aside %s: %w", dir, name, rerr)
			}
			continue
		}
		ours = true
		for _, why := range problems {
			distrust(name, why)
		}
		floor = max(floor, seg.since)
		j.deleted = max(j.deleted, seg.deleted)
		live = append(live, kept...)
		j.old = append(j.old, &segment{path: path, clean: seg.clean, maxStamp: seg.maxStamp, maxUntil: seg.maxUntil})
	}
	// Earlier releases journaled only what was stamped ahead of the clock,
	// and refused everything stamped before a start.
	legacy := legacyJournalFor(stateFile)
	legacyLive, hadLegacy, legacyErr := readLegacyJournal(legacy, ts)
	if legacyErr != nil {
		distrust(filepath.Base(legacy), legacyErr.Error()+"; set aside as *.ignored")
	}
	if hadLegacy {
		floor = max(floor, startFloor)
	}
	live = append(live, legacyLive...)
	if !fresh && !ours && !hadLegacy {
		distrust(".", "no journal beside a state file that has been used")
	}
	j.restored.Store(newRestoredSet(live))

	j.opened = floor
	j.setFloorLocked()
	if err := j.startSegmentLocked(ts); err != nil {
		return nil, err
	}
	// The new segment carries the floor; only now may what it replaces go
	// (aside, not away, if it was not all a journal).
	for _, p := range []string{legacy + ".old", legacy} {
		var err error
		if legacyErr == nil {
			err = removeIfExists(p)
		} else if err = os.Rename(p, p+".ignored"); errors.Is(err, os.ErrNotExist) {
			err = nil
		}
		if err != nil {
			return nil, fmt.Errorf("nonce journal %s: %w", p, err)
		}
	}
	j.sweepLocked(ts)
	return j, nil
}

// Ignored lists the segments the open did not trust, and why, for the log.
// Each of them set a floor (see Since).
func (j *NonceJournal) Ignored() []string { return slices.Clone(j.ignore) }

// Since returns the stamp before which requests must be refused: the open's
// floor (zero unless it found something it could not trust) and the stamps
// of deleted segments, whose nonces are forgotten.
func (j *NonceJournal) Since() time.Time { return time.Unix(j.floor.Load(), 0) }

func (j *NonceJournal) setFloorLocked() {
	f := j.opened
	if j.deleted > 0 {
		f = max(f, j.deleted+1)
	}
	j.floor.Store(f)
}

// Restored reports whether a nonce with this digest was accepted before
// this open and is still kept. Once the last restored nonce expires it
// costs a clock reading.
func (j *NonceJournal) Restored(d [digestSize]byte) bool {
	r := j.restored.Load()
	if r == nil {
		return false
	}
	now := j.now().Unix()
	if now >= r.until {
		j.restored.CompareAndSwap(r, nil)
		return false
	}
	return r.contains(restoredKey(d[:]), now)
}

// Append records a nonce, stamped at stamp, to be kept until the given
// time, before the request is let through.
func (j *NonceJournal) Append(d [digestSize]byte, stamp int64, until time.Time) error {
	var rec [journalRecord]byte
	copy(rec[:], d[:])
	binary.LittleEndian.PutUint64(rec[16:], uint64(stamp))
	u := until.Unix()
	if u <= 0 {
		u = 1
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return ErrClosed
	}
	now := j.now().Unix()
	if now-j.lastSweep >= sweepSeconds {
		j.sweepLocked(now)
	}
	if j.cur == nil || j.cur.next == j.cur.capacity {
		if err := j.startSegmentLocked(now); err != nil {
			return err
		}
	}
	s := j.cur
	if err := s.w.writeRecord(segmentHeader+s.next*journalRecord, &rec, uint64(u)); err != nil {
		// The mapping is no use now: the next append starts a new segment.
		j.retireLocked()
		return fmt.Errorf("nonce journal %s: %w", s.path, err)
	}
	s.next++
	s.maxStamp, s.maxUntil = max(s.maxStamp, stamp), max(s.maxUntil, u)
	return nil
}

// startSegmentLocked sets the current segment aside and starts a new one,
// synced with its directory: it carries the floor.
func (j *NonceJournal) startSegmentLocked(now int64) error {
	j.retireLocked()
	var hdr [segmentHeader]byte
	copy(hdr[:], segmentMagic)
	copy(hdr[hdrID:], j.id[:])
	copy(hdr[hdrBoot:], j.boot[:])
	binary.LittleEndian.PutUint64(hdr[hdrSince:], uint64(j.floor.Load()))
	binary.LittleEndian.PutUint64(hdr[hdrDeleted:], uint64(j.deleted))
	binary.LittleEndian.PutUint64(hdr[hdrCapacity:], uint64(segmentRecords))
	binary.LittleEndian.PutUint64(hdr[hdrCreated:], uint64(now))
	var suffix [8]byte
	_, _ = rand.Read(suffix[:])
	path := filepath.Join(j.dir, fmt.Sprintf("seg-%016x-%x", j.now().UnixNano(), suffix))
	w, err := createSegment(path, hdr[:], segmentHeader+segmentRecords*journalRecord)
	if err == nil {
		err = syncDir(j.dir)
	}
	if err != nil {
		if w != nil {
			_ = w.close(false)
		}
		_ = os.Remove(path)
		return fmt.Errorf("nonce journal %s: %w", j.dir, err)
	}
	j.cur = &segment{path: path, w: w, capacity: segmentRecords}
	return nil
}

// retireLocked moves the current segment, if any, to the old ones.
func (j *NonceJournal) retireLocked() {
	if j.cur == nil {
		return
	}
	_ = j.cur.w.close(false) // written out by the kernel; synced at Close
	j.cur.w = nil
	j.old = append(j.old, j.cur)
	j.cur = nil
}

// sweepLocked deletes the old segments whose records have all expired, and
// records in the current segment's header the latest stamp they held.
func (j *NonceJournal) sweepLocked(now int64) {
	j.lastSweep = now
	kept := j.old[:0]
	deleted := j.deleted
	for _, s := range j.old {
		if s.maxUntil <= now && removeIfExists(s.path) == nil {
			deleted = max(deleted, s.maxStamp)
			continue
		}
		kept = append(kept, s)
	}
	clear(j.old[len(kept):])
	j.old = kept
	if deleted != j.deleted {
		j.deleted = deleted
		j.setFloorLocked()
		if j.cur != nil {
			_ = j.cur.w.writeHeaderField(hdrDeleted, uint64(deleted))
		}
	}
}

// Close syncs every segment, marks them clean (a later boot may trust them
// whole), and stops appends: later ones fail with ErrClosed.
func (j *NonceJournal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	var errs []error
	if j.cur != nil {
		errs = append(errs, j.cur.w.close(true))
		j.cur.w = nil
		j.cur.clean = true
	}
	for _, s := range j.old {
		if !s.clean {
			errs = append(errs, markClean(s.path))
			s.clean = true
		}
	}
	return errors.Join(errs...)
}

// markClean syncs a segment written through an earlier mapping and sets
// its clean flag.
func markClean(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var one [8]byte
	binary.LittleEndian.PutUint64(one[:], 1)
	err = f.Sync()
	if err == nil {
		_, err = f.WriteAt(one[:], hdrClean)
	}
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

type segmentHeaderFields struct {
	id, boot       [16]byte
	clean          bool
	since, deleted int64
	capacity       int
}

// segmentRead is what readSegment learns of a segment.
type segmentRead struct {
	segmentHeaderFields
	maxStamp, maxUntil int64
}

// readSegment parses a segment's content, read at now: an error for one
// that is not this state file's (set aside whole); else its header, the
// records still to be kept, and why it cannot be trusted whole, if it
// cannot (each reason sets a floor).
func readSegment(data []byte, id, boot [16]byte, now int64) (seg segmentRead, live []restoredEntry, problems []string, err error) {
	h, err := parseSegmentHeader(data)
	if err == nil && h.id != id {
		err = errors.New("written for another state file")
	}
	if err != nil {
		return seg, nil, nil, err
	}
	seg.segmentHeaderFields = h
	if !h.clean && (boot == [16]byte{} || h.boot != boot) {
		problems = append(problems, "not closed cleanly before the host restarted: its last records may be lost")
	}
	if len(data) < segmentHeader+h.capacity*journalRecord {
		problems = append(problems, "truncated")
	}
	records := data[segmentHeader:min(len(data), segmentHeader+h.capacity*journalRecord)]
	for ; len(records) >= journalRecord; records = records[journalRecord:] {
		until := int64(binary.LittleEndian.Uint64(records[24:]))
		if until == 0 {
			continue // never written, or cut short
		}
		stamp := int64(binary.LittleEndian.Uint64(records[16:]))
		seg.maxStamp, seg.maxUntil = max(seg.maxStamp, stamp), max(seg.maxUntil, until)
		if keep := max(until, stamp+int64(JournalGrace/time.Second)); keep > now {
			live = append(live, restoredEntry{key: restoredKey(records[:digestSize]), until: keep})
		}
	}
	return seg, live, problems, nil
}

func parseSegmentHeader(data []byte) (segmentHeaderFields, error) {
	var h segmentHeaderFields
	if len(data) < segmentHeader || string(data[:len(segmentMagic)]) != segmentMagic {
		if len(data) < len(segmentMagic) && strings.HasPrefix(segmentMagic, string(data)) {
			return h, errors.New("torn while it was being created")
		}
		return h, errors.New("not an applink nonce journal segment")
	}
	h.id = [16]byte(data[hdrID:])
	h.boot = [16]byte(data[hdrBoot:])
	h.clean = binary.LittleEndian.Uint64(data[hdrClean:]) == 1
	h.since = int64(binary.LittleEndian.Uint64(data[hdrSince:]))
	h.deleted = int64(binary.LittleEndian.Uint64(data[hdrDeleted:]))
	c := binary.LittleEndian.Uint64(data[hdrCapacity:])
	if c == 0 || c > 1<<30 {
		return h, fmt.Errorf("a capacity of %d records", c)
	}
	h.capacity = int(c)
	return h, nil
}

// JournaledNonces is a memory nonce store with a journal: every nonce it
// records is journaled, and the nonces restored from the journal are seen.
type JournaledNonces struct {
	*Memory
	Journal *NonceJournal
}

// Seen reports whether key is stored, or was accepted before the restart.
// It hashes key only while something restored is still kept: this is the
// pre-check every request pays.
func (n JournaledNonces) Seen(ctx context.Context, key string, stamp int64) (bool, error) {
	if n.Journal.restored.Load() != nil && n.Journal.Restored(NonceDigest(key)) {
		return true, nil
	}
	return n.Memory.Seen(ctx, key, stamp)
}

// Record stores key unless it is stored or was accepted before the
// restart, and journals it for as long as the memory store keeps it.
func (n JournaledNonces) Record(ctx context.Context, key string, stamp int64, until time.Time) (bool, error) {
	d := NonceDigest(key)
	if n.Journal.Restored(d) {
		return false, nil
	}
	fresh, err := n.Memory.Record(ctx, key, stamp, until)
	if !fresh || err != nil {
		return fresh, err
	}
	if held := time.Unix(stamp, 0).Add(n.Memory.Hold()); held.After(until) {
		until = held
	}
	if err := n.Journal.Append(d, stamp, until); err != nil {
		return false, err
	}
	return true, nil
}

// Since is the later of the journal's floor and the memory store's own
// (a reload that lengthened the window), not the memory store's start: the
// journal remembers what was accepted before it.
func (n JournaledNonces) Since() time.Time {
	if f := n.Memory.Floor(); f.After(n.Journal.Since()) {
		return f
	}
	return n.Journal.Since()
}

func removeIfExists(p string) error {
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// writeZeros extends f to size with written zeros, so that its blocks are
// allocated.
func writeZeros(f *os.File, size int64) error {
	zeros := make([]byte, 1<<20)
	for off := int64(0); off < size; off += int64(len(zeros)) {
		n := min(int64(len(zeros)), size-off)
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			return err
		}
	}
	return nil
}

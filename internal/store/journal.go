package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// NonceJournal closes the one replay gap a memory nonce store leaves across
// a restart. A restarted store refuses requests stamped before it started
// (its Since), so it need not remember their nonces. It does need the
// nonces of requests stamped after that second which it accepted before
// the crash: those a client whose clock runs ahead sent. The verifier
// appends exactly those here (see oauth1.AheadJournal), and the next start
// reads them back.
//
// Records are appended with one write each, not synced: a crash of the
// process (panic, kill -9, OOM) keeps them, since the kernel has them; a
// crash of the host may lose the last half minute. Two files take turns: the
// current one, and the one before it, deleted once all its records have
// expired. A record holds a SHA-256 digest of the nonce key, never the
// key, which may contain an access token.
type NonceJournal struct {
	path string
	now  func() time.Time

	// Journaled before this open, still live then: read-only afterwards.
	restored      map[[digestSize]byte]int64 // digest -> until (unix s)
	restoredUntil int64                      // the latest until among them

	mu           sync.Mutex
	cur          *os.File
	curStart     int64 // when cur was started (unix s)
	curMaxUntil  int64 // 0: cur holds no record
	havePrev     bool
	prevMaxUntil int64
	closed       bool
}

const (
	digestSize    = 16
	journalRecord = 8 + digestSize // until (big-endian unix s), digest
	// journalTurn is how long a file takes appends before it is set aside.
	journalTurn = 10 * time.Minute
)

var journalHeader = []byte("applink nonce journal 1\n")

// JournalPathFor is where the journal of a state file lives: beside it, so
// that the file lock that makes the state file one process's also makes
// the journal its own.
func JournalPathFor(stateFile string) string { return stateFile + ".nonces" }

func nonceDigest(key string) [digestSize]byte {
	sum := sha256.Sum256([]byte(key))
	return [digestSize]byte(sum[:digestSize])
}

// OpenNonceJournal reads the live records of path (and of the file set
// aside before it), writes them to a fresh path, and opens it for appends.
// A file that is not a journal gives an error naming it: without its
// records, a replay could pass.
func OpenNonceJournal(path string) (*NonceJournal, error) {
	return openNonceJournal(path, time.Now)
}

func openNonceJournal(path string, now func() time.Time) (*NonceJournal, error) {
	j := &NonceJournal{path: path, now: now, restored: map[[digestSize]byte]int64{}}
	t := now().Unix()
	for _, p := range []string{path + ".old", path} {
		if err := j.load(p, t); err != nil {
			return nil, err
		}
	}
	// Rewrite what is live into a fresh file, synced: these records are
	// all that stands between a replay and the upstream, and the old
	// files go next.
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("nonce journal %s: %w", path, err)
	}
	w := bufio.NewWriter(f)
	_, _ = w.Write(journalHeader)
	for d, until := range j.restored {
		_, _ = w.Write(encodeRecord(d, until))
	}
	err = errors.Join(w.Flush(), f.Sync(), f.Close())
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = removeIfExists(path + ".old")
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		return nil, fmt.Errorf("nonce journal %s: %w", path, err)
	}
	if err := j.openCurLocked(); err != nil {
		return nil, fmt.Errorf("nonce journal %s: %w", path, err)
	}
	j.curStart, j.curMaxUntil = t, j.restoredUntil
	return j, nil
}

// load adds the records of p that are live at now to j.restored. A missing
// file has none.
func (j *NonceJournal) load(p string, now int64) error {
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err == nil {
		var latest int64
		latest, err = parseJournal(data, now, j.restored)
		j.restoredUntil = max(j.restoredUntil, latest)
	}
	if err != nil {
		return fmt.Errorf("nonce journal %s: %w", p, err)
	}
	return nil
}

var errNotJournal = errors.New("not an applink nonce journal; move it away, and an empty journal is started")

// parseJournal adds the records of a journal's content that are live at now
// to restored, and returns the latest until among them. A record cut short
// by a crash of the host, or a header cut short while the file was being
// created, is ignored.
func parseJournal(data []byte, now int64, restored map[[digestSize]byte]int64) (latest int64, err error) {
	if !bytes.HasPrefix(data, journalHeader) {
		if bytes.HasPrefix(journalHeader, data) {
			return 0, nil
		}
		return 0, errNotJournal
	}
	for data = data[len(journalHeader):]; len(data) >= journalRecord; data = data[journalRecord:] {
		until := int64(binary.BigEndian.Uint64(data))
		if until <= now {
			continue
		}
		d := [digestSize]byte(data[8:journalRecord])
		restored[d] = max(restored[d], until)
		latest = max(latest, until)
	}
	return latest, nil
}

func encodeRecord(d [digestSize]byte, until int64) []byte {
	var rec [journalRecord]byte
	binary.BigEndian.PutUint64(rec[:8], uint64(until))
	copy(rec[8:], d[:])
	return rec[:]
}

// Restored reports whether key was journaled before this open and has not
// expired: a request with that nonce was accepted before the restart.
// With nothing restored it costs a comparison, and once the last restored
// record expires, a reading of the clock.
func (j *NonceJournal) Restored(key string) bool {
	if len(j.restored) == 0 {
		return false
	}
	now := j.now().Unix()
	if now >= j.restoredUntil {
		return false
	}
	until, ok := j.restored[nonceDigest(key)]
	return ok && until > now
}

// Append records key until the given time, before the request is let
// through.
func (j *NonceJournal) Append(key string, until time.Time) error {
	rec := encodeRecord(nonceDigest(key), until.Unix())
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return ErrClosed
	}
	if err := j.turnLocked(j.now().Unix()); err != nil {
		return fmt.Errorf("nonce journal %s: %w", j.path, err)
	}
	if j.cur == nil {
		if err := j.openCurLocked(); err != nil {
			return fmt.Errorf("nonce journal %s: %w", j.path, err)
		}
	}
	// One write: with O_APPEND the record lands whole or, cut by a crash
	// of the host, as a tail the next open ignores.
	if _, err := j.cur.Write(rec); err != nil {
		return fmt.Errorf("nonce journal %s: %w", j.path, err)
	}
	j.curMaxUntil = max(j.curMaxUntil, until.Unix())
	return nil
}

// turnLocked deletes the set-aside file once its records have all expired,
// and sets the current one aside after a turn, so that the journal holds
// at most two turns of records.
func (j *NonceJournal) turnLocked(now int64) error {
	if j.havePrev && now > j.prevMaxUntil {
		if err := removeIfExists(j.path + ".old"); err != nil {
			return err
		}
		j.havePrev = false
	}
	if j.havePrev || now-j.curStart < int64(journalTurn/time.Second) {
		return nil
	}
	if j.curMaxUntil == 0 {
		j.curStart = now // nothing to set aside
		return nil
	}
	// Closed before the rename, which some systems refuse on an open file.
	// A crash at any step leaves the records in the file or in .old, and
	// the next open reads both; a failure leaves cur nil, and the next
	// append tries again.
	if j.cur != nil {
		err := j.cur.Close()
		j.cur = nil
		if err != nil {
			return err
		}
	}
	if err := os.Rename(j.path, j.path+".old"); err != nil {
		return err
	}
	j.havePrev, j.prevMaxUntil = true, j.curMaxUntil
	j.curStart, j.curMaxUntil = now, 0
	return nil
}

// openCurLocked opens the journal file for appends, creating it with its
// header if it does not exist.
func (j *NonceJournal) openCurLocked() error {
	f, err := os.OpenFile(j.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if fi, err := f.Stat(); err != nil || fi.Size() == 0 {
		if err == nil {
			_, err = f.Write(journalHeader)
		}
		if err != nil {
			_ = f.Close()
			return err
		}
	}
	j.cur = f
	return nil
}

// Close stops appends; later ones fail with ErrClosed.
func (j *NonceJournal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	if j.cur == nil {
		return nil
	}
	return j.cur.Close()
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

// JournaledNonces is a memory nonce store with a journal: it refuses the
// nonces restored from the journal as seen, and journals the nonces the
// verifier says were stamped ahead of the clock.
type JournaledNonces struct {
	*Memory
	Journal *NonceJournal
}

// Seen reports whether key is stored, or was journaled before the restart.
func (n JournaledNonces) Seen(ctx context.Context, key string, stamp int64) (bool, error) {
	if n.Journal.Restored(key) {
		return true, nil
	}
	return n.Memory.Seen(ctx, key, stamp)
}

// Record stores key until the given time unless it is stored, or was
// journaled before the restart.
func (n JournaledNonces) Record(ctx context.Context, key string, stamp int64, until time.Time) (bool, error) {
	if n.Journal.Restored(key) {
		return false, nil
	}
	return n.Memory.Record(ctx, key, stamp, until)
}

// JournalAhead implements oauth1.AheadJournal. A journaled nonce is kept
// JournalGrace past its expiry: the proxy may restart with a longer
// timestamp_window, under which the nonce's stamp stays acceptable for
// longer. (A reload is Memory.Keep's to handle; across a restart only the
// journal remembers.) Its key holds its stamp, so keeping it longer can
// refuse nothing but a replay.
func (n JournaledNonces) JournalAhead(_ context.Context, key string, until time.Time) error {
	return n.Journal.Append(key, until.Add(JournalGrace))
}

// JournalGrace is how long past its expiry a journaled nonce is kept: the
// longest timestamp_window the handler accepts.
const JournalGrace = time.Hour

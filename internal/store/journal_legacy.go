package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
)

// The journal of earlier releases: one file (and the one set aside before
// it) of the nonces stamped ahead of the clock, each a keep-until and a
// digest. They refused every request stamped before a start, so their
// journal is complete only from the start of the run that wrote it; the
// open that reads it sets a floor, and deletes it once the new journal
// carries that floor.
var legacyJournalHeader = []byte("applink nonce journal 1\n")

const legacyRecord = 8 + digestSize

// readLegacyJournal returns the records of path and path.old that are
// live at now, and whether either file existed.
func readLegacyJournal(path string, now int64) (live []restoredEntry, existed bool, err error) {
	for _, p := range []string{path + ".old", path} {
		data, rerr := os.ReadFile(p)
		if errors.Is(rerr, os.ErrNotExist) {
			continue
		}
		existed = true
		if rerr != nil {
			err = errors.Join(err, rerr)
			continue
		}
		if !bytes.HasPrefix(data, legacyJournalHeader) {
			if !bytes.HasPrefix(legacyJournalHeader, data) {
				err = errors.Join(err, errors.New(p+": not an applink nonce journal"))
			}
			continue
		}
		for data = data[len(legacyJournalHeader):]; len(data) >= legacyRecord; data = data[legacyRecord:] {
			if until := int64(binary.BigEndian.Uint64(data)); until > now {
				live = append(live, restoredEntry{key: restoredKey(data[8:legacyRecord]), until: until})
			}
		}
	}
	return live, existed, err
}

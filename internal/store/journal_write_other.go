//go:build !unix

package store

import (
	"encoding/binary"
	"errors"
	"os"
)

// segmentWriter writes the current segment with one positioned write per
// record where there is no shared mapping.
type segmentWriter struct{ f *os.File }

func createSegment(path string, header []byte, size int) (*segmentWriter, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := reserve(f, int64(size)); err == nil {
		if _, err = f.WriteAt(header, 0); err == nil {
			err = f.Sync()
		}
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return &segmentWriter{f: f}, nil
}

func (w *segmentWriter) writeRecord(off int, rec *[journalRecord]byte, until uint64) error {
	binary.LittleEndian.PutUint64(rec[24:], until)
	_, err := w.f.WriteAt(rec[:], int64(off))
	return err
}

func (w *segmentWriter) writeHeaderField(off int, v uint64) error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	_, err := w.f.WriteAt(b[:], int64(off))
	return err
}

func (w *segmentWriter) close(clean bool) error {
	var err error
	if clean {
		if err = w.f.Sync(); err == nil {
			if err = w.writeHeaderField(hdrClean, 1); err == nil {
				err = w.f.Sync()
			}
		}
	}
	return errors.Join(err, w.f.Close())
}

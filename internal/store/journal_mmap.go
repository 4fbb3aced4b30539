//go:build unix

package store

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// segmentWriter writes the current segment through a shared mapping: an
// append is a copy, with no system call.
type segmentWriter struct {
	f   *os.File
	mem []byte
}

// createSegment creates path with the given header, reserves its blocks
// (so that a full disk fails here, not as a fault on a mapped page), and
// maps it.
func createSegment(path string, header []byte, size int) (*segmentWriter, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*segmentWriter, error) {
		_ = f.Close()
		return nil, err
	}
	if err := reserve(f, int64(size)); err != nil {
		return fail(err)
	}
	if _, err := f.WriteAt(header, 0); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fail(fmt.Errorf("mapping: %w", err))
	}
	return &segmentWriter{f: f, mem: mem}, nil
}

// writeRecord copies rec's digest and stamp to off, then stores until, the
// mark of a whole record, atomically after them. A fault on the mapping
// (the file was truncated under it, an I/O error) is an error, not a
// crash.
func (w *segmentWriter) writeRecord(off int, rec *[journalRecord]byte, until uint64) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("writing the mapped segment: %v", r)
		}
	}()
	copy(w.mem[off:off+24], rec[:24])
	atomic.StoreUint64((*uint64)(unsafe.Pointer(&w.mem[off+24])), littleEndian(until))
	return nil
}

func (w *segmentWriter) writeHeaderField(off int, v uint64) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("writing the mapped segment: %v", r)
		}
	}()
	atomic.StoreUint64((*uint64)(unsafe.Pointer(&w.mem[off])), littleEndian(v))
	return nil
}

// close unmaps the segment; clean first syncs it and marks it clean.
func (w *segmentWriter) close(clean bool) error {
	var err error
	if clean {
		if err = unix.Msync(w.mem, unix.MS_SYNC); err == nil {
			if err = w.writeHeaderField(hdrClean, 1); err == nil {
				err = unix.Msync(w.mem[:segmentHeader], unix.MS_SYNC)
			}
		}
	}
	return errors.Join(err, unix.Munmap(w.mem), w.f.Close())
}

// littleEndian returns the word whose bytes in memory are v little-endian.
func littleEndian(v uint64) uint64 {
	var b [8]byte
	*(*uint64)(unsafe.Pointer(&b)) = 1
	if b[0] == 1 {
		return v
	}
	return (v&0xff)<<56 | (v>>8&0xff)<<48 | (v>>16&0xff)<<40 | (v>>24&0xff)<<32 |
		(v>>32&0xff)<<24 | (v>>40&0xff)<<16 | (v>>48&0xff)<<8 | v>>56
}

package store

import "encoding/binary"

// restoredSet holds the nonces a journal restored: open addressing over
// the first 8 bytes of each digest (uniform, being SHA-256's), a pair of
// words per slot, on the heap without pointers (so not scanned), read
// without a lock once built. A false "seen" needs two live keys to agree
// in 64 bits.
type restoredSet struct {
	slots []uint64 // key, keep-until; key 0 is an empty slot
	mask  uint64
	until int64 // the latest keep-until: after it, nothing is restored
}

type restoredEntry struct {
	key   uint64
	until int64
}

func restoredKey(digest []byte) uint64 {
	if k := binary.LittleEndian.Uint64(digest); k != 0 {
		return k
	}
	return 1
}

// newRestoredSet returns nil for no entries.
func newRestoredSet(entries []restoredEntry) *restoredSet {
	if len(entries) == 0 {
		return nil
	}
	n := uint64(1)
	for n < uint64(len(entries))*3/2+1 {
		n <<= 1
	}
	s := &restoredSet{slots: make([]uint64, 2*n), mask: n - 1}
	for _, e := range entries {
		s.until = max(s.until, e.until)
		for i := e.key & s.mask; ; i = (i + 1) & s.mask {
			k := s.slots[2*i]
			if k == 0 {
				s.slots[2*i], s.slots[2*i+1] = e.key, uint64(e.until)
				break
			}
			if k == e.key {
				s.slots[2*i+1] = max(s.slots[2*i+1], uint64(e.until))
				break
			}
		}
	}
	return s
}

func (s *restoredSet) contains(key uint64, now int64) bool {
	for i := key & s.mask; ; i = (i + 1) & s.mask {
		switch s.slots[2*i] {
		case 0:
			return false
		case key:
			return int64(s.slots[2*i+1]) > now
		}
	}
}

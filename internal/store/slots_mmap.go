//go:build unix

package store

import (
	"os"
	"syscall"
	"unsafe"
)

// Nonce tables of a page or more live outside the Go heap, in anonymous
// mappings: they hold no pointers, so the collector has nothing to find in
// them, and outside the heap they do not count toward its growth target,
// which would otherwise keep up to as much again in garbage beside them
// (GOGC=100). The process's memory is then the tables plus a heap of the
// usual size, not twice the tables. Smaller tables stay on the heap.

var pageSize = os.Getpagesize()

// allocSlots returns at least n zeroed slots, and whether they are mapped
// (then n is rounded up to fill whole pages).
func allocSlots(n int) ([]uint64, bool) {
	size := n * 8
	if size < pageSize {
		return make([]uint64, n), false
	}
	size = (size + pageSize - 1) / pageSize * pageSize
	b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]uint64, n), false // no mapping to be had: the heap may still have room
	}
	return unsafe.Slice((*uint64)(unsafe.Pointer(&b[0])), size/8), true
}

// freeSlots releases slots from allocSlots; they must not be used after.
func freeSlots(s []uint64, mapped bool) {
	if mapped {
		_ = syscall.Munmap(unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*8))
	}
}

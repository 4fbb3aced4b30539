//go:build !unix

package store

// allocSlots returns n zeroed slots on the Go heap (never mapped).
func allocSlots(n int) ([]uint64, bool) { return make([]uint64, n), false }

// freeSlots leaves the slots to the collector.
func freeSlots([]uint64, bool) {}

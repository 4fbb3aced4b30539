package store

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// reserve allocates size bytes of blocks to f, zeroed.
func reserve(f *os.File, size int64) error {
	err := unix.Fallocate(int(f.Fd()), 0, 0, size)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		return writeZeros(f, size)
	}
	return err
}

// bootID names this boot of the host, so that a segment left unclean by a
// crashed process (its records are in the page cache) can be told from one
// left by a crashed host (its last records may be lost).
func bootID() (id [16]byte) {
	data, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return id
	}
	return NonceDigest(string(data))
}

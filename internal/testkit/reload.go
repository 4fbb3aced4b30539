package testkit

import (
	"errors"
	"net"
	"syscall"
)

// ResetWhileReloading reports whether err is a connection the kernel reset
// before it was accepted. Caddy hands a reloaded config a new listening
// socket on the same port (SO_REUSEPORT) and closes the old one; the
// kernel resets the connections still in the old socket's accept queue
// (https://lwn.net/Articles/542629/). The request was never sent, so a
// client may send it again: this is Caddy's reload, not this module, and
// a test of "no request fails during reloads" retries it once.
func ResetWhileReloading(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial" && errors.Is(err, syscall.ECONNRESET)
}

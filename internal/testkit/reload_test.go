package testkit

import (
	"errors"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"
)

func TestResetWhileReloading(t *testing.T) {
	wrap := func(op string, errno syscall.Errno) error {
		return &url.Error{Op: "Get", URL: "http://localhost:9480/", Err: &net.OpError{Op: op, Net: "tcp",
			Err: os.NewSyscallError(map[string]string{"dial": "connect", "read": "read"}[op], errno)}}
	}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{wrap("dial", syscall.ECONNRESET), true}, // what the e2e reload test met
		{wrap("dial", syscall.ECONNREFUSED), false},
		{wrap("read", syscall.ECONNRESET), false}, // the request may have been sent
		{errors.New("connection reset by peer"), false},
		{nil, false},
	} {
		if got := ResetWhileReloading(tc.err); got != tc.want {
			t.Errorf("ResetWhileReloading(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

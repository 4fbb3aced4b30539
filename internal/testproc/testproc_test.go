package testproc

import (
	"errors"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestFreePortAndListening(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if Listening(addr) {
		t.Fatalf("%s is listening before anything listens there", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the free port %d cannot be listened on: %v", port, err)
	}
	defer l.Close()
	if !Listening(addr) {
		t.Errorf("%s is not listening", addr)
	}
}

// TestOnFreePorts: a start that fails (a port taken) is tried again, three
// times at most, and the last error is the one returned.
func TestOnFreePorts(t *testing.T) {
	calls := 0
	got, err := OnFreePorts(func() (int, error) {
		calls++
		if calls < 2 {
			return 0, errors.New("address already in use")
		}
		return calls, nil
	})
	if err != nil || got != 2 || calls != 2 {
		t.Errorf("second try succeeds: got %d, %v after %d calls", got, err, calls)
	}
	calls = 0
	_, err = OnFreePorts(func() (int, error) {
		calls++
		return 0, errors.New("try " + strconv.Itoa(calls))
	})
	if calls != 3 || err == nil || err.Error() != "try 3" {
		t.Errorf("always failing: %d calls, %v; want 3 and the last error", calls, err)
	}
}

func TestLogBufferMax(t *testing.T) {
	b := &LogBuffer{Max: 4}
	for _, s := range []string{"abc", "de", "fgh"} {
		if n, err := b.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if b.String() != "abcde" || b.Len() != 5 {
		t.Errorf("kept %q (%d bytes), want the writes up to the first beyond 4 bytes", b.String(), b.Len())
	}
}

func TestProc(t *testing.T) {
	// Ready, then stopped in its own process group (the shell's child too).
	cmd := exec.Command("sh", "-c", "sleep 30 & echo ready; wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &LogBuffer{}
	cmd.Stdout = out
	p, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Await(5*time.Second, func() bool { return strings.Contains(out.String(), "ready") }); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p.Stop(syscall.SIGTERM, 5*time.Second)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Stop took %s: SIGTERM did not reach the group", d)
	}
	p.Stop(syscall.SIGTERM, time.Second) // again: nothing to do

	// Exits before it is ready.
	p, err = Start(exec.Command("true"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Await(5*time.Second, func() bool { return false }); !errors.Is(err, ErrExited) {
		t.Errorf("Await of an exited process: %v", err)
	}

	// Ignores the signal: killed after the grace period.
	cmd = exec.Command("sh", "-c", "trap '' TERM; echo ready; sleep 30")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the kill reaches sleep, which holds stdout
	out = &LogBuffer{}
	cmd.Stdout = out
	if p, err = Start(cmd); err != nil {
		t.Fatal(err)
	}
	if err := p.Await(5*time.Second, func() bool { return strings.Contains(out.String(), "ready") }); err != nil {
		t.Fatal(err)
	}
	p.Stop(syscall.SIGTERM, 200*time.Millisecond)
	select {
	case <-p.Done():
	default:
		t.Error("Stop returned before the process exited")
	}
}

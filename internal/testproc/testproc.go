// Package testproc runs the processes that the tests (and applink-load)
// drive: the applink binary, redis-server, slapd, chromedriver. It finds
// free ports, starts a child and waits until it is ready, collects its
// output, and stops it, its whole process group when it has one of its
// own. It does not import testing, so that applink-load can use it.
package testproc

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// FreePort returns a TCP port free on 127.0.0.1 right now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// OnFreePorts calls start, which picks its ports with FreePort, up to
// three times: a port free when picked can be taken before the child
// binds it. It returns the first success, or the last error.
func OnFreePorts[S any](start func() (S, error)) (S, error) {
	var last error
	for try := 0; try < 3; try++ {
		s, err := start()
		if err == nil {
			return s, nil
		}
		last = err
	}
	var zero S
	return zero, last
}

// Listening reports whether addr accepts a TCP connection.
func Listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Answers reports whether a GET of url gets any HTTP answer.
func Answers(url string) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

// LogBuffer collects a child process's output, safe for concurrent use.
type LogBuffer struct {
	Max int // stop growing beyond Max bytes; 0 for no limit
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.Max > 0 && b.buf.Len() > b.Max {
		return len(p), nil
	}
	return b.buf.Write(p)
}

// Len is how many bytes were kept.
func (b *LogBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Proc is a started child process.
type Proc struct {
	*exec.Cmd
	done chan struct{}
	err  error // Wait's, once done is closed
	once sync.Once
}

// Start starts cmd and waits for it in the background. Set
// cmd.SysProcAttr.Setpgid for Stop to reach its children too.
func Start(cmd *exec.Cmd) (*Proc, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Proc{Cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// ExitErr is what Wait returned; valid once Done is closed.
func (p *Proc) ExitErr() error { <-p.done; return p.err }

// ErrExited is Await's error when the process exits before it is ready.
var ErrExited = errors.New("exited before it was ready")

// Await calls ready every 20ms until it returns true; it fails with
// ErrExited when the process exits first, or after timeout.
func (p *Proc) Await(timeout time.Duration, ready func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		if ready() {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s %w (%v)", p.Path, ErrExited, p.err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s", p.Path, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop sends sig (none if 0: the caller asked the process to end in its
// own way) and waits up to grace for the process to exit, then kills it.
// With Setpgid the signals go to its whole process group. It returns once
// the process has exited, and may be called more than once.
func (p *Proc) Stop(sig syscall.Signal, grace time.Duration) {
	if p == nil {
		return
	}
	p.once.Do(func() {
		if sig != 0 {
			p.signal(sig)
		}
		select {
		case <-p.done:
		case <-time.After(grace):
			p.signal(syscall.SIGKILL)
			<-p.done
		}
	})
	<-p.done
}

// Kill kills the process (its group, with Setpgid) at once and waits for
// it: a crash.
func (p *Proc) Kill() {
	p.signal(syscall.SIGKILL)
	<-p.done
}

func (p *Proc) signal(sig syscall.Signal) {
	if p.SysProcAttr != nil && p.SysProcAttr.Setpgid {
		_ = syscall.Kill(-p.Process.Pid, sig)
		return
	}
	_ = p.Process.Signal(sig)
}

// BuildApplink compiles ./cmd/applink to out.
func BuildApplink(out string) error {
	cmd := exec.Command("go", "build", "-o", out, "github.com/caddy-applink/caddy-applink/cmd/applink")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/applink: %v\n%s", err, b)
	}
	return nil
}

// RedisArgs are redis-server's arguments for a throwaway server on
// 127.0.0.1:port, without persistence, its files in dir.
func RedisArgs(port int, dir string) []string {
	return []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir}
}

// StartRedis runs redisBin on 127.0.0.1:port (a free one if 0) in its own
// process group, with RedisArgs and extra, and waits up to 10s for it to
// accept connections. wrap, when not nil, builds the command (to run the
// server under taskset, for one).
func StartRedis(redisBin string, port int, dir string, wrap func(name string, args ...string) *exec.Cmd, extra ...string) (*Proc, int, error) {
	if port == 0 {
		var err error
		if port, err = FreePort(); err != nil {
			return nil, 0, err
		}
	}
	if wrap == nil {
		wrap = exec.Command
	}
	cmd := wrap(redisBin, append(RedisArgs(port, dir), extra...)...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	log := &LogBuffer{Max: 64 << 10}
	cmd.Stdout, cmd.Stderr = log, log
	p, err := Start(cmd)
	if err != nil {
		return nil, 0, err
	}
	if err := p.Await(10*time.Second, func() bool { return Listening("127.0.0.1:" + strconv.Itoa(port)) }); err != nil {
		p.Stop(syscall.SIGKILL, time.Second)
		return nil, 0, fmt.Errorf("redis-server on port %d: %v\n%s", port, err, log)
	}
	return p, port, nil
}

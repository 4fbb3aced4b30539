// Package testoracle runs Debian's python-oauthlib as an independent OAuth
// 1.0a provider (oauthlib_oracle.py, next to this file) for the tests of the
// outgoing signer and the signing transport. Tests only.
package testoracle

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/testpeer"
)

// Python is Debian's interpreter, which has python3-oauthlib; a python3
// earlier on PATH (pyenv) may not.
const Python = "/usr/bin/python3"

// Options configure the oracle: the consumer it trusts, the one valid 3LO
// access token, and the URL its Tomcat believes it is at (Origin may be
// "auto": http://127.0.0.1:<its port>), behind a balancer adding Prefix.
type Options struct {
	PublicKeyFile string
	ConsumerKey   string
	Token         string
	Origin        string
	Prefix        string
}

// Oracle is a running oracle.
type Oracle struct {
	Port   int
	Stderr *bytes.Buffer
}

// URL is where to send requests.
func (o *Oracle) URL() string { return fmt.Sprintf("http://127.0.0.1:%d", o.Port) }

// Addr is the oracle's host:port.
func (o *Oracle) Addr() string { return fmt.Sprintf("127.0.0.1:%d", o.Port) }

var check = sync.OnceValue(func() error {
	out, err := exec.Command(Python, "-c", "import oauthlib.oauth1, jwt, cryptography").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s cannot import oauthlib, jwt and cryptography (packages python3-oauthlib, python3-jwt, python3-cryptography): %v\n%s",
			Python, err, out)
	}
	return nil
})

// Require skips t when python-oauthlib is missing, or fails it when
// APPLINK_REQUIRE_INTEROP=1.
func Require(t testing.TB) {
	t.Helper()
	testpeer.Require(t, "python3-oauthlib", check())
}

// Start runs the oracle until the test ends (closing its stdin stops it).
func Start(t testing.TB, opt Options) *Oracle {
	t.Helper()
	Require(t)
	_, self, _, _ := runtime.Caller(0)
	cmd := exec.Command(Python, filepath.Join(filepath.Dir(self), "oauthlib_oracle.py"),
		"--public-key", opt.PublicKeyFile, "--consumer-key", opt.ConsumerKey, "--token", opt.Token,
		"--origin", opt.Origin, "--prefix", opt.Prefix)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	o := &Oracle{Stderr: &bytes.Buffer{}}
	cmd.Stderr = o.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- l
	}()
	select {
	case l := <-line:
		if _, err := fmt.Sscanf(l, "PORT %d", &o.Port); err != nil {
			t.Fatalf("oracle did not start (%q): %s", l, o.Stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("oracle did not start in 30s: %s", o.Stderr)
	}
	return o
}

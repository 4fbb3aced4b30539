//go:build linux

package testsso

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Program is a Go program the package builds with `go install
// Package@Version`, outside this repository's module: its dependencies
// stay out of our go.mod.
type Program struct {
	Package string // the main package
	Version string // its module's version
	Name    string // the binary go install writes (the package's last element)
}

// The two programs: the zitadel/oidc library's example OpenID Provider
// and oauth2-proxy.
var (
	IssuerProgram = Program{Package: "github.com/zitadel/oidc/v3/example/server", Version: "v3.52.0", Name: "server"}
	ProxyProgram  = Program{Package: "github.com/oauth2-proxy/oauth2-proxy/v7", Version: "v7.15.6", Name: "oauth2-proxy"}
)

func (p Program) String() string { return p.Package + "@" + p.Version }

// Binaries are the built programs' paths.
type Binaries struct {
	Issuer string // the zitadel example OpenID Provider
	Proxy  string // oauth2-proxy
}

// CacheEnv names the environment variable that, when set, is the
// directory the binaries are built into instead of CacheDir's default.
const CacheEnv = "APPLINK_TESTSSO_CACHE"

// BuildTimeout bounds one go install (the first one downloads and
// compiles oauth2-proxy's dependencies: about a minute on two cores).
const BuildTimeout = 10 * time.Minute

// CacheDir is where the binaries are kept between test runs:
// $APPLINK_TESTSSO_CACHE, else the user's cache directory's
// caddy-applink/testsso/bin.
func CacheDir() string {
	if d := os.Getenv(CacheEnv); d != "" {
		return d
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	return filepath.Join(cache, "caddy-applink", "testsso", "bin")
}

// dir is where p's binary lives: keyed by package, version and platform.
func (p Program) dir() string {
	key := strings.ReplaceAll(p.Package, "/", "_") + "@" + p.Version + "-" + runtime.GOOS + "_" + runtime.GOARCH
	return filepath.Join(CacheDir(), key)
}

// Path is where p's binary is, once built.
func (p Program) Path() string { return filepath.Join(p.dir(), p.Name) }

var buildOnce = sync.OnceValues(build)

// Build builds both programs unless cached binaries exist, and returns
// their paths; a test binary builds at most once (and remembers a
// failure). Several processes building at once take turns (a lock file
// in CacheDir), so that only the first builds.
func Build() (Binaries, error) { return buildOnce() }

// Built reports whether both binaries are in the cache, so that Start
// will not build.
func Built() bool {
	for _, p := range []Program{IssuerProgram, ProxyProgram} {
		if _, err := os.Stat(p.Path()); err != nil {
			return false
		}
	}
	return true
}

func build() (Binaries, error) {
	bins := Binaries{Issuer: IssuerProgram.Path(), Proxy: ProxyProgram.Path()}
	if Built() {
		return bins, nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return bins, fmt.Errorf("building %s and %s needs the go command: %w", IssuerProgram, ProxyProgram, err)
	}
	root := CacheDir()
	if err := os.MkdirAll(root, 0o755); err != nil {
		return bins, err
	}
	lock, err := os.OpenFile(filepath.Join(root, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return bins, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return bins, err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	// Two builds at once: go parallelises each anyway, and oauth2-proxy's
	// is the long one.
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, p := range []Program{IssuerProgram, ProxyProgram} {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = install(goBin, root, p) }()
	}
	wg.Wait()
	return bins, errors.Join(errs...)
}

// install runs go install p@version into a directory of its own under
// root and renames it into place. GOTOOLCHAIN=local: a program that
// needs a newer Go fails to build (and says which Go it needs) instead
// of downloading a toolchain. GOWORK=off and the directory keep any
// workspace or module of the caller out of it.
func install(goBin, root string, p Program) error {
	if _, err := os.Stat(p.Path()); err == nil {
		return nil
	}
	tmp, err := os.MkdirTemp(root, "build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), BuildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "install", p.String())
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOWORK=off", "GOTOOLCHAIN=local", "CGO_ENABLED=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go install %s (after %s; it needs the Go module proxy, or a module cache that has it): %v\n%s",
			p, time.Since(start).Round(time.Second), err, out)
	}
	if _, err := os.Stat(filepath.Join(tmp, p.Name)); err != nil {
		return fmt.Errorf("go install %s wrote no %s: %w", p, p.Name, err)
	}
	if err := os.Rename(tmp, p.dir()); err != nil {
		if _, serr := os.Stat(p.Path()); serr != nil {
			return err
		}
	}
	return nil
}

// Missing skips t because the programs could not be built (no network,
// no go command), or fails it when APPLINK_REQUIRE_INTEROP=1: CI must
// not skip silently. It is testpeer.Require's rule; its message names
// the fix (a build with network access, `go run
// ./internal/testsso/cmd/prebuild`) instead of a Debian package.
func Missing(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	const fix = "build them once with network access to the Go module proxy: go run ./internal/testsso/cmd/prebuild"
	if os.Getenv("APPLINK_REQUIRE_INTEROP") == "1" {
		t.Fatalf("the SSO peers (%s, %s) are required (%s): %v", IssuerProgram, ProxyProgram, fix, err)
	}
	t.Skipf("the SSO peers (%s, %s) are not available (%s; APPLINK_REQUIRE_INTEROP=1 makes this fatal): %v",
		IssuerProgram, ProxyProgram, fix, err)
}

package testkit

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
)

// Global options of test Caddyfiles, for CaddyGlobals.
const (
	// TrustLoopback makes 127.0.0.1 a trusted proxy, so that the test may
	// play the SSO in front (the header login) from there.
	TrustLoopback = "servers {\n\ttrusted_proxies static 127.0.0.1/32\n}"
	// NoGrace closes the connections of the old config at once on a
	// reload, instead of waiting for them.
	NoGrace = "grace_period 1ns"
)

// CaddyGlobals is the global options block of a test Caddyfile: no trust
// store installation, the admin endpoint on localhost:admin, the HTTP and
// HTTPS ports, and the options given (one or more lines each), in order.
func CaddyGlobals(admin, httpPort, httpsPort int, options ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{\n\tskip_install_trust\n\tadmin localhost:%d\n\thttp_port %d\n\thttps_port %d\n", admin, httpPort, httpsPort)
	for _, o := range options {
		for _, line := range strings.Split(o, "\n") {
			b.WriteString("\t" + line + "\n")
		}
	}
	b.WriteString("}\n")
	return b.String()
}

// LoadCaddy loads the Caddyfile cfg into the test process's Caddy, whose
// admin endpoint is localhost:admin, waiting up to timeout for the load
// (a reload included), and stops t if it failed.
func LoadCaddy(t *testing.T, admin int, timeout time.Duration, cfg string) *caddytest.Tester {
	t.Helper()
	tester := caddytest.NewTester(t).WithDefaultOverrides(caddytest.Config{AdminPort: admin, LoadRequestTimeout: timeout})
	tester.InitServer(cfg, "caddyfile")
	if t.Failed() {
		t.FailNow()
	}
	return tester
}

// WaitNextSecond sleeps until the next whole second: the in-memory nonce
// store refuses requests stamped with the second it was created in (or
// before).
func WaitNextSecond() {
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
}

package caddymodule

import (
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

// TestMain gives the test process a data directory of its own: the default
// bbolt state file lives there, and another process (a second test binary,
// a running applink) may hold the lock on the real one.
func TestMain(m *testing.M) { testkit.RunWithOwnDataDir(m) }

// Ports of this package's in-process Caddy, one set for each kind of
// config its tests load (the packages merged into it had each their own);
// every package with caddytest tests has its own (cli 2996/9380, e2e
// 2995/9480/9843, adversarial 2994/9580, cmd/applink 2019-2023/8080-8099).
const (
	// The applink handler's (startProxy): the proxy at proxyBase.
	handlerAdminPort = 2999
	handlerHTTPPort  = 9080
	handlerHTTPSPort = 9443

	// The transport's (caddyRun).
	transportAdminPort = 2998
	frontPort          = 9180 // the site the tests call (http_port)
	rtPort             = 9181 // our own applink handler as the remote
	gwPort             = 9182 // a gateway: incoming applink, then the transport
	transportHTTPSPort = 9543

	// The publish handler's (startCaddy).
	publishAdminPort = 2997
	publishHTTPPort  = 9280
	publishHTTPSPort = 9643

	// The login dance's (start): the remote Jira and the local app.
	danceAdminPort = 2993
	danceHTTPPort  = 9680
	danceHTTPSPort = 9943
)

// waitForNonceFloor waits, after a config with an applink handler has
// loaded, until requests stamped now pass the floor of its in-memory nonce
// store: the store refuses stamps before the second after it was created.
// It lives as long as some loaded config uses it, and the tests in between
// load configs without applink, so each load may have made a new one.
func waitForNonceFloor() {
	noncePool.Range(func(_, v any) bool {
		floor := v.(memoryNonces).Since().Truncate(time.Second).Add(time.Second)
		time.Sleep(time.Until(floor))
		return true
	})
}

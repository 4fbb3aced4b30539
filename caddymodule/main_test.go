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
// config its tests load (the packages merged into it had each their own):
// free ones, taken when the test binary starts, so that the tests run
// beside the demo, a developer's applink and the other packages' tests.
var ports = testkit.FreePorts(15)

var (
	// The applink handler's (startProxy): the proxy at proxyBase.
	handlerAdminPort = ports[0]
	handlerHTTPPort  = ports[1]
	handlerHTTPSPort = ports[2]

	// The transport's (caddyRun).
	transportAdminPort = ports[3]
	frontPort          = ports[4] // the site the tests call (http_port)
	rtPort             = ports[5] // our own applink handler as the remote
	gwPort             = ports[6] // a gateway: incoming applink, then the transport
	transportHTTPSPort = ports[7]

	// The publish handler's (startCaddy).
	publishAdminPort = ports[8]
	publishHTTPPort  = ports[9]
	publishHTTPSPort = ports[10]

	// The login dance's (start): the remote Jira and the local app.
	danceAdminPort = ports[11]
	danceHTTPPort  = ports[12]
	danceHTTPSPort = ports[13]

	// A port nothing listens on that is not the proxy's: "tampered port".
	otherPort = ports[14]
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

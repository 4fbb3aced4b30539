package testkit

import (
	"fmt"
	"slices"

	"github.com/caddy-applink/caddy-applink/internal/testproc"
)

// FreePorts returns n distinct TCP ports free on 127.0.0.1 now, for a test
// package's in-process Caddy (its admin endpoint and listeners): no test
// takes a fixed port, which a developer's applink, the demo or another
// test binary may hold. It panics if it cannot, as it runs as a package
// variable's initializer.
func FreePorts(n int) []int {
	var ports []int
	for len(ports) < n {
		p, err := testproc.FreePort()
		if err != nil {
			panic(fmt.Sprintf("a free port: %v", err))
		}
		if !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	return ports
}

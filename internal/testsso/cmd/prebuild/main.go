//go:build linux

// Command prebuild builds the SSO test peers (the zitadel/oidc example
// issuer and oauth2-proxy) into testsso's cache, so that the tests do
// not pay the build inside their timeouts: go run
// ./internal/testsso/cmd/prebuild.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/testsso"
)

func main() {
	start := time.Now()
	cached := testsso.Built()
	bins, err := testsso.Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, "prebuild:", err)
		os.Exit(1)
	}
	how := "built in " + time.Since(start).Round(100*time.Millisecond).String()
	if cached {
		how = "cached"
	}
	fmt.Printf("%s\n%s\n(%s)\n", bins.Issuer, bins.Proxy, how)
}

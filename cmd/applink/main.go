// Command applink is Caddy with the caddy-applink modules compiled in.
// Every Caddy subcommand works (run, start, stop, reload, adapt, validate,
// list-modules, version, ...), plus the applink-specific ones the modules
// register (see `applink help`).
package main

import (
	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	// Caddy's standard modules: reverse_proxy, file_server, tls, metrics...
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	// caddy-applink: every module, directive and subcommand.
	_ "github.com/caddy-applink/caddy-applink/caddymodule"
)

// The command line calls itself applink: the root command's name, its
// text and examples, and every subcommand's help (help.go).
func init() {
	caddy.CustomBinaryName = binaryName
	caddy.CustomLongDescription = longDescription
	onRoot(rebrand)
}

func main() {
	caddycmd.Main()
}

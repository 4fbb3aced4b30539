// Package caddymodule holds the Caddy glue of caddy-applink: the modules,
// their Caddyfile parsing and CLI subcommands. The OAuth protocol itself lives
// in the Caddy-free subpackages.
package caddymodule

package caddymodule

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("applink_dance", parseDanceCaddyfile)
	// After every authentication directive, because the dance runs for
	// the local user they establish: basic_auth, forward_auth, and the
	// applink handler (ordered right after forward_auth, so before this
	// one whatever the init order). Before request_header and everything
	// that serves content, so no `order` line is needed.
	httpcaddyfile.RegisterDirectiveOrder("applink_dance", httpcaddyfile.Before, "request_header")
}

func parseDanceCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(DanceHandler)
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return m, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	applink_dance {
//		base_url <our public URL>
//		consumer_key <key>               # default for the links
//		private_key_file <path>          # default for the links
//		link <applicationLinkID> {
//			remote_base_url <url>
//			display_url <url>
//			consumer_key <key>
//			private_key_file <path>
//		}
//		user <placeholder>
//		state file [<path>] { encryption_key <key> } | state redis <url> {...} | state memory
//	}
func (h *DanceHandler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		name := d.Val()
		switch name {
		case "link":
			lc, err := parseLink(d)
			if err != nil {
				return err
			}
			for _, o := range h.Links {
				if o.ID == lc.ID {
					return d.Errf("link %q specified twice", lc.ID)
				}
			}
			h.Links = append(h.Links, lc)
			continue
		case "state":
			if seen[name] {
				return d.Errf("%s specified twice", name)
			}
			seen[name] = true
			st, err := parseState(d)
			if err != nil {
				return err
			}
			h.State = st
			continue
		}
		var dst *string
		switch name {
		case "base_url":
			dst = &h.BaseURL
		case "consumer_key":
			dst = &h.ConsumerKey
		case "private_key_file":
			dst = &h.PrivateKeyFile
		case "user":
			dst = &h.User
		default:
			return d.Errf("unknown subdirective %q", name)
		}
		if seen[name] {
			return d.Errf("%s specified twice", name)
		}
		seen[name] = true
		if err := oneArg(d, dst); err != nil {
			return err
		}
	}
	return nil
}

func parseLink(d *caddyfile.Dispenser) (LinkConfig, error) {
	var lc LinkConfig
	if !d.NextArg() {
		return lc, d.Err("link needs an ID (its applicationLinkID)")
	}
	lc.ID = d.Val()
	if d.NextArg() {
		return lc, d.ArgErr()
	}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		var dst *string
		switch name {
		case "remote_base_url":
			dst = &lc.RemoteBaseURL
		case "display_url":
			dst = &lc.DisplayURL
		case "consumer_key":
			dst = &lc.ConsumerKey
		case "private_key_file":
			dst = &lc.PrivateKeyFile
		default:
			return lc, d.Errf("unknown link subdirective %q", name)
		}
		if seen[name] {
			return lc, d.Errf("%s specified twice", name)
		}
		seen[name] = true
		if err := oneArg(d, dst); err != nil {
			return lc, err
		}
	}
	if lc.RemoteBaseURL == "" {
		return lc, d.Errf("link %s: remote_base_url is required", lc.ID)
	}
	return lc, nil
}

// oneArg is the shared Caddyfile helper.
// Interface guard
var _ caddyfile.Unmarshaler = (*DanceHandler)(nil)

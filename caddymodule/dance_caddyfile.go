package caddymodule

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("applink_dance", parseDirective[DanceHandler])
	// After every authentication directive, because the dance runs for
	// the local user they establish: basic_auth, forward_auth, and the
	// applink handler (ordered right after forward_auth, so before this
	// one whatever the init order). Before request_header and everything
	// that serves content, so no `order` line is needed.
	httpcaddyfile.RegisterDirectiveOrder("applink_dance", httpcaddyfile.Before, "request_header")
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
	if err := noArgs(d); err != nil {
		return err
	}
	seen := map[string]bool{}
	strs := map[string]*string{"base_url": &h.BaseURL, "consumer_key": &h.ConsumerKey, "private_key_file": &h.PrivateKeyFile, "user": &h.User}
	for d.NextBlock(0) {
		switch d.Val() {
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
		case "state":
			if err := once(d, seen); err != nil {
				return err
			}
			st, err := parseState(d)
			if err != nil {
				return err
			}
			h.State = st
		default:
			if err := stringArg(d, strs, seen, "subdirective"); err != nil {
				return err
			}
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
	strs := map[string]*string{"remote_base_url": &lc.RemoteBaseURL, "display_url": &lc.DisplayURL,
		"consumer_key": &lc.ConsumerKey, "private_key_file": &lc.PrivateKeyFile}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if err := stringArg(d, strs, seen, "link subdirective"); err != nil {
			return lc, err
		}
	}
	if lc.RemoteBaseURL == "" {
		return lc, d.Errf("link %s: remote_base_url is required", lc.ID)
	}
	return lc, nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*DanceHandler)(nil)

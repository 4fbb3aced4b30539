package caddymodule

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("applink_publish", parsePublishCaddyfile)
	// Before every authentication directive (basic_auth, forward_auth, and
	// applink, which is ordered after forward_auth), so that the two
	// documents are served anonymously, as Atlassian serves them, even
	// where the rest of the site requires authentication.
	httpcaddyfile.RegisterDirectiveOrder("applink_publish", httpcaddyfile.Before, "basic_auth")
}

func parsePublishCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(PublishHandler)
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return m, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	applink_publish {
//		base_url <url>
//		consumer_key <key>
//		name <text>
//		description <text>
//		private_key_file <path> | public_key_file <path>
//		application_id <uuid>
//		type_id <type>
//		version <version>
//		icon_url <url>
//	}
func (h *PublishHandler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		var dst *string
		switch d.Val() {
		case "base_url":
			dst = &h.BaseURL
		case "consumer_key":
			dst = &h.ConsumerKey
		case "name":
			dst = &h.Name
		case "description":
			dst = &h.Description
		case "private_key_file":
			dst = &h.PrivateKeyFile
		case "public_key_file":
			dst = &h.PublicKeyFile
		case "application_id":
			dst = &h.ApplicationID
		case "type_id":
			dst = &h.TypeID
		case "version":
			dst = &h.Version
		case "icon_url":
			dst = &h.IconURL
		default:
			return d.Errf("unknown subdirective %q", d.Val())
		}
		name := d.Val()
		if seen[name] {
			return d.Errf("%s specified twice", name)
		}
		seen[name] = true
		if err := oneArg(d, dst); err != nil {
			return err
		}
	}
	if h.PrivateKeyFile != "" && h.PublicKeyFile != "" {
		return d.Err("set private_key_file or public_key_file, not both")
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*PublishHandler)(nil)

package caddymodule

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("applink_publish", parseDirective[PublishHandler])
	// Before every authentication directive (basic_auth, forward_auth, and
	// applink, which is ordered after forward_auth), so that the two
	// documents are served anonymously, as Atlassian serves them, even
	// where the rest of the site requires authentication.
	httpcaddyfile.RegisterDirectiveOrder("applink_publish", httpcaddyfile.Before, "basic_auth")
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
	if err := noArgs(d); err != nil {
		return err
	}
	seen := map[string]bool{}
	strs := map[string]*string{"base_url": &h.BaseURL, "consumer_key": &h.ConsumerKey, "name": &h.Name,
		"description": &h.Description, "private_key_file": &h.PrivateKeyFile, "public_key_file": &h.PublicKeyFile,
		"application_id": &h.ApplicationID, "type_id": &h.TypeID, "version": &h.Version, "icon_url": &h.IconURL}
	for d.NextBlock(0) {
		if err := stringArg(d, strs, seen, "subdirective"); err != nil {
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

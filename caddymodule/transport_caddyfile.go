package caddymodule

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

// UnmarshalCaddyfile sets up the transport from Caddyfile tokens:
//
//	transport applink {
//		consumer_key <key>
//		private_key_file <path>
//		next_private_key_file <path>   # during a key rotation
//		remote_base_url <url>
//		mode 2lo|impersonation|3lo
//		user <placeholder>
//		# mode 3lo only:
//		state file [<path>] { encryption_key <key> } | state redis <url> {...} | state memory
//		link_id <applicationLinkID at applink_dance>
//		dance_base_url <our base URL, where applink_dance is served>
//		renew_before <duration>
//		# any subdirective of `transport http` (tls, dial_timeout, ...)
//	}
//
// Its own subdirectives are taken out of the block, and what remains goes
// to the HTTP transport's parser, which refuses anything it does not know.
func (t *Transport) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if t.HTTPTransport == nil {
		t.HTTPTransport = new(reverseproxy.HTTPTransport)
	}
	if err := noArgs(d); err != nil {
		return err
	}
	seen := map[string]bool{}
	var renew string
	strs := map[string]*string{"consumer_key": &t.ConsumerKey, "private_key_file": &t.PrivateKeyFile, "next_private_key_file": &t.NextPrivateKeyFile,
		"remote_base_url": &t.RemoteBaseURL, "mode": &t.Mode, "user": &t.User,
		"link_id": &t.LinkID, "dance_base_url": &t.DanceBaseURL, "renew_before": &renew}
	for d.NextBlock(0) {
		if d.Nesting() > 1 {
			continue // inside a block of an HTTP transport subdirective
		}
		name := d.Val()
		if name == "state" {
			if err := once(d, seen); err != nil {
				return err
			}
			seg := d.NextSegment()
			sd := caddyfile.NewDispenser(seg)
			sd.Next()
			st, err := parseState(sd)
			if err != nil {
				return err
			}
			t.State = st
			d.DeleteN(len(seg))
			continue
		}
		if strs[name] == nil {
			d.RemainingArgs() // the HTTP transport's, parsed below
			continue
		}
		if err := stringArg(d, strs, seen, "subdirective"); err != nil {
			return err
		}
		switch name {
		case "renew_before":
			dur, err := caddy.ParseDuration(renew)
			if err != nil || dur < 0 {
				return d.Errf("renew_before: want a duration, got %q", renew)
			}
			t.RenewBefore = caddy.Duration(dur)
		case "mode":
			if err := oneOf(name, t.Mode, "2lo", "impersonation", "3lo"); err != nil {
				return d.Err(err.Error())
			}
		}
		d.DeleteN(2)
	}
	d.Reset()
	return t.HTTPTransport.UnmarshalCaddyfile(d)
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Transport)(nil)

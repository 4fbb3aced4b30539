package caddymodule

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("applink", parseCaddyfile)
	// Before anything that reads identity or serves content, so users need
	// no `order` line; in particular before reverse_proxy.
	httpcaddyfile.RegisterDirectiveOrder("applink", httpcaddyfile.After, "forward_auth")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(Handler)
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return m, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	applink {
//		base_url <url>
//		identity_header <name>
//		consumer <key> {
//			name <text>
//			public_key <base64 DER or PEM> | public_key_file <path>
//			secret <shared secret>
//			two_legged <user>
//			impersonation
//		}
//		legacy_auth block|strip
//		anonymous pass|reject
//		timestamp_window <duration>
//		max_form_body <size>
//	}
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "base_url":
			if err := oneArg(d, &h.BaseURL); err != nil {
				return err
			}
		case "identity_header":
			if err := oneArg(d, &h.IdentityHeader); err != nil {
				return err
			}
		case "legacy_auth":
			if err := oneArg(d, &h.LegacyAuth); err != nil {
				return err
			}
			if h.LegacyAuth != "block" && h.LegacyAuth != "strip" {
				return d.Errf("legacy_auth must be block or strip, not %q", h.LegacyAuth)
			}
		case "anonymous":
			if err := oneArg(d, &h.Anonymous); err != nil {
				return err
			}
			if h.Anonymous != "pass" && h.Anonymous != "reject" {
				return d.Errf("anonymous must be pass or reject, not %q", h.Anonymous)
			}
		case "timestamp_window":
			var s string
			if err := oneArg(d, &s); err != nil {
				return err
			}
			dur, err := caddy.ParseDuration(s)
			if err != nil {
				return d.Errf("timestamp_window: %v", err)
			}
			h.TimestampWindow = caddy.Duration(dur)
		case "max_form_body":
			var s string
			if err := oneArg(d, &s); err != nil {
				return err
			}
			n, err := humanize.ParseBytes(s)
			if err != nil || n == 0 || n > 1<<30 {
				return d.Errf("max_form_body: want a size between 1B and 1GiB, got %q", s)
			}
			h.MaxFormBody = int64(n)
		case "consumer":
			c, err := parseConsumer(d)
			if err != nil {
				return err
			}
			h.Consumers = append(h.Consumers, c)
		default:
			return d.Errf("unknown subdirective %q", d.Val())
		}
	}
	return nil
}

func parseConsumer(d *caddyfile.Dispenser) (*ConsumerConfig, error) {
	c := new(ConsumerConfig)
	if !d.NextArg() {
		return nil, d.Err("consumer needs its oauth_consumer_key")
	}
	c.Key = d.Val()
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "name":
			if err := oneArg(d, &c.Name); err != nil {
				return nil, err
			}
		case "public_key":
			if err := oneArg(d, &c.PublicKey); err != nil {
				return nil, err
			}
		case "public_key_file":
			if err := oneArg(d, &c.PublicKeyFile); err != nil {
				return nil, err
			}
		case "secret":
			if err := oneArg(d, &c.Secret); err != nil {
				return nil, err
			}
		case "two_legged":
			if err := oneArg(d, &c.TwoLegged); err != nil {
				return nil, err
			}
		case "impersonation":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			c.Impersonation = true
		default:
			return nil, d.Errf("unknown consumer subdirective %q", d.Val())
		}
	}
	return c, nil
}

// oneArg reads exactly one argument for the current subdirective.
func oneArg(d *caddyfile.Dispenser, dst *string) error {
	name := d.Val()
	if !d.NextArg() {
		return d.Errf("%s needs one argument", name)
	}
	*dst = d.Val()
	if d.NextArg() {
		return d.Errf("%s takes one argument, got extra %s", name, strconv.Quote(d.Val()))
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Handler)(nil)

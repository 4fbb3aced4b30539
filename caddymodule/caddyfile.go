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
		case "redact_users":
			if d.NextArg() {
				return d.ArgErr()
			}
			h.RedactUsers = true
		case "debug_base_string":
			if d.NextArg() {
				return d.ArgErr()
			}
			h.DebugBaseString = true
		case "login":
			l, err := parseLogin(d)
			if err != nil {
				return err
			}
			h.Login = l
		case "state":
			st, err := parseState(d)
			if err != nil {
				return err
			}
			h.State = st
		case "session_key":
			if err := oneArg(d, &h.SessionKey); err != nil {
				return err
			}
		case "request_token_ttl", "access_token_ttl", "session_ttl":
			name := d.Val()
			var s string
			if err := oneArg(d, &s); err != nil {
				return err
			}
			dur, err := caddy.ParseDuration(s)
			if err != nil || dur <= 0 {
				return d.Errf("%s: want a positive duration, got %q", name, s)
			}
			switch name {
			case "request_token_ttl":
				h.RequestTokenTTL = caddy.Duration(dur)
			case "access_token_ttl":
				h.AccessTokenTTL = caddy.Duration(dur)
			default:
				h.SessionTTL = caddy.Duration(dur)
			}
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
		case "three_legged":
			var v string
			if err := oneArg(d, &v); err != nil {
				return nil, err
			}
			if v != "on" && v != "off" {
				return nil, d.Errf("three_legged must be on or off, not %q", v)
			}
			on := v == "on"
			c.ThreeLegged = &on
		case "description":
			if err := oneArg(d, &c.Description); err != nil {
				return nil, err
			}
		default:
			return nil, d.Errf("unknown consumer subdirective %q", d.Val())
		}
	}
	return c, nil
}

// oneArg reads exactly one argument for the current subdirective.
// oneArg reads exactly one argument, and no block, for the subdirective the
// dispenser is on: the Caddyfile helper every applink module shares.
func oneArg(d *caddyfile.Dispenser, dst *string) error {
	name := d.Val()
	if !d.NextArg() {
		return d.Errf("%s needs one argument", name)
	}
	*dst = d.Val()
	if d.NextArg() {
		return d.Errf("%s takes one argument, got extra %s", name, strconv.Quote(d.Val()))
	}
	if d.NextBlock(d.Nesting()) {
		return d.Errf("%s takes no block", name)
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Handler)(nil)

// parseLogin reads
//
//	login header <name>
//	login upstream <whoami url or path> [<login url>]
//	login ldap <ldap[s]://host:port> {
//		user_dn <template with {user}> | search_base <dn> + search_filter <filter with {user}>
//		bind_dn <dn>
//		bind_password <password>
//		user_attribute <attr>
//		starttls
//		session_ttl <duration>
//	}
func parseLogin(d *caddyfile.Dispenser) (*LoginConfig, error) {
	l := new(LoginConfig)
	if !d.NextArg() {
		return nil, d.Err("login needs a source: header, upstream or ldap")
	}
	l.Source = d.Val()
	args := d.RemainingArgs()
	switch l.Source {
	case "header":
		if len(args) != 1 {
			return nil, d.Err("usage: login header <header name>")
		}
		l.Header = args[0]
	case "upstream":
		if len(args) < 1 || len(args) > 2 {
			return nil, d.Err("usage: login upstream <current-user URL or path> [<login URL>]")
		}
		l.WhoAmI = args[0]
		if len(args) == 2 {
			l.LoginURL = args[1]
		}
	case "ldap":
		if len(args) != 1 {
			return nil, d.Err("usage: login ldap <ldap://host:port> { ... }")
		}
		l.LDAP = &LDAPConfig{URL: args[0]}
		for nesting := d.Nesting(); d.NextBlock(nesting); {
			var dst *string
			switch d.Val() {
			case "user_dn":
				dst = &l.LDAP.UserDN
			case "search_base":
				dst = &l.LDAP.SearchBase
			case "search_filter":
				dst = &l.LDAP.SearchFilter
			case "bind_dn":
				dst = &l.LDAP.BindDN
			case "bind_password":
				dst = &l.LDAP.BindPassword
			case "user_attribute":
				dst = &l.LDAP.UserAttribute
			case "starttls":
				if d.NextArg() {
					return nil, d.ArgErr()
				}
				l.LDAP.StartTLS = true
				continue
			case "session_ttl":
				var s string
				if err := oneArg(d, &s); err != nil {
					return nil, err
				}
				dur, err := caddy.ParseDuration(s)
				if err != nil {
					return nil, d.Errf("session_ttl: %v", err)
				}
				l.SessionTTL = caddy.Duration(dur)
				continue
			default:
				return nil, d.Errf("unknown login ldap subdirective %q", d.Val())
			}
			if err := oneArg(d, dst); err != nil {
				return nil, err
			}
		}
	default:
		return nil, d.Errf("login must be header, upstream or ldap, not %q", l.Source)
	}
	return l, nil
}

// parseState reads `state file [<path>] { encryption_key <key> }`,
// `state redis <url> { key_prefix <p>; encryption_key <key> }` or
// `state memory`.
func parseState(d *caddyfile.Dispenser) (*StateConfig, error) {
	st := new(StateConfig)
	if !d.NextArg() {
		return nil, d.Err("state needs a backend: file or memory")
	}
	st.Backend = d.Val()
	switch st.Backend {
	case "file":
		if d.NextArg() {
			st.Path = d.Val()
		}
		if d.NextArg() {
			return nil, d.ArgErr()
		}
	case "memory":
		if d.NextArg() {
			return nil, d.ArgErr()
		}
	case "redis":
		if !d.NextArg() {
			return nil, d.Err("state redis needs a URL, e.g. redis://127.0.0.1:6379/0")
		}
		st.URL = d.Val()
		if d.NextArg() {
			return nil, d.ArgErr()
		}
	default:
		return nil, d.Errf("state must be file, redis or memory, not %q", st.Backend)
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "encryption_key":
			if err := oneArg(d, &st.EncryptionKey); err != nil {
				return nil, err
			}
		case "key_prefix":
			if st.Backend != "redis" {
				return nil, d.Err("key_prefix is for state redis")
			}
			if err := oneArg(d, &st.KeyPrefix); err != nil {
				return nil, err
			}
		default:
			return nil, d.Errf("unknown state subdirective %q", d.Val())
		}
	}
	return st, nil
}

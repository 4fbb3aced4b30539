package caddymodule

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("applink", parseDirective[Handler])
	// Before anything that reads identity or serves content, so users need
	// no `order` line; in particular before reverse_proxy, and before
	// forward_auth: on a site that also has SSO, applink decides the signed
	// requests first, and `not applink_verified` sends the rest to SSO.
	httpcaddyfile.RegisterDirectiveOrder("applink", httpcaddyfile.Before, "forward_auth")
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens
// (docs/configuration.md explains each):
//
//	applink [<matcher>] {
//		base_url <url>
//		identity_header <header name>
//		consumer <oauth_consumer_key> {
//			name <text>
//			description <text>
//			public_key <base64 DER or PEM> | public_key_file <path>
//			secret <shared secret>
//			two_legged <user>
//			impersonation
//			three_legged on|off
//		}
//		legacy_auth block|strip
//		anonymous pass|reject
//		timestamp_window <duration>
//		max_form_body <size>
//		debug_base_string
//		redact_users
//		forward_oauth
//		login header <header name>
//		login upstream <current-user URL or path> [<login URL>]
//		login ldap <ldap[s]://host:port> {
//			...
//		}
//		state file [<path>] | state memory | state redis <url> {
//			encryption_key <key>
//			key_prefix <prefix>
//		}
//		session_key <key>
//		request_token_ttl <duration>
//		access_token_ttl <duration>
//		session_ttl <duration>
//	}
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if err := noArgs(d); err != nil {
		return err
	}
	strs := map[string]*string{"base_url": &h.BaseURL, "identity_header": &h.IdentityHeader, "session_key": &h.SessionKey}
	for d.NextBlock(0) {
		switch d.Val() {
		case "legacy_auth":
			if err := choiceArg(d, &h.LegacyAuth, "block", "strip"); err != nil {
				return err
			}
		case "anonymous":
			if err := choiceArg(d, &h.Anonymous, "pass", "reject"); err != nil {
				return err
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
			if err := flagArg(d, &h.RedactUsers); err != nil {
				return err
			}
		case "debug_base_string":
			if err := flagArg(d, &h.DebugBaseString); err != nil {
				return err
			}
		case "forward_oauth":
			if err := flagArg(d, &h.ForwardOAuth); err != nil {
				return err
			}
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
			if err := stringArg(d, strs, nil, "subdirective"); err != nil {
				return err
			}
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
	strs := map[string]*string{"name": &c.Name, "description": &c.Description,
		"secret": &c.Secret, "two_legged": &c.TwoLegged}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "public_key", "public_key_file":
			if err := parsePublicKey(d, c); err != nil {
				return nil, err
			}
		case "impersonation":
			if err := flagArg(d, &c.Impersonation); err != nil {
				return nil, err
			}
			if err := parseImpersonationPolicy(d, c); err != nil {
				return nil, err
			}
		case "three_legged":
			var v string
			if err := choiceArg(d, &v, "on", "off"); err != nil {
				return nil, err
			}
			on := v == "on"
			c.ThreeLegged = &on
		default:
			if err := stringArg(d, strs, nil, "consumer subdirective"); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

// parsePublicKey reads a public_key or public_key_file line. A consumer
// takes two, in any mix, during a key rotation: the first is its key, the
// second the one it rotates to (second_public_key in JSON).
func parsePublicKey(d *caddyfile.Dispenser, c *ConsumerConfig) error {
	inline := d.Val() == "public_key"
	var v string
	if err := oneArg(d, &v); err != nil {
		return err
	}
	slots := [2][2]*string{{&c.PublicKey, &c.PublicKeyFile}, {&c.SecondPublicKey, &c.SecondPublicKeyFile}}
	for _, slot := range slots {
		if *slot[0] != "" || *slot[1] != "" {
			continue
		}
		if inline {
			*slot[0] = v
		} else {
			*slot[1] = v
		}
		return nil
	}
	return d.Errf("consumer %q: a third public key; a consumer takes at most two (its key and, during a rotation, the next)", c.Key)
}

// parseDirective parses a handler directive into its module M, which
// unmarshals itself.
func parseDirective[M any, P interface {
	*M
	caddyhttp.MiddlewareHandler
	caddyfile.Unmarshaler
}](h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := P(new(M))
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return m, err
}

// noArgs passes the directive's name (or the transport's) and refuses
// arguments after it: the module's settings are in its block.
func noArgs(d *caddyfile.Dispenser) error {
	d.Next()
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

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

// stringArg reads the one argument of the subdirective the dispenser is on
// into its field in fields (oneArg), refusing it if seen, when not nil,
// has it already (once). A subdirective fields lacks is unknown to the
// block: what names it in the error ("unknown <what> <name>").
func stringArg(d *caddyfile.Dispenser, fields map[string]*string, seen map[string]bool, what string) error {
	dst := fields[d.Val()]
	if dst == nil {
		return d.Errf("unknown %s %q", what, d.Val())
	}
	if seen != nil {
		if err := once(d, seen); err != nil {
			return err
		}
	}
	return oneArg(d, dst)
}

// choiceArg is oneArg for a subdirective whose argument is one of choices.
func choiceArg(d *caddyfile.Dispenser, dst *string, choices ...string) error {
	name := d.Val()
	if err := oneArg(d, dst); err != nil {
		return err
	}
	if err := oneOf(name, *dst, choices...); err != nil {
		return d.Err(err.Error())
	}
	return nil
}

// oneOf refuses v, the value of option name, unless it is one of choices.
func oneOf(name, v string, choices ...string) error {
	if slices.Contains(choices, v) {
		return nil
	}
	last := len(choices) - 1
	return fmt.Errorf("%s must be %s or %s, not %q", name, strings.Join(choices[:last], ", "), choices[last], v)
}

// flagArg sets *dst for a subdirective that takes no argument.
func flagArg(d *caddyfile.Dispenser, dst *bool) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	*dst = true
	return nil
}

// once refuses the subdirective the dispenser is on if seen has it, and
// adds it to seen.
func once(d *caddyfile.Dispenser, seen map[string]bool) error {
	name := d.Val()
	if seen[name] {
		return d.Errf("%s specified twice", name)
	}
	seen[name] = true
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
		err := parseLDAPBlock(d, l.LDAP, "login ldap", func(name string) (bool, error) {
			if name != "session_ttl" {
				return false, nil
			}
			dur, err := durationArg(d)
			l.SessionTTL = caddy.Duration(dur)
			return true, err
		})
		if err != nil {
			return nil, err
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

// parseLDAPBlock reads the connection settings of a directory (user_dn |
// search_base + search_filter, bind_dn, bind_password, user_attribute,
// starttls) into x; other subdirectives go to more, which reports whether
// it took them. what names the block in errors.
func parseLDAPBlock(d *caddyfile.Dispenser, x *LDAPConfig, what string, more func(name string) (bool, error)) error {
	strs := map[string]*string{"user_dn": &x.UserDN, "search_base": &x.SearchBase, "search_filter": &x.SearchFilter,
		"bind_dn": &x.BindDN, "bind_password": &x.BindPassword, "user_attribute": &x.UserAttribute}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if d.Val() == "starttls" {
			if err := flagArg(d, &x.StartTLS); err != nil {
				return err
			}
			continue
		}
		if took, err := more(d.Val()); took || err != nil {
			if err != nil {
				return err
			}
			continue
		}
		if err := stringArg(d, strs, nil, what+" subdirective"); err != nil {
			return err
		}
	}
	return nil
}

// durationArg reads the one duration argument of the subdirective the
// dispenser is on.
func durationArg(d *caddyfile.Dispenser) (time.Duration, error) {
	name := d.Val()
	var s string
	if err := oneArg(d, &s); err != nil {
		return 0, err
	}
	dur, err := caddy.ParseDuration(s)
	if err != nil {
		return 0, d.Errf("%s: %v", name, err)
	}
	return dur, nil
}

// parseImpersonationLDAP reads `ldap [<ldap[s]://host:port>] { ... }` of
// an impersonation block: without a URL, login ldap's directory; with
// one, a directory of its own, set up as in login ldap.
func parseImpersonationLDAP(d *caddyfile.Dispenser) (*ImpersonationLDAPConfig, error) {
	cfg := new(ImpersonationLDAPConfig)
	args := d.RemainingArgs()
	switch len(args) {
	case 0:
	case 1:
		cfg.Directory = &LDAPConfig{URL: args[0]}
	default:
		return nil, d.Err("usage: ldap [<ldap://host:port>] { ... }")
	}
	own := cfg.Directory
	if own == nil {
		own = new(LDAPConfig) // only to refuse its settings below
	}
	err := parseLDAPBlock(d, own, "impersonation ldap", func(name string) (bool, error) {
		switch name {
		case "cache":
			dur, err := durationArg(d)
			cfg.Cache = caddy.Duration(dur)
			return true, err
		case "disabled_filter":
			return true, oneArg(d, &cfg.DisabledFilter)
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	if cfg.Directory == nil && *own != (LDAPConfig{}) {
		return nil, d.Err("impersonation ldap: directory settings need the directory's URL (ldap <ldap://host:port> { ... }); without one, login ldap's are used")
	}
	return cfg, nil
}

// parseImpersonationPolicy reads impersonation's optional block:
//
//	impersonation {
//		deny <user>...
//		allow <user>...
//		map strip_domain|lowercase...
//		ldap [<ldap[s]://host:port>] {
//			cache <duration>
//			disabled_filter <filter>
//			user_dn ... | search_base ... search_filter ...; bind_dn; bind_password; starttls (with a URL)
//		}
//	}
func parseImpersonationPolicy(d *caddyfile.Dispenser, c *ConsumerConfig) error {
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if c.ImpersonationPolicy == nil {
			c.ImpersonationPolicy = new(ImpersonationConfig)
		}
		p := c.ImpersonationPolicy
		name := d.Val()
		if name == "ldap" {
			if p.LDAP != nil {
				return d.Err("impersonation ldap is given twice")
			}
			var err error
			if p.LDAP, err = parseImpersonationLDAP(d); err != nil {
				return err
			}
			continue
		}
		if name != "deny" && name != "allow" && name != "map" {
			return d.Errf("unknown impersonation subdirective %q (deny, allow, map, ldap)", name)
		}
		args := d.RemainingArgs()
		if len(args) == 0 {
			return d.Errf("impersonation %s needs at least one argument", name)
		}
		switch name {
		case "deny":
			p.Deny = append(p.Deny, args...)
		case "allow":
			p.Allow = append(p.Allow, args...)
		case "map":
			for _, a := range args {
				if a != "strip_domain" && a != "lowercase" {
					return d.Errf("impersonation map %q: want strip_domain or lowercase", a)
				}
			}
			p.Map = append(p.Map, args...)
		}
	}
	return nil
}

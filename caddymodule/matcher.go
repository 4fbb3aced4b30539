package caddymodule

import (
	"net/http"
	"slices"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
)

func init() {
	caddy.RegisterModule(MatchVerified{})
}

// verifiedVar is the request variable the applink handler sets, to the
// *oauth1.Consumer, on a request it verified and passes on (a pointer:
// boxing the key string would cost every request an allocation).
// {applink.consumer} is the placeholder for the key.
const verifiedVar = "applink.verified_consumer"

// MatchVerified matches a request the applink handler verified and is
// passing on (an application link's, or a token endpoint's with
// forward_oauth), optionally only for some consumers. It exists so that
// one site can serve linked applications and browsers: after applink,
// `not applink_verified` selects the browsers for an SSO handler such as
// forward_auth, while signed requests, already decided by applink, skip
// it. It never matches before applink has run on the request: applink is
// ordered before forward_auth for that reason.
//
//	@browsers not applink_verified
//	forward_auth @browsers <sso> { ... }
type MatchVerified struct {
	// If given, only requests of these consumers (oauth_consumer_key).
	Consumers []string `json:"consumers,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (MatchVerified) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.matchers.applink_verified",
		New: func() caddy.Module { return new(MatchVerified) },
	}
}

// Match reports whether applink verified r (for one of Consumers).
func (m MatchVerified) Match(r *http.Request) bool {
	ok, _ := m.MatchWithError(r)
	return ok
}

// MatchWithError is Match; it has no error to return.
func (m MatchVerified) MatchWithError(r *http.Request) (bool, error) {
	c, _ := caddyhttp.GetVar(r.Context(), verifiedVar).(*oauth1.Consumer)
	if c == nil {
		return false, nil
	}
	return len(m.Consumers) == 0 || slices.Contains(m.Consumers, c.Key), nil
}

// UnmarshalCaddyfile reads `applink_verified [<consumer key>...]`.
func (m *MatchVerified) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()
	m.Consumers = append(m.Consumers, d.RemainingArgs()...)
	if d.NextBlock(d.Nesting()) {
		return d.Err("applink_verified takes no block")
	}
	return nil
}

var (
	_ caddyhttp.RequestMatcherWithError = MatchVerified{}
	_ caddyfile.Unmarshaler             = (*MatchVerified)(nil)
)

package caddymodule

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-applink/caddy-applink/internal/consumer"
	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/provider"
	"github.com/caddy-applink/caddy-applink/internal/signer"
)

// provisionTokens checks the 3LO settings and, for mode 3lo without an
// injected tokenSource, opens the shared consumer-side token store.
func (t *Transport) provisionTokens(ctx caddy.Context) error {
	if t.mode != signer.Mode3LO {
		for name, set := range map[string]bool{"state": t.State != nil, "link_id": t.LinkID != "",
			"dance_base_url": t.DanceBaseURL != "", "renew_before": t.RenewBefore != 0} {
			if set {
				return fmt.Errorf("%s has no effect unless mode is 3lo", name)
			}
		}
		return nil
	}
	repl := caddy.NewReplacer()
	if t.DanceBaseURL != "" {
		b, err := oauth1.ParseBaseURL(repl.ReplaceKnown(t.DanceBaseURL, ""))
		if err != nil {
			return fmt.Errorf("dance_base_url: %w", err)
		}
		t.danceBase = b.Origin() + b.ContextPath()
	}
	if t.RenewBefore < 0 {
		return errors.New("renew_before must not be negative")
	}
	if t.tokenSrc != nil {
		return nil
	}
	var sealer *provider.Sealer
	if t.State != nil && t.State.EncryptionKey != "" {
		var err error
		if sealer, err = provider.NewSealer(repl.ReplaceKnown(t.State.EncryptionKey, "")); err != nil {
			return fmt.Errorf("state encryption_key: %w", err)
		}
	}
	st, err := acquireState(ctx, t.State)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	remote := st.store
	t.stateKey = st.key
	t.tokenSrc = &consumer.Tokens{
		Store:       remote,
		Sealer:      sealer,
		Links:       t.linkFor,
		RenewBefore: time.Duration(t.RenewBefore),
		Logger:      t.logger,
	}
	return nil
}

// linkFor is the link renewals of remote's tokens go through: signed with
// our preferred key for remote, sent by the wrapped HTTP transport.
func (t *Transport) linkFor(remote string) *consumer.Link {
	signers := t.fixed
	if signers == nil || signers[0].RemoteBaseURL().Origin()+signers[0].RemoteBaseURL().ContextPath() != remote {
		var err error
		if signers, err = t.newSigner(remote); err != nil {
			return nil
		}
	}
	s := signers[t.preferred.Load()]
	base := s.RemoteBaseURL()
	host := hostOf(base)
	return &consumer.Link{ID: t.linkID(base), Signer: s, Do: func(req *http.Request) (*http.Response, error) {
		if r, ok := req.Context().Value(routeKey{}).(route); ok {
			req.URL.Scheme, req.URL.Host = r.scheme, r.host
		}
		req.Host = host
		return t.HTTPTransport.RoundTrip(req)
	}}
}

// routeKey carries, in the context of a token lookup, where the proxied
// request goes: a renewal takes the same way.
type routeKey struct{}

type route struct{ scheme, host string }

func (t *Transport) linkID(base oauth1.BaseURL) string {
	if t.LinkID != "" {
		return t.LinkID
	}
	return hostOf(base)
}

// danceURL is where a user without a token starts the dance: the
// applink_dance handler's authorize endpoint for this link, returning to
// the current page (GET requests only).
func (t *Transport) danceURL(req *http.Request, base oauth1.BaseURL) string {
	u := t.danceBase + consumer.DanceAuthorizePath + "?applicationLinkID=" + url.QueryEscape(t.linkID(base))
	if req.Method == http.MethodGet {
		orig := req
		if o, ok := req.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok {
			orig = &o
		}
		if ret := orig.URL.RequestURI(); consumer.SafeRedirect(ret) && !strings.Contains(ret, consumer.DanceAuthorizePath) {
			u += "&redirectUrl=" + url.QueryEscape(ret)
		}
	}
	return u
}

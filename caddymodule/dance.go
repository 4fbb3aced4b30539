// The Caddy glue of the consumer-side login dance:
// the handler `applink_dance` (http.handlers.applink_dance) serves
//
//	GET <base_url>/plugins/servlet/applinks/oauth/login-dance/authorize?applicationLinkID=<id>[&redirectUrl=<local path>]
//	GET <base_url>/plugins/servlet/applinks/oauth/login-dance/access?applicationLinkID=<id>&oauth_token=...&oauth_verifier=...
//
// for the local user an earlier authentication handler established, and
// stores the access tokens it obtains in the same token store as the
// applink handler and the applink transport (mode 3lo), which uses them.
// Every other request goes to the next handler. The work is done by
// package consumer (consumer.Dance, consumer.Tokens).

package caddymodule

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-applink/caddy-applink/internal/consumer"
	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/provider"
	"github.com/caddy-applink/caddy-applink/internal/rsakey"
	"github.com/caddy-applink/caddy-applink/internal/signer"
)

func init() {
	caddy.RegisterModule(new(DanceHandler))
}

// DanceHandler serves the login-dance endpoints.
type DanceHandler struct {
	// Our own public URL as browsers reach it (scheme, host, port and an
	// optional context path under which the endpoints are served).
	// Required: the callback the remote redirects browsers to is built
	// from it, never from the request's Host header.
	BaseURL string `json:"base_url"`

	// The remote applications users can authorize us at.
	Links []LinkConfig `json:"links"`

	// Defaults for the links' consumer_key and private_key_file.
	ConsumerKey    string `json:"consumer_key,omitempty"`
	PrivateKeyFile string `json:"private_key_file,omitempty"`

	// The local user: a placeholder evaluated per request. Default
	// {http.auth.user.id}, set by an authentication handler that runs
	// before this one. An empty value is a 401 page.
	User string `json:"user,omitempty"`

	// The token store, shared with the transport (mode 3lo) and the
	// applink handler: any `state` the applink handler accepts (file,
	// redis, memory); default: the file <Caddy data dir>/applink/state.db. With an
	// encryption_key the tokens are sealed at rest; the transport reading
	// them must have the same key.
	State *StateConfig `json:"state,omitempty"`

	dance    *consumer.Dance
	stateKey string
	logger   *zap.Logger
}

// LinkConfig is one remote application.
type LinkConfig struct {
	// The applicationLinkID in the dance URLs, and the transport's link_id.
	ID string `json:"id"`
	// The remote's base URL as its Tomcat reconstructs it, where the token
	// endpoints are called (Atlassian's rpcUrl). Required.
	RemoteBaseURL string `json:"remote_base_url"`
	// Where browsers reach the remote for the approval page (displayUrl).
	// Default: remote_base_url.
	DisplayURL string `json:"display_url,omitempty"`
	// Our consumer key at the remote and its private key; default the
	// handler's.
	ConsumerKey    string `json:"consumer_key,omitempty"`
	PrivateKeyFile string `json:"private_key_file,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (*DanceHandler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.applink_dance",
		New: func() caddy.Module { return new(DanceHandler) },
	}
}

// Provision loads the keys, checks the links and opens the token store.
func (h *DanceHandler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	repl := caddy.NewReplacer()
	if h.BaseURL == "" {
		return errors.New("base_url is required (our public URL; the remote sends browsers back to it)")
	}
	base, err := oauth1.ParseBaseURL(repl.ReplaceKnown(h.BaseURL, ""))
	if err != nil {
		return fmt.Errorf("base_url: %w", err)
	}
	if len(h.Links) == 0 {
		return errors.New("at least one link is required")
	}
	if h.User == "" {
		h.User = "{http.auth.user.id}"
	}

	links := make(map[string]*consumer.Link, len(h.Links))
	byRemote := make(map[string]*consumer.Link, len(h.Links))
	keys := map[string]*rsa.PrivateKey{}
	for _, lc := range h.Links {
		l, err := lc.build(repl, h.ConsumerKey, h.PrivateKeyFile, keys)
		if err != nil {
			return fmt.Errorf("link %q: %w", lc.ID, err)
		}
		if links[l.ID] != nil {
			return fmt.Errorf("link %q is configured twice", l.ID)
		}
		links[l.ID] = l
		byRemote[l.Remote()] = l
	}

	var sealer *provider.Sealer
	if h.State != nil && h.State.EncryptionKey != "" {
		if sealer, err = provider.NewSealer(repl.ReplaceKnown(h.State.EncryptionKey, "")); err != nil {
			return fmt.Errorf("state encryption_key: %w", err)
		}
	}
	st, err := acquireState(ctx, h.State)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	h.stateKey = st.key
	remote := st.store
	h.dance = &consumer.Dance{
		Tokens: &consumer.Tokens{Store: remote, Sealer: sealer, Logger: h.logger,
			Links: func(r string) *consumer.Link { return byRemote[r] }},
		Links:   links,
		BaseURL: base,
		Logger:  h.logger,
	}
	return nil
}

func (lc LinkConfig) build(repl *caddy.Replacer, defKey, defFile string, keys map[string]*rsa.PrivateKey) (*consumer.Link, error) {
	if lc.ID == "" {
		return nil, errors.New("the link needs an ID")
	}
	if strings.ContainsAny(lc.ID, "\x00\r\n") {
		return nil, errors.New("the link ID contains control characters")
	}
	if lc.RemoteBaseURL == "" {
		return nil, errors.New("remote_base_url is required")
	}
	ck := repl.ReplaceKnown(lc.ConsumerKey, "")
	if ck == "" {
		ck = repl.ReplaceKnown(defKey, "")
	}
	if ck == "" {
		return nil, errors.New("consumer_key is required (in the link or the handler)")
	}
	file := repl.ReplaceKnown(lc.PrivateKeyFile, "")
	if file == "" {
		file = repl.ReplaceKnown(defFile, "")
	}
	if file == "" {
		return nil, errors.New("private_key_file is required (in the link or the handler)")
	}
	key := keys[file]
	if key == nil {
		var err error
		if key, err = rsakey.LoadPrivate(file); err != nil {
			return nil, fmt.Errorf("private_key_file: %w", err)
		}
		keys[file] = key
	}
	s, err := signer.New(signer.Config{ConsumerKey: ck, PrivateKey: key, RemoteBaseURL: repl.ReplaceKnown(lc.RemoteBaseURL, "")})
	if err != nil {
		return nil, fmt.Errorf("remote_base_url: %w", err)
	}
	display := repl.ReplaceKnown(lc.DisplayURL, "")
	if display != "" {
		d, err := oauth1.ParseBaseURL(display)
		if err != nil {
			return nil, fmt.Errorf("display_url: %w", err)
		}
		display = d.Origin() + d.ContextPath()
	}
	return &consumer.Link{ID: lc.ID, Signer: s, DisplayURL: display}, nil
}

// Cleanup releases the token store.
func (h *DanceHandler) Cleanup() error {
	if h.stateKey == "" {
		return nil
	}
	err := releaseState(h.stateKey)
	h.stateKey = ""
	return err
}

// ServeHTTP answers the two endpoints and passes everything else on.
func (h *DanceHandler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if !h.dance.Handles(r.URL.Path) {
		return next.ServeHTTP(w, r)
	}
	repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		repl = caddy.NewReplacer()
	}
	// As the transport reads it: a blank user is no user; any other value
	// is used as is, so both name the same token record.
	user := repl.ReplaceAll(h.User, "")
	if strings.TrimSpace(user) == "" {
		user = ""
	}
	h.dance.Serve(w, r, user)
	return nil
}

// Interface guards
var (
	_ caddy.Module                = (*DanceHandler)(nil)
	_ caddy.Provisioner           = (*DanceHandler)(nil)
	_ caddy.CleanerUpper          = (*DanceHandler)(nil)
	_ caddyhttp.MiddlewareHandler = (*DanceHandler)(nil)
)

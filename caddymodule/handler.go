package caddymodule

import (
	"cmp"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-applink/caddy-applink/internal/consumer"
	"github.com/caddy-applink/caddy-applink/internal/hygiene"
	"github.com/caddy-applink/caddy-applink/internal/login"
	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/provider"
	"github.com/caddy-applink/caddy-applink/internal/rsakey"
	"github.com/caddy-applink/caddy-applink/internal/store"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler verifies incoming application-link requests (OAuth 1.0a, RSA-SHA1
// or HMAC-SHA1, 2-legged with or without impersonation), maps each to exactly
// one user, hands that user upstream in a header, and strips everything a
// client could use to claim an identity itself.
type Handler struct {
	// The URL clients sign against: Jira's "Base URL" (scheme, host, port,
	// context path). Required. Client headers never change it.
	BaseURL string `json:"base_url"`

	// The request header that carries the mapped user upstream. Every
	// spelling of it a client sends is removed first. Default X-Forwarded-User.
	IdentityHeader string `json:"identity_header,omitempty"`

	// The linked applications allowed to call.
	Consumers []*ConsumerConfig `json:"consumers,omitempty"`

	// What to do with Trusted Applications headers (X-Seraph-Trusted-App-*)
	// and Basic authentication: "block" (default) refuses the request,
	// "strip" removes them and goes on.
	LegacyAuth string `json:"legacy_auth,omitempty"`

	// What to do with requests that carry no OAuth at all: "pass" (default)
	// forwards them with no identity, "reject" refuses them.
	Anonymous string `json:"anonymous,omitempty"`

	// How far oauth_timestamp may be from now, either way. Default 5m.
	TimestampWindow caddy.Duration `json:"timestamp_window,omitempty"`

	// The largest application/x-www-form-urlencoded body read to look for
	// OAuth parameters, in bytes. Larger form bodies are refused (413).
	// Default 1 MiB.
	MaxFormBody int64 `json:"max_form_body,omitempty"`

	// Answer signature_invalid with oauth_signature_base_string, as
	// Atlassian does (off by default: it shows clients the URL the proxy
	// believes in).
	DebugBaseString bool `json:"debug_base_string,omitempty"`

	// Log a hash of user names instead of the names (logs then still tell
	// users apart, but do not name them).
	RedactUsers bool `json:"redact_users,omitempty"`

	// Forward verified requests with their OAuth intact (the Authorization
	// header and the oauth_* and requestor parameters), so that the
	// product verifies them again with its own, unchanged application
	// links. The product is then the 3LO service provider: its token
	// endpoints and pages are forwarded, not served here, and a 3LO
	// request is checked for its consumer's RSA-SHA1 signature, timestamp
	// and nonce, its token and user left to the product.
	ForwardOAuth bool `json:"forward_oauth,omitempty"`

	// How the approval page and the token page learn who the user is.
	Login *LoginConfig `json:"login,omitempty"`

	// Where tokens live (default: a bbolt file in Caddy's data directory).
	State *StateConfig `json:"state,omitempty"`

	// Keys login sessions and CSRF tokens (32+ bytes; use {env.*}). Default:
	// random per process (sessions end with the process).
	SessionKey string `json:"session_key,omitempty"`

	// Token lifetimes; Atlassian's defaults: request 10m, access 5 years,
	// session (renewal) access + 30 days.
	RequestTokenTTL caddy.Duration `json:"request_token_ttl,omitempty"`
	AccessTokenTTL  caddy.Duration `json:"access_token_ttl,omitempty"`
	SessionTTL      caddy.Duration `json:"session_ttl,omitempty"`

	verifier    *oauth1.Verifier
	realm       string
	identity    string // canonical identity header name
	identityKey string // hygiene.NormalizeHeaderName(identity)
	nonceKey    string
	releaseHold func() // of the memory nonce store's Keep
	consumers   map[string]*oauth1.Consumer
	series      map[*oauth1.Consumer]*verifiedSeries
	logger      *zap.Logger
	stripLegacy bool
	rejectAnon  bool
	contextPath string
	stateKey    string
	provider    *provider.Provider
	login       login.Source
	csrf        *login.CSRF
}

// ConsumerConfig is one linked application, identified by its
// oauth_consumer_key.
type ConsumerConfig struct {
	Key  string `json:"key"`
	Name string `json:"name,omitempty"`

	// The consumer's RSA public key: PEM (PKIX or PKCS#1) or the bare base64
	// DER that Atlassian's consumer-info publishes. Or a file holding either.
	PublicKey     string `json:"public_key,omitempty"`
	PublicKeyFile string `json:"public_key_file,omitempty"`
	// A second key that verifies too, during a key rotation: the
	// consumer's next key (or its previous one). Tried only on a
	// signature the first refuses.
	SecondPublicKey     string `json:"second_public_key,omitempty"`
	SecondPublicKeyFile string `json:"second_public_key_file,omitempty"`

	// A shared secret enabling HMAC-SHA1 (for non-Atlassian clients).
	Secret string `json:"secret,omitempty"`

	// Allow plain 2-legged OAuth, executing as this user.
	TwoLegged string `json:"two_legged,omitempty"`

	// Allow 2-legged OAuth with impersonation (xoauth_requestor_id).
	Impersonation bool `json:"impersonation,omitempty"`

	// Limits impersonation (which it turns on): users never impersonated,
	// the only users impersonated, and how a requested name is mapped
	// before both checks.
	ImpersonationPolicy *ImpersonationConfig `json:"impersonation_policy,omitempty"`

	// Allow 3-legged OAuth (users approve the consumer once). Default true.
	ThreeLegged *bool `json:"three_legged,omitempty"`

	// Shown on the approval page.
	Description string `json:"description,omitempty"`
}

// ImpersonationConfig is a consumer's impersonation policy.
type ImpersonationConfig struct {
	// These users are never impersonated (compared after mapping).
	Deny []string `json:"deny,omitempty"`
	// If given, only these users are (compared after mapping).
	Allow []string `json:"allow,omitempty"`
	// How a requested name is mapped, in order: "strip_domain" (drop
	// "@..."), "lowercase".
	Map []string `json:"map,omitempty"`
	// If set, the (mapped) user must exist, and not be disabled, in a
	// directory: login ldap's, or one of its own.
	LDAP *ImpersonationLDAPConfig `json:"ldap,omitempty"`
}

// ImpersonationLDAPConfig is the directory check of an impersonation
// policy.
type ImpersonationLDAPConfig struct {
	// The directory, with a bind account to search it as; nil: login
	// ldap's (whose bind_dn and bind_password it then needs).
	Directory *LDAPConfig `json:"directory,omitempty"`
	// How long an answer is kept (default 5m).
	Cache caddy.Duration `json:"cache,omitempty"`
	// An LDAP filter that marks an entry as disabled, besides the
	// attributes always read (pwdAccountLockedTime, nsAccountLock,
	// userAccountControl).
	DisabledFilter string `json:"disabled_filter,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.applink",
		New: func() caddy.Module { return new(Handler) },
	}
}

const (
	defaultIdentityHeader = "X-Forwarded-User"
	defaultMaxFormBody    = 1 << 20
	maxTimestampWindow    = time.Hour
)

// A restart may lengthen the window up to maxTimestampWindow: the nonce
// journal keeps what it restores as long as that window's hold.
// (oauth1.NonceHold is the window and a second.)
var _ [store.JournalGrace - maxTimestampWindow - time.Second]struct{}

// Provision sets up the handler.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if err := initMetrics(ctx.GetMetricsRegistry()); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	repl := caddy.NewReplacer()

	base, err := oauth1.ParseBaseURL(repl.ReplaceKnown(h.BaseURL, ""))
	if h.BaseURL == "" {
		return errors.New("base_url is required")
	}
	if err != nil {
		return fmt.Errorf("base_url: %w", err)
	}
	h.realm = base.String()
	h.contextPath = base.ContextPath()
	baseURL, _ := url.Parse(base.String())

	if h.IdentityHeader == "" {
		h.IdentityHeader = defaultIdentityHeader
	}
	if !hygiene.ValidHeaderName(h.IdentityHeader) {
		return fmt.Errorf("identity_header %q is not a valid header name", h.IdentityHeader)
	}
	h.identity = textproto.CanonicalMIMEHeaderKey(h.IdentityHeader)
	h.identityKey = hygiene.NormalizeHeaderName(h.identity)

	if err := oneOf("legacy_auth", cmp.Or(h.LegacyAuth, "block"), "block", "strip"); err != nil {
		return err
	}
	h.stripLegacy = h.LegacyAuth == "strip"
	if err := oneOf("anonymous", cmp.Or(h.Anonymous, "pass"), "pass", "reject"); err != nil {
		return err
	}
	h.rejectAnon = h.Anonymous == "reject"
	window := time.Duration(h.TimestampWindow)
	if window == 0 {
		window = oauth1.DefaultWindow
	}
	if window < time.Second || window > maxTimestampWindow {
		return fmt.Errorf("timestamp_window must be between 1s and %s", maxTimestampWindow)
	}
	if h.MaxFormBody == 0 {
		h.MaxFormBody = defaultMaxFormBody
	}
	if h.MaxFormBody < 0 {
		return errors.New("max_form_body must be positive")
	}

	h.consumers = make(map[string]*oauth1.Consumer, len(h.Consumers))
	for _, cc := range h.Consumers {
		c, err := cc.build(repl)
		if err != nil {
			return fmt.Errorf("consumer %q: %w", cc.Key, err)
		}
		if _, dup := h.consumers[c.Key]; dup {
			return fmt.Errorf("consumer %q is configured twice", c.Key)
		}
		if c.TwoLeggedUser == "" && !c.Impersonation && !c.ThreeLegged {
			h.logger.Warn("consumer allows neither two_legged, impersonation nor three_legged; its requests will all be refused",
				zap.String("consumer", c.Key))
		}
		h.consumers[c.Key] = c
	}
	h.series = make(map[*oauth1.Consumer]*verifiedSeries, len(h.consumers))
	for _, c := range h.consumers {
		h.series[c] = newVerifiedSeries(c)
	}

	st, err := openState(ctx, h.State, repl)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	h.stateKey = st.key
	var sealer *provider.Sealer
	if h.State != nil && h.State.EncryptionKey != "" {
		if sealer, err = provider.NewSealer(repl.ReplaceKnown(h.State.EncryptionKey, "")); err != nil {
			return fmt.Errorf("state encryption_key: %w", err)
		}
	}
	for _, c := range h.consumers {
		if c.Secret != "" && c.ThreeLegged && sealer == nil {
			h.logger.Warn("HMAC-SHA1 consumer gets no 3-legged OAuth without a state encryption_key",
				zap.String("consumer", c.Key))
		}
	}
	h.provider = &provider.Provider{
		Tokens:     st.store,
		Sealer:     sealer,
		RequestTTL: time.Duration(h.RequestTokenTTL),
		AccessTTL:  time.Duration(h.AccessTokenTTL),
		SessionTTL: time.Duration(h.SessionTTL),
		OnStoreError: func(err error) {
			h.logger.Error("token store failed", zap.Error(err))
		},
	}
	if h.login, h.csrf, err = h.buildLogin(repl, baseURL); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	for _, cc := range h.Consumers {
		if pc := cc.ImpersonationPolicy; pc != nil && pc.LDAP != nil {
			c := h.consumers[repl.ReplaceKnown(cc.Key, "")]
			if c.Policy.Directory, err = h.buildDirectory(repl, pc.LDAP); err != nil {
				return fmt.Errorf("consumer %q: impersonation ldap: %w", cc.Key, err)
			}
		}
	}
	var tokens oauth1.TokenResolver = h.provider
	if h.ForwardOAuth {
		if h.Login != nil {
			return errors.New("login has no effect with forward_oauth: the product serves 3LO's approval page itself")
		}
		for _, c := range h.consumers {
			if p := c.Policy; p != nil && (p.StripDomain || p.Lowercase) {
				return fmt.Errorf("consumer %q: impersonation map has no effect with forward_oauth: the product reads xoauth_requestor_id as sent", c.Key)
			}
		}
		tokens = passthroughTokens{}
	}

	// A fleet shares its nonces where it shares its tokens; one instance
	// keeps them in memory and, with a state file, journals them beside it,
	// so that a restart neither forgets them nor refuses what was stamped
	// before it.
	var nonces oauth1.NonceStore
	if st.fleetNonces != nil {
		nonces = st.fleetNonces
	} else {
		mem, err := acquireMemoryNonces()
		if err != nil {
			return err
		}
		h.nonceKey = memoryNonceKey
		// A reload that lengthens the window must not accept the stamps
		// whose nonces were kept for the old one only (see Memory.Keep).
		h.releaseHold = mem.Keep(oauth1.NonceHold(window))
		nonces = mem
		if st.journal != nil {
			nonces = store.JournaledNonces{Memory: mem, Journal: st.journal}
		}
	}
	h.verifier = &oauth1.Verifier{
		BaseURL:   base,
		Consumers: func(key string) *oauth1.Consumer { return h.consumers[key] },
		Nonces:    nonces,
		// A Seen round trip across the network costs more than it saves.
		RecordOnly: st.fleetNonces != nil,
		Window:     window,
		Tokens:     tokens,

		ExposeBaseString: h.DebugBaseString,
	}
	return nil
}

// productName names the product on pages: the host of base_url.
func (h *Handler) productName() string {
	if u, err := url.Parse(h.realm); err == nil && u.Host != "" {
		return u.Host
	}
	return h.realm
}

func (cc *ConsumerConfig) build(repl *caddy.Replacer) (*oauth1.Consumer, error) {
	c := &oauth1.Consumer{
		Key:           repl.ReplaceKnown(cc.Key, ""),
		Name:          cc.Name,
		Secret:        repl.ReplaceKnown(cc.Secret, ""),
		TwoLeggedUser: repl.ReplaceKnown(cc.TwoLegged, ""),
		Impersonation: cc.Impersonation,
		ThreeLegged:   cc.ThreeLegged == nil || *cc.ThreeLegged,
		Description:   cc.Description,
	}
	if c.Key == "" {
		return nil, errors.New("the consumer key is empty")
	}
	if pc := cc.ImpersonationPolicy; pc != nil {
		p := &oauth1.ImpersonationPolicy{Deny: pc.Deny, Allow: pc.Allow}
		for _, m := range pc.Map {
			switch m {
			case "strip_domain":
				p.StripDomain = true
			case "lowercase":
				p.Lowercase = true
			default:
				return nil, fmt.Errorf("impersonation map %q: want strip_domain or lowercase", m)
			}
		}
		c.Impersonation, c.Policy = true, p
	}
	if strings.ContainsAny(c.TwoLeggedUser, "\r\n\x00") {
		return nil, errors.New("two_legged user contains control characters")
	}
	if c.TwoLeggedUser != "" && !oauth1.ValidUserName(c.TwoLeggedUser) {
		// A space at either end would be dropped by the product's HTTP
		// parser: it would run the request as another user than the logs say.
		return nil, fmt.Errorf("two_legged user %q is not a valid user name (UTF-8, at most %d characters, no control characters, no space at either end)",
			c.TwoLeggedUser, oauth1.MaxUserNameLen)
	}
	var err error
	if c.PublicKey, err = loadPublicKey(repl, "public_key", cc.PublicKey, cc.PublicKeyFile); err != nil {
		return nil, err
	}
	if c.SecondPublicKey, err = loadPublicKey(repl, "second_public_key", cc.SecondPublicKey, cc.SecondPublicKeyFile); err != nil {
		return nil, err
	}
	switch {
	case c.SecondPublicKey != nil && c.PublicKey == nil:
		return nil, errors.New("second_public_key needs a first public key (public_key or public_key_file)")
	case c.SecondPublicKey != nil && c.SecondPublicKey.Equal(c.PublicKey):
		return nil, errors.New("its two public keys are the same key: give the key it rotates to as the second")
	}
	if c.PublicKey == nil && c.Secret == "" {
		if cc.Secret != "" {
			// {env.NAME} of a variable this process does not have: the
			// usual mistake when validating in another shell.
			return nil, fmt.Errorf("secret %s is empty: is its environment variable set in this process?", cc.Secret)
		}
		return nil, errors.New("needs public_key, public_key_file or secret")
	}
	return c, nil
}

// loadPublicKey reads the RSA public key given inline (option name) or in
// a file (name_file), if either; errors name the option and the file.
func loadPublicKey(repl *caddy.Replacer, name, inline, file string) (*rsa.PublicKey, error) {
	switch {
	case inline != "" && file != "":
		return nil, fmt.Errorf("set %s or %s_file, not both", name, name)
	case inline != "":
		k, err := rsakey.ParsePublic([]byte(repl.ReplaceKnown(inline, "")))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return k, nil
	case file != "":
		k, err := rsakey.LoadPublic(repl.ReplaceKnown(file, ""))
		if err != nil {
			return nil, fmt.Errorf("%s_file: %w", name, err)
		}
		return k, nil
	}
	return nil, nil
}

// Cleanup releases the shared stores.
func (h *Handler) Cleanup() error {
	var errs []error
	if h.releaseHold != nil {
		h.releaseHold()
	}
	if h.nonceKey != "" {
		_, err := noncePool.Delete(h.nonceKey)
		errs = append(errs, err)
	}
	if h.stateKey != "" {
		_, err := statePool.Delete(h.stateKey)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ServeHTTP strips spoofable credentials, verifies OAuth, and forwards the
// request with exactly one identity, or refuses it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	hygiene.RemoveNormalizedHeader(r.Header, h.identityKey)
	// Header names in canonical form are used as map keys directly:
	// Header.Del and Set would canonicalise them again.
	delete(r.Header, "Proxy-Authorization")
	// Request trailers would arrive after the checks below: a trailer named
	// X-Forwarded-User or X-Seraph-Trusted-App-* must never reach the
	// product. (Filtering is not enough: net/http fills the map at EOF.)
	r.Trailer = nil
	if legacy := hygiene.LegacyCredential(r.Header); legacy != "" {
		if !h.stripLegacy {
			return h.refuse(w, r, &oauth1.Problem{Code: oauth1.PermissionDenied, Status: http.StatusUnauthorized,
				Advice: legacy + " is not accepted here; use an OAuth application link",
				Reason: "legacy credentials: " + legacy})
		}
		hygiene.StripLegacyCredentials(r.Header)
	}
	rawPath, rawQuery := originalTarget(r)
	escapedPath := r.URL.EscapedPath()
	if hygiene.IsBlockedPath(escapedPath) || rawPath != escapedPath && hygiene.IsBlockedPath(rawPath) {
		h.logger.Info("blocked path", zap.String("path", r.URL.Path), zap.String("reason", "CVE-2017-9506"))
		http.Error(w, "Forbidden", http.StatusForbidden)
		return nil
	}

	if h.login != nil {
		h.stripLoginHeader(r)
	}

	cs, p := requestCharset(r, rawQuery)
	if p != nil {
		return h.refuse(w, r, p)
	}
	form, p := h.readForm(r, cs)
	if p != nil {
		return h.refuse(w, r, p)
	}
	// The provider's endpoints read the form as Tomcat would, if at all.
	// With forward_oauth they are the product's.
	if !h.ForwardOAuth {
		if handled, err := h.serveProvider(w, r, tomcatForm(r, form)); handled {
			return err
		}
	}
	started := time.Now()
	method := originalMethod(r)
	req := &oauth1.Request{
		Method:        method,
		RawPath:       rawPath,
		RawQuery:      rawQuery,
		Authorization: r.Header["Authorization"],
		Form:          signedForm(method, tomcatForm(r, form)),
		Charset:       cs,
	}
	if h.passthroughPage(r) {
		// The product's approval page: a browser's, with the request token
		// in its query, and no OAuth to verify.
		observe("none", "anonymous", "ok", time.Time{})
		return h.forward(w, r, next, form, hygiene.IsSeraphParam)
	}
	if at, ok := h.passthroughEndpoint(r); ok {
		// The product's own request-token or access-token endpoint: signed
		// as one, and run as no user here.
		signed, p := h.verifier.VerifyEndpoint(r.Context(), req, at)
		if p != nil {
			return h.refuseTimed(w, r, p, started)
		}
		observe(signed.Consumer.Key, "endpoint", "ok", started)
		h.observeKey(signed.Consumer, signed.PublicKey)
		return h.forwardVerified(w, r, next, form, nil, signed.Consumer)
	}
	res, p := h.verifier.Verify(r.Context(), req)
	if p != nil {
		return h.refuseTimed(w, r, p, started)
	}
	if res.Mode == oauth1.ModeAnonymous && h.rejectAnon {
		return h.refuse(w, r, &oauth1.Problem{Code: oauth1.ParameterAbsent, Status: http.StatusUnauthorized,
			Params: []oauth1.Param{{Key: "oauth_parameters_absent",
				Value: "oauth_consumer_key&oauth_signature_method&oauth_signature&oauth_timestamp&oauth_nonce"}},
			Advice: "this service accepts only OAuth-signed requests",
			Reason: "anonymous request"})
	}

	if res.Mode != oauth1.ModeAnonymous && rawPath != r.URL.EscapedPath() && !rewritten(r) {
		// Go would forward a re-encoded path (a raw "\" or raw UTF-8 becomes
		// %5C or %C3%A9): not the path that was signed.
		return h.refuse(w, r, &oauth1.Problem{Code: oauth1.ParameterRejected, Consumer: res.Consumer.Key,
			Advice: "percent-encode the request path (RFC 3986): it cannot be forwarded exactly as signed",
			Reason: "request path not in canonical percent-encoding"})
	}
	if res.Mode != oauth1.ModeAnonymous && strings.ContainsAny(rawPath, "[]") {
		// Go and Tomcat (Jira's relaxedPathChars) take a raw "[" or "]",
		// but net.oauth builds its base string URI with java.net.URI,
		// which throws on them: the product would not verify this request.
		return h.refuse(w, r, &oauth1.Problem{Code: oauth1.ParameterRejected, Consumer: res.Consumer.Key,
			Advice: `percent-encode "[" and "]" in the request path (%5B, %5D): the product's OAuth library cannot read them raw`,
			Reason: `raw "[" or "]" in the request path`})
	}
	if res.Mode == oauth1.ModeAnonymous {
		observe("none", "anonymous", "ok", time.Time{})
		return h.forward(w, r, next, form, hygiene.DropFromAnyRequest)
	}
	if s := h.series[res.Consumer]; s != nil {
		s.observeVerified(res.Mode, started, res.Skew)
		h.observeKeyIn(s, res.Consumer, res.PublicKey)
	} else {
		observe(res.Consumer.Key, string(res.Mode), "ok", started)
		observeSkew(res.Consumer.Key, res.Skew)
	}
	return h.forwardVerified(w, r, next, form, res, res.Consumer)
}

// observeKey counts which of c's public keys verified a request. While c
// has two, the first use of each is logged: the log of a rotation shows
// when the consumer moved to its new key.
func (h *Handler) observeKey(c *oauth1.Consumer, publicKey int) {
	if s := h.series[c]; s != nil {
		h.observeKeyIn(s, c, publicKey)
	}
}

// observeKeyIn is observeKey with c's series s.
func (h *Handler) observeKeyIn(s *verifiedSeries, c *oauth1.Consumer, publicKey int) {
	if !s.observeKey(publicKey) || c.SecondPublicKey == nil {
		return
	}
	h.logger.Info("public key in use",
		zap.String("consumer", c.Key),
		zap.String("public_key", s.fingerprint(publicKey)),
		zap.Int("key_number", publicKey),
		zap.String("note", "the first request this key verified since the config was loaded"))
}

// forwardVerified hands a verified request upstream with its one user (none
// for a token endpoint, or for 3LO with forward_oauth: the product knows
// it), either spent (its OAuth removed) or, with forward_oauth, with its
// OAuth intact for the product to verify again.
func (h *Handler) forwardVerified(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, form string, res *oauth1.Result, c *oauth1.Consumer) error {
	drop := hygiene.DropFromVerifiedRequest
	if h.ForwardOAuth {
		// Only what the product would read as a login: the rest was
		// signed, and the product checks the signature again.
		drop = hygiene.IsSeraphParam
	} else {
		// The OAuth header is spent.
		delete(r.Header, "Authorization")
	}
	// No other credential may ride along with the verified identity.
	delete(r.Header, "Cookie")
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	repl.Set("applink.consumer", c.Key)
	caddyhttp.SetVar(r.Context(), verifiedVar, c)
	if res != nil {
		if res.User != "" {
			r.Header[h.identity] = []string{res.User}
			repl.Set("http.auth.user.id", res.User)
		}
		repl.Set("applink.mode", string(res.Mode))
		// Check first: the fields (and a redacted user's hash) are built
		// only when debug logging is on.
		if ce := h.logger.Check(zapcore.DebugLevel, "verified"); ce != nil {
			fields := []zap.Field{zap.String("consumer", c.Key),
				zap.String("mode", string(res.Mode)),
				zap.String("user", h.logUser(res.User))}
			if s := h.series[c]; s != nil && s.fingerprint(res.PublicKey) != "" {
				fields = append(fields, zap.String("public_key", s.fingerprint(res.PublicKey)))
			}
			ce.Write(fields...)
		}
	}
	return h.forward(w, r, next, form, drop)
}

// forward removes what drop selects from the query and the form body, and
// calls next.
func (h *Handler) forward(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, form string, drop func(string) bool) error {
	if q, changed := oauth1.RemoveParams(r.URL.RawQuery, drop); changed {
		r.URL.RawQuery = q
		r.RequestURI = r.URL.RequestURI()
	}
	if form != "" {
		body := form
		if stripped, changed := oauth1.RemoveParams(form, drop); changed {
			body = stripped
		}
		setBody(r, body)
	}
	return next.ServeHTTP(w, r)
}

func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, p *oauth1.Problem) error {
	return h.refuseTimed(w, r, p, time.Time{})
}

// logUser is the user as logs show it.
func (h *Handler) logUser(user string) string {
	if !h.RedactUsers || user == "" {
		return user
	}
	sum := sha256.Sum256([]byte(user))
	return "sha256:" + hex.EncodeToString(sum[:6])
}

// metricConsumer bounds the consumer label: configured keys only.
func (h *Handler) metricConsumer(key string) string {
	switch {
	case key == "":
		return "none"
	case h.consumers[key] != nil:
		return key
	}
	return "unknown"
}

func (h *Handler) refuseTimed(w http.ResponseWriter, r *http.Request, p *oauth1.Problem, started time.Time) error {
	outcome := p.Code
	if p.Unavailable {
		outcome = "unavailable"
		observeStoreError(cmp.Or(p.Store, "state"))
	}
	label := h.metricConsumer(p.Consumer)
	observe(label, "refused", outcome, started)
	if p.Stamped {
		observeSkew(label, p.Skew)
	}
	if p.Rule != "" {
		observeImpersonationRefused(label, p.Rule)
	}
	fields := []zap.Field{
		zap.String("consumer", p.Consumer),
		zap.String("problem", p.Code),
		zap.Int("status", p.HTTPStatus()),
		zap.String("reason", p.Reason),
		zap.String("method", r.Method),
		zap.String("path", r.URL.Path),
		zap.String("remote_ip", remoteIP(r)),
	}
	if p.Rule != "" {
		fields = append(fields, zap.String("rule", p.Rule))
	}
	h.logger.Info("request refused", fields...)
	w.Header().Set(consumer.VerifierHeader, "caddy-applink")
	p.Write(w, h.realm)
	return nil
}

// requestCharset is the charset the product's Tomcat decodes r's query and
// form body in (oauth1.RequestCharset: with useBodyEncodingForURI, the
// Content-Type's charset applies to the query too, on any request). Tomcat
// splits on the raw "=" and "&" bytes, then decodes names in that charset:
// in UTF-16, "os_username" or "xoauth_requestor_id" would reach the product
// while the stripper, reading bytes, saw other names. A query or a form
// body in a charset that is not ASCII-compatible, or under a Content-Type
// that names two, is refused; without either nothing is decoded in it.
// No Atlassian client sends such requests.
func requestCharset(r *http.Request, rawQuery string) (oauth1.Charset, *oauth1.Problem) {
	cts := r.Header.Values("Content-Type")
	cs, name, err := oauth1.RequestCharset(cts)
	if err == nil && cs.ASCIICompatible() {
		return cs, nil
	}
	form := r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 && isFormContentType(cts)
	if rawQuery == "" && r.URL.RawQuery == "" && !form {
		return cs, nil
	}
	what := "query string"
	if form {
		what = "form body"
	}
	reason := what + " in charset " + strconv.Quote(name)
	if err != nil {
		reason = what + ": " + err.Error()
	}
	return cs, &oauth1.Problem{Code: oauth1.ParameterRejected, Status: http.StatusUnsupportedMediaType,
		Advice: "query strings and form bodies must be UTF-8 (or another ASCII-compatible charset), " +
			"and the Content-Type may name one charset only",
		Reason: reason}
}

// readForm reads an application/x-www-form-urlencoded body (bounded), so its
// OAuth parameters can be checked, and puts it back for the upstream. cs
// is the request's charset, which requestCharset let through.
func (h *Handler) readForm(r *http.Request, cs oauth1.Charset) (string, *oauth1.Problem) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return "", nil
	}
	if !isFormContentType(r.Header.Values("Content-Type")) {
		return "", nil
	}
	if !cs.ASCIICompatible() {
		// requestCharset refuses these; never read a form blind.
		return "", &oauth1.Problem{Code: oauth1.ParameterRejected, Status: http.StatusUnsupportedMediaType,
			Advice: "form bodies must be UTF-8 (or another ASCII-compatible charset)",
			Reason: "form body in " + cs.String()}
	}
	tooLarge := &oauth1.Problem{Code: oauth1.ParameterRejected, Status: http.StatusRequestEntityTooLarge,
		Advice: "form body larger than " + strconv.FormatInt(h.MaxFormBody, 10) + " bytes",
		Reason: "form body over the limit"}
	if r.ContentLength > h.MaxFormBody {
		return "", tooLarge
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, h.MaxFormBody+1))
	if err != nil {
		return "", &oauth1.Problem{Code: oauth1.ParameterRejected, Advice: "could not read the form body",
			Reason: "reading form body: " + err.Error()}
	}
	if int64(len(data)) > h.MaxFormBody {
		return "", tooLarge
	}
	_ = r.Body.Close()
	setBody(r, string(data))
	return string(data), nil
}

// signedForm returns the form body whose parameters are part of the
// signature: POST only, as Tomcat's getParameterMap (and so Atlassian, and
// our own signer) reads it. A PUT form body is not signed; its identity
// parameters are still stripped on the way upstream. form must be what
// tomcatForm returned.
func signedForm(method, form string) string {
	if method != http.MethodPost {
		return ""
	}
	return form
}

// tomcatForm is form if Tomcat would parse r's body into parameters at all:
// its media type is exactly application/x-www-form-urlencoded
// (oauth1.IsFormType; Tomcat compares case-sensitively). Another form body
// ("Application/X-WWW-Form-Urlencoded") is not signed, as net.oauth does
// not see it; its identity parameters are still stripped on the way
// upstream.
func tomcatForm(r *http.Request, form string) string {
	if !oauth1.IsFormType(r.Header.Values("Content-Type")) {
		return ""
	}
	return form
}

// isFormContentType reports whether a body is a URL-encoded form. Like
// Tomcat, it looks only at the part before ";", so that a malformed charset
// parameter cannot hide a form (and its OAuth or identity parameters) from
// the check; unlike Tomcat it ignores case, which only reads (and strips)
// more bodies: tomcatForm signs Tomcat's only.
func isFormContentType(values []string) bool {
	if len(values) == 0 {
		return false
	}
	mt, _, _ := strings.Cut(values[0], ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/x-www-form-urlencoded")
}

// rewritten reports whether an earlier handler (rewrite, uri) changed the
// path: then the forwarded path is the configured rewrite, not the client's.
func rewritten(r *http.Request) bool {
	or, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request)
	return ok && or.URL != nil && or.URL.Path != r.URL.Path
}

func setBody(r *http.Request, body string) {
	r.Body = io.NopCloser(strings.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	r.TransferEncoding = nil
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)

// remoteIP is the client's address without its port, as Caddy's access log
// has it.
func remoteIP(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

package caddymodule

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-applink/caddy-applink/internal/login"
)

// LoginConfig says how the approval page learns who the user is.
type LoginConfig struct {
	// "header", "upstream" or "ldap".
	Source string `json:"source"`

	// header: the header an SSO in front sets; honoured only from the
	// server's trusted_proxies, removed from every other request.
	Header string `json:"header,omitempty"`

	// upstream: the product's current-user resource (Jira
	// /rest/api/2/myself, Bamboo /rest/api/latest/currentUser), absolute or
	// a path on base_url; and where to send users who are not logged in
	// ({return} is replaced; default Jira's login.jsp?os_destination=).
	WhoAmI   string `json:"whoami,omitempty"`
	LoginURL string `json:"login_url,omitempty"`

	// ldap: a login form that binds to the directory as the user.
	LDAP *LDAPConfig `json:"ldap,omitempty"`

	// How long a login form session lasts (default 12h).
	SessionTTL caddy.Duration `json:"session_ttl,omitempty"`
}

// LDAPConfig configures `login ldap`.
type LDAPConfig struct {
	URL           string `json:"url"`
	UserDN        string `json:"user_dn,omitempty"`
	SearchBase    string `json:"search_base,omitempty"`
	SearchFilter  string `json:"search_filter,omitempty"`
	BindDN        string `json:"bind_dn,omitempty"`
	BindPassword  string `json:"bind_password,omitempty"`
	UserAttribute string `json:"user_attribute,omitempty"`
	StartTLS      bool   `json:"starttls,omitempty"`
}

const loginPrefix = "/plugins/servlet/applink/login"

// buildLogin constructs the login source. base is base_url (for relative
// paths), secure tells whether cookies must be Secure.
func (h *Handler) buildLogin(repl *caddy.Replacer, base *url.URL) (login.Source, *login.CSRF, error) {
	key := processKey()
	if h.SessionKey != "" {
		key = []byte(repl.ReplaceKnown(h.SessionKey, ""))
	}
	secure := base.Scheme == "https"
	csrf, err := login.NewCSRF(key, secure)
	if err != nil {
		return nil, nil, fmt.Errorf("session_key: %w", err)
	}
	cfg := h.Login
	if cfg == nil {
		return nil, csrf, nil
	}
	switch cfg.Source {
	case "header":
		if cfg.Header == "" {
			return nil, nil, errors.New("login header needs the header name")
		}
		src, err := login.NewHeader(cfg.Header, isTrustedProxy)
		return src, csrf, err
	case "upstream":
		who := repl.ReplaceKnown(cfg.WhoAmI, "")
		if who == "" {
			return nil, nil, errors.New("login upstream needs the current-user URL, e.g. /rest/api/2/myself")
		}
		if strings.HasPrefix(who, "/") {
			who = strings.TrimRight(base.String(), "/") + who
		}
		loginURL := repl.ReplaceKnown(cfg.LoginURL, "")
		if loginURL == "" {
			loginURL = strings.TrimRight(base.String(), "/") + "/login.jsp?os_destination={return}"
		}
		src, err := login.NewUpstream(login.UpstreamConfig{WhoAmIURL: who, LoginURL: loginURL, Timeout: 5 * time.Second})
		return src, csrf, err
	case "ldap":
		if cfg.LDAP == nil || cfg.LDAP.URL == "" {
			return nil, nil, errors.New("login ldap needs the directory URL")
		}
		sessions, err := sharedSessions(key, time.Duration(cfg.SessionTTL), secure)
		if err != nil {
			return nil, nil, fmt.Errorf("session_key: %w", err)
		}
		settings := ldapSettings(repl, cfg.LDAP)
		settings.Sessions, settings.CSRF = sessions, csrf
		settings.Prefix, settings.Title = h.contextPath+loginPrefix, h.productName()
		src, err := login.NewLDAP(settings)
		if err != nil {
			return nil, nil, err
		}
		if src.Plaintext() {
			h.logger.Warn("login ldap sends passwords in clear text: use ldaps:// or starttls")
		}
		return src, csrf, nil
	}
	return nil, nil, fmt.Errorf("login must be header, upstream or ldap, not %q", cfg.Source)
}

// buildDirectory is the directory an impersonation policy asks: login
// ldap's connection, or its own.
func (h *Handler) buildDirectory(repl *caddy.Replacer, cfg *ImpersonationLDAPConfig) (*login.Directory, error) {
	dc := login.DirectoryConfig{TTL: time.Duration(cfg.Cache), DisabledFilter: repl.ReplaceKnown(cfg.DisabledFilter, "")}
	if cfg.Cache < 0 {
		return nil, errors.New("cache must be positive")
	}
	if cfg.Directory == nil {
		src, ok := h.login.(*login.LDAP)
		if !ok {
			return nil, errors.New("it asks login ldap's directory, and this handler has no login ldap: configure one, or give ldap a directory URL of its own")
		}
		return login.NewDirectory(src, dc)
	}
	d, err := login.NewLDAPDirectory(ldapSettings(repl, cfg.Directory), dc)
	if err == nil && d.Plaintext() {
		h.logger.Warn("impersonation ldap sends its bind password in clear text: use ldaps:// or starttls")
	}
	return d, err
}

// ldapSettings are the connection settings of cfg, placeholders resolved.
func ldapSettings(repl *caddy.Replacer, l *LDAPConfig) login.LDAPConfig {
	return login.LDAPConfig{
		URL:            repl.ReplaceKnown(l.URL, ""),
		UserDNTemplate: repl.ReplaceKnown(l.UserDN, ""),
		SearchBase:     repl.ReplaceKnown(l.SearchBase, ""),
		SearchFilter:   repl.ReplaceKnown(l.SearchFilter, ""),
		BindDN:         repl.ReplaceKnown(l.BindDN, ""),
		BindPassword:   repl.ReplaceKnown(l.BindPassword, ""),
		UserAttribute:  l.UserAttribute,
		StartTLS:       l.StartTLS,
	}
}

// isTrustedProxy reports whether the request came from one of the server's
// trusted_proxies (Caddy decides; the handler never parses X-Forwarded-For).
func isTrustedProxy(r *http.Request) bool {
	trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool)
	return trusted
}

// sessionsByConfig keeps login sessions across config reloads: the set of
// ended sessions lives in the Sessions value, so a new one per reload would
// bring logged-out cookies back to life.
var sessionsByConfig sync.Map // sessionsKey -> *login.Sessions

type sessionsKey struct {
	key    [32]byte
	ttl    time.Duration
	secure bool
}

func sharedSessions(key []byte, ttl time.Duration, secure bool) (*login.Sessions, error) {
	k := sessionsKey{key: sha256.Sum256(key), ttl: ttl, secure: secure}
	if s, ok := sessionsByConfig.Load(k); ok {
		return s.(*login.Sessions), nil
	}
	s, err := login.NewSessions(key, ttl, secure)
	if err != nil {
		return nil, err
	}
	actual, _ := sessionsByConfig.LoadOrStore(k, s)
	return actual.(*login.Sessions), nil
}

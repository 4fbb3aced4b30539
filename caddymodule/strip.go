package caddymodule

import (
	"net/http"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
)

// normalizeHeaderName maps a header name to the form proxies and servlet
// containers may treat as equal: lower case, "_" as "-". Go keeps
// X_Forwarded_User apart from X-Forwarded-User; a Java upstream may not.
func normalizeHeaderName(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), "_", "-")
}

// NormalizeHeaderName is normalizeHeaderName for the other applink modules:
// every module compares credential headers the same way.
var NormalizeHeaderName = normalizeHeaderName

// IsTrustedAppHeader reports whether a header belongs to Trusted
// Applications (X-Seraph-Trusted-App-*), in any spelling.
func IsTrustedAppHeader(name string) bool {
	if !isASCII(name) {
		return strings.HasPrefix(normalizeHeaderName(name), trustedAppPrefix)
	}
	return len(name) >= len(trustedAppPrefix) && normalizedNameIs(name[:len(trustedAppPrefix)], trustedAppPrefix)
}

// normalizedNameIs reports whether normalizeHeaderName(name) == want, for a
// want already normalised, without building the normalised name: it runs
// for every header of every request. Names with non-ASCII bytes take the
// slow path, where lower-casing may change their length ("K", the Kelvin
// sign, becomes "k").
func normalizedNameIs(name, want string) bool {
	if !isASCII(name) {
		return normalizeHeaderName(name) == want
	}
	if len(name) != len(want) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case c == '_':
			c = '-'
		}
		if c != want[i] {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// removeHeader deletes every header whose normalised name equals name's.
func removeHeader(h http.Header, name string) {
	removeNormalizedHeader(h, normalizeHeaderName(name))
}

// removeNormalizedHeader is removeHeader for a name already normalised.
func removeNormalizedHeader(h http.Header, want string) {
	for k := range h {
		if normalizedNameIs(k, want) {
			delete(h, k)
		}
	}
}

const trustedAppPrefix = "x-seraph-trusted-app-"

// legacyCredentials names the first legacy credential found, or "".
// Trusted Applications headers are named before Basic authentication.
func (h *Handler) legacyCredentials(hdr http.Header) string {
	basic := false
	for k, vals := range hdr {
		if IsTrustedAppHeader(k) {
			return "Trusted Applications authentication"
		}
		if basic || !normalizedNameIs(k, "authorization") {
			continue
		}
		for _, v := range vals {
			if isBasic(v) {
				basic = true
				break
			}
		}
	}
	if basic {
		return "Basic authentication"
	}
	return ""
}

func (h *Handler) stripLegacyCredentials(hdr http.Header) {
	for k, vals := range hdr {
		n := normalizeHeaderName(k)
		switch {
		case strings.HasPrefix(n, trustedAppPrefix):
			delete(hdr, k)
		case n == "authorization":
			kept := vals[:0]
			for _, v := range vals {
				if !isBasic(v) {
					kept = append(kept, v)
				}
			}
			if len(kept) == 0 {
				delete(hdr, k)
			} else {
				hdr[k] = kept
			}
		}
	}
}

func isBasic(v string) bool {
	v = strings.TrimLeft(v, " \t")
	return len(v) >= 5 && strings.EqualFold(v[:5], "basic") && (len(v) == 5 || v[5] == ' ' || v[5] == '\t')
}

// blockedServlet is the SSRF endpoint of CVE-2017-9506.
const (
	blockedServlet     = "/plugins/servlet/oauth/users/icon-uri"
	blockedServletName = "icon-uri" // its last segment
)

// isBlockedPath reports whether a raw path reaches the blocked servlet once
// a servlet container has decoded it: percent-decoding (repeated, against
// double encoding), ";param" path parameters, "//" and dot segments, any case.
func isBlockedPath(raw string) bool {
	p := decodedLowerPath(raw)
	// servletPath never makes the servlet's name where it was not: a
	// backslash becomes "/", segments lose their ";param", path.Clean drops
	// whole segments, and the name holds none of "/", "\\" and ";". A path
	// without it (nearly every path) is not blocked, and costs nothing more.
	if !strings.Contains(p, blockedServletName) {
		return false
	}
	return strings.Contains(servletPath(p)+"/", blockedServlet+"/")
}

// decodedLowerPath percent-decodes a raw path up to three times (against
// double encoding), then folds its case; folding after decoding catches an
// escaped capital ("%49con-uri").
func decodedLowerPath(raw string) string {
	p := raw
	for i := 0; i < 3 && strings.Contains(p, "%"); i++ {
		d, err := oauth1.PercentDecode(p, false)
		if err != nil {
			break
		}
		p = d
	}
	return strings.ToLower(p)
}

// servletPath is the path a servlet container matches a decoded path as:
// a backslash as "/", without ";param" path parameters, "//" or dot
// segments.
func servletPath(p string) string {
	segs := strings.Split(strings.ReplaceAll(p, "\\", "/"), "/")
	for i, s := range segs {
		if j := strings.IndexByte(s, ';'); j >= 0 {
			segs[i] = s[:j]
		}
	}
	return path.Clean("/" + strings.Join(segs, "/"))
}

// originalTarget returns the raw path and query the client sent, before any
// Caddy rewrite: the signature covers what the client signed.
func originalTarget(r *http.Request) (rawPath, rawQuery string) {
	uri := r.RequestURI
	if or, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && or.RequestURI != "" {
		uri = or.RequestURI
	}
	if uri == "" {
		return r.URL.EscapedPath(), r.URL.RawQuery
	}
	if !strings.HasPrefix(uri, "/") {
		// absolute-form (a request to a proxy): drop scheme://authority.
		if i := strings.Index(uri, "://"); i >= 0 {
			rest := uri[i+3:]
			if j := strings.IndexAny(rest, "/?"); j >= 0 {
				uri = rest[j:]
			} else {
				uri = "/"
			}
		}
	}
	rawPath, rawQuery, _ = strings.Cut(uri, "?")
	return rawPath, rawQuery
}

func originalMethod(r *http.Request) string {
	if or, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && or.Method != "" {
		return or.Method
	}
	return r.Method
}

// IsSeraphParam reports whether a parameter makes Seraph (the login layer
// of Jira, Confluence and Bamboo) log a user in or out: os_username,
// os_password, os_authType, and os_cookie (remember-me), in any case.
// The handler removes them from every request, the transport from every
// signed one.
func IsSeraphParam(key string) bool {
	switch strings.ToLower(key) {
	case "os_username", "os_password", "os_authtype", "os_cookie":
		return true
	}
	return false
}

// stripAnonymousParam selects the parameters removed from every request:
// Seraph's own login parameters, the impersonation selectors, and OAuth
// parameters where they are not signed (a PUT form body, any case variant).
func stripAnonymousParam(key string) bool {
	if IsSeraphParam(key) {
		return true
	}
	k := strings.ToLower(key)
	return k == "xoauth_requestor_id" || k == "user_id" || strings.HasPrefix(k, "oauth_")
}

// stripAuthenticatedParam removes the same from verified requests: the
// spent OAuth parameters, which the product would otherwise try to verify
// again.
func stripAuthenticatedParam(key string) bool { return stripAnonymousParam(key) }

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

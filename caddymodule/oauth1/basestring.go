package oauth1

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// BaseURL is the public URL clients sign against: Jira's "Base URL". The
// signed URL of a request is never built from client headers (Host,
// X-Forwarded-*), only from this and the raw request path.
type BaseURL struct {
	origin      string // normalised scheme://host[:port]
	contextPath string // "" or "/jira", no trailing slash
	raw         string
}

// ParseBaseURL checks and normalises a base URL: an absolute http(s) URL
// without query, fragment or user info. Scheme and host are lower-cased and a
// default port dropped, as net.oauth's normalizeUrl does.
func ParseBaseURL(s string) (BaseURL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return BaseURL{}, fmt.Errorf("base URL %q: %w", s, err)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return BaseURL{}, fmt.Errorf("base URL %q: scheme must be http or https", s)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return BaseURL{}, fmt.Errorf("base URL %q: want scheme://host[:port][/context-path] only", s)
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if scheme == "http" && port == "80" || scheme == "https" && port == "443" {
		port = ""
	}
	if strings.Contains(host, ":") { // IPv6 literal
		host = "[" + host + "]"
	}
	origin := scheme + "://" + host
	if port != "" {
		origin += ":" + port
	}
	ctx := strings.TrimRight(u.EscapedPath(), "/")
	return BaseURL{origin: origin, contextPath: ctx, raw: s}, nil
}

// String returns the base URL as configured.
func (b BaseURL) String() string { return b.raw }

// Origin returns the normalised scheme://host[:port].
func (b BaseURL) Origin() string { return b.origin }

// ContextPath returns the path part ("" or "/jira").
func (b BaseURL) ContextPath() string { return b.contextPath }

// IsZero reports whether b was never parsed.
func (b BaseURL) IsZero() bool { return b.origin == "" }

// SignedURL is the base string URI (RFC 5849 section 3.4.1.2) of a request
// whose raw, still percent-encoded path is rawPath. A request path that
// already starts with the context path is used as is (the proxy serves the
// product's own URL space); otherwise the context path is prepended (a front
// load balancer stripped it).
func (b BaseURL) SignedURL(rawPath string) string {
	if rawPath == "" {
		rawPath = "/"
	}
	if b.contextPath != "" && rawPath != b.contextPath && !strings.HasPrefix(rawPath, b.contextPath+"/") {
		return b.origin + b.contextPath + rawPath
	}
	return b.origin + rawPath
}

// BaseString builds the signature base string of RFC 5849 section 3.4.1:
// METHOD&enc(uri)&enc(normalised parameters). params must not contain
// oauth_signature or realm. Parameters are sorted by encoded name, then
// encoded value; every value of a repeated name is included.
func BaseString(method, uri string, params []Param) string {
	enc := make([]Param, len(params))
	size := 0
	for i, p := range params {
		enc[i] = Param{Key: PercentEncode(p.Key), Value: PercentEncode(p.Value)}
		size += len(enc[i].Key) + len(enc[i].Value) + 2
	}
	slices.SortFunc(enc, func(a, b Param) int {
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return strings.Compare(a.Value, b.Value)
	})
	var norm strings.Builder
	norm.Grow(size)
	for i, p := range enc {
		if i > 0 {
			norm.WriteByte('&')
		}
		norm.WriteString(p.Key)
		norm.WriteByte('=')
		norm.WriteString(p.Value)
	}
	var b strings.Builder
	b.Grow(len(method) + 3*len(uri) + 3*norm.Len() + 2)
	appendEncoded(&b, strings.ToUpper(method))
	b.WriteByte('&')
	appendEncoded(&b, uri)
	b.WriteByte('&')
	appendEncoded(&b, norm.String())
	return b.String()
}

package oauth1

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
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
	if u.ForceQuery || strings.HasSuffix(s, "#") {
		return BaseURL{}, fmt.Errorf("base URL %q: want scheme://host[:port][/context-path] only", s)
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return BaseURL{}, fmt.Errorf("base URL %q: empty host", s)
	}
	port := u.Port()
	if port != "" {
		// Compare numerically, as net.oauth (java.net.URI) and oauthlib do:
		// "http://h:080" is port 80 and must lose it like "http://h:80".
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return BaseURL{}, fmt.Errorf("base URL %q: invalid port %q", s, port)
		}
		port = strconv.Itoa(n)
	}
	if scheme == "http" && port == "80" || scheme == "https" && port == "443" {
		port = ""
	}
	if strings.Contains(host, ":") { // IPv6 literal
		// url.Parse decoded a zone's "%25" to "%"; the URI needs it encoded.
		host = "[" + strings.Replace(host, "%", "%25", 1) + "]"
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
	prefix, path := b.signedURL(rawPath)
	return prefix + path
}

// signedURL returns SignedURL in two parts, to be concatenated.
func (b BaseURL) signedURL(rawPath string) (prefix, path string) {
	if rawPath == "" {
		rawPath = "/"
	}
	if b.contextPath != "" && rawPath != b.contextPath &&
		!(strings.HasPrefix(rawPath, b.contextPath) && rawPath[len(b.contextPath)] == '/') {
		return b.origin + b.contextPath, rawPath
	}
	return b.origin, rawPath
}

// BaseString builds the signature base string of RFC 5849 section 3.4.1:
// METHOD&enc(uri)&enc(normalised parameters). params must not contain
// oauth_signature or realm. Parameters are sorted by encoded name, then
// encoded value; every value of a repeated name is included.
func BaseString(method, uri string, params []Param) string {
	return string(appendBaseString(nil, method, uri, "", params))
}

// appendBaseString appends the base string to dst. It never materialises
// the once-encoded parameters: it sorts indices with cmpEncoded and writes
// enc(enc(x)) straight from each raw x into dst, grown once. One allocation
// (dst) for up to 32 parameters.
//
// The base string URI is uri+uri2: encoding is a byte-by-byte map, so the
// halves are encoded one after the other and never joined.
func appendBaseString(dst []byte, method, uri, uri2 string, params []Param) []byte {
	method = strings.ToUpper(method)
	var small [32]int
	order := small[:0]
	if len(params) > len(small) {
		order = make([]int, 0, len(params))
	}
	raw := 0
	for i, p := range params {
		order = append(order, i)
		raw += len(p.Key) + len(p.Value)
	}
	total := len(method) + 2*escapes(method) + 1 + len(uri) + 2*escapes(uri) +
		len(uri2) + 2*escapes(uri2) + 1 + 6*len(params) // "%3D" and "%26"
	if raw <= exactSizeAbove {
		// enc(enc(x)) is at most 5 bytes per byte of x ("%25XX"); counting
		// costs more than the spare capacity.
		total += 5 * raw
	} else {
		// A large form body: size exactly, so memory stays near the input.
		total += raw
		for _, p := range params {
			total += 4 * (escapes(p.Key) + escapes(p.Value))
		}
	}
	cmpParams := func(i, j int) int {
		if c := cmpEncoded(params[i].Key, params[j].Key); c != 0 {
			return c
		}
		return cmpEncoded(params[i].Value, params[j].Value)
	}
	if len(order) <= len(small) {
		// Insertion sort: a request has a dozen parameters.
		for i := 1; i < len(order); i++ {
			for j := i; j > 0 && cmpParams(order[j], order[j-1]) < 0; j-- {
				order[j], order[j-1] = order[j-1], order[j]
			}
		}
	} else {
		slices.SortFunc(order, cmpParams)
	}
	dst = slices.Grow(dst, total)
	dst = appendPercentEncoded(dst, method)
	dst = append(dst, '&')
	dst = appendPercentEncoded(dst, uri)
	dst = appendPercentEncoded(dst, uri2)
	dst = append(dst, '&')
	for n, i := range order {
		if n > 0 {
			dst = append(dst, "%26"...)
		}
		dst = appendDoubleEncoded(dst, params[i].Key)
		dst = append(dst, "%3D"...)
		dst = appendDoubleEncoded(dst, params[i].Value)
	}
	return dst
}

// exactSizeAbove is the size of the parameters (in raw bytes) above which
// appendBaseString counts escapes to size its buffer exactly instead of
// reserving the worst case, five times the input.
const exactSizeAbove = 16 << 10

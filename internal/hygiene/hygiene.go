// Package hygiene holds the header and parameter rules that the applink
// handler and the applink transport share: which names carry credentials or
// identities a client could spoof, compared the way proxies and servlet
// containers compare them, and how to remove them.
package hygiene

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/signer"
)

// NormalizeHeaderName maps a header name to the form proxies and servlet
// containers may treat as equal: lower case, "_" as "-". Go keeps
// X_Forwarded_User apart from X-Forwarded-User; a Java upstream may not.
func NormalizeHeaderName(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), "_", "-")
}

// IsTrustedAppHeader reports whether a header belongs to Trusted
// Applications (X-Seraph-Trusted-App-*), in any spelling.
func IsTrustedAppHeader(name string) bool {
	if !isASCII(name) {
		return strings.HasPrefix(NormalizeHeaderName(name), TrustedAppPrefix)
	}
	return len(name) >= len(TrustedAppPrefix) && NameIs(name[:len(TrustedAppPrefix)], TrustedAppPrefix)
}

// NameIs reports whether NormalizeHeaderName(name) == want, for a
// want already normalised, without building the normalised name: it runs
// for every header of every request. Names with non-ASCII bytes take the
// slow path, where lower-casing may change their length ("K", the Kelvin
// sign, becomes "k").
func NameIs(name, want string) bool {
	if !isASCII(name) {
		return NormalizeHeaderName(name) == want
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

// RemoveHeader deletes every header whose normalised name equals name's.
func RemoveHeader(h http.Header, name string) {
	RemoveNormalizedHeader(h, NormalizeHeaderName(name))
}

// RemoveNormalizedHeader is RemoveHeader for a name already normalised.
func RemoveNormalizedHeader(h http.Header, want string) {
	for k := range h {
		if NameIs(k, want) {
			delete(h, k)
		}
	}
}

const TrustedAppPrefix = "x-seraph-trusted-app-"

// LegacyCredential names the first legacy credential found, or "".
// Trusted Applications headers are named before Basic authentication.
func LegacyCredential(hdr http.Header) string {
	basic := false
	for k, vals := range hdr {
		if IsTrustedAppHeader(k) {
			return "Trusted Applications authentication"
		}
		if basic || !NameIs(k, "authorization") {
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

func StripLegacyCredentials(hdr http.Header) {
	for k, vals := range hdr {
		n := NormalizeHeaderName(k)
		switch {
		case strings.HasPrefix(n, TrustedAppPrefix):
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

// IsBlockedPath reports whether a raw path reaches the blocked servlet once
// a servlet container has decoded it: percent-decoding (repeated, against
// double encoding), ";param" path parameters, "//" and dot segments, any case.
func IsBlockedPath(raw string) bool {
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

// DropFromAnyRequest selects the parameters removed from every request:
// Seraph's own login parameters, the impersonation selectors, and OAuth
// parameters where they are not signed (a PUT form body, any case variant).
func DropFromAnyRequest(key string) bool {
	if IsSeraphParam(key) {
		return true
	}
	k := strings.ToLower(key)
	return k == "xoauth_requestor_id" || k == "user_id" || strings.HasPrefix(k, "oauth_")
}

// DropFromVerifiedRequest removes the same from verified requests: the
// spent OAuth parameters, which the product would otherwise try to verify
// again.
func DropFromVerifiedRequest(key string) bool { return DropFromAnyRequest(key) }

// ValidHeaderName reports whether s is a header field name (an RFC 9110
// token).
func ValidHeaderName(s string) bool {
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

// StripCredentials removes every credential the local client sent, so that
// the signed identity is the only one the remote sees: Authorization,
// Proxy-Authorization, Cookie and the Trusted Applications headers, in any
// spelling.
func StripCredentials(h http.Header) {
	for name := range h {
		switch n := NormalizeHeaderName(name); {
		case n == "authorization", n == "proxy-authorization", n == "cookie",
			IsTrustedAppHeader(name):
			delete(h, name)
		}
	}
}

// StripSeraphParams removes Seraph login parameters from the query string
// and from a URL-encoded form body (read up to the signer's limit).
func StripSeraphParams(req *http.Request) error {
	if q, changed := oauth1.RemoveParams(req.URL.RawQuery, IsSeraphParam); changed {
		req.URL.RawQuery = q
	}
	if req.Body == nil || req.Body == http.NoBody {
		return nil
	}
	mt, _, _ := strings.Cut(req.Header.Get("Content-Type"), ";")
	if !strings.EqualFold(strings.TrimSpace(mt), "application/x-www-form-urlencoded") {
		return nil
	}
	raw, err := io.ReadAll(io.LimitReader(req.Body, signer.DefaultMaxFormBytes+1))
	_ = req.Body.Close()
	if err != nil {
		return fmt.Errorf("reading the form body: %w", err)
	}
	if len(raw) > signer.DefaultMaxFormBytes {
		return signer.ErrFormTooLarge
	}
	if s, changed := oauth1.RemoveParams(string(raw), IsSeraphParam); changed {
		raw = []byte(s)
	}
	req.ContentLength = int64(len(raw))
	req.TransferEncoding = nil
	if len(raw) == 0 {
		req.Body = http.NoBody
		req.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
		return nil
	}
	req.Body = io.NopCloser(bytes.NewReader(raw))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }
	return nil
}

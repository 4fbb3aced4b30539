package oauth1

import (
	"errors"
	"fmt"
	"strings"
)

// Param is one decoded name/value pair of an OAuth message.
type Param struct {
	Key, Value string
}

// Location says where a parameter was found. Atlassian honours OAuth
// parameters in all three; this package insists they all sit in one.
type Location uint8

const (
	InHeader Location = iota + 1
	InQuery
	InForm
)

func (l Location) String() string {
	switch l {
	case InHeader:
		return "Authorization header"
	case InQuery:
		return "query string"
	case InForm:
		return "form body"
	}
	return "nowhere"
}

// Errors of ParseAuthorizationHeader. They name what is wrong so the client
// gets a useful oauth_problem_advice.
var (
	ErrNotOAuth          = errors.New("not an OAuth Authorization header")
	ErrUnterminatedQuote = errors.New("unterminated quoted value")
	ErrMissingComma      = errors.New("parameters must be separated by commas")
	ErrMalformedParam    = errors.New(`parameter is not of the form name="value"`)
)

// IsOAuthScheme reports whether an Authorization header value uses the OAuth
// scheme (case-insensitive, RFC 7235).
func IsOAuthScheme(h string) bool {
	h = strings.TrimLeft(h, " \t")
	if len(h) < 5 || !strings.EqualFold(h[:5], "OAuth") {
		return false
	}
	return len(h) == 5 || h[5] == ' ' || h[5] == '\t'
}

// ParseAuthorizationHeader parses `OAuth realm="x", oauth_consumer_key="y", ...`
// as RFC 5849 section 3.5.1 defines it. Names and values are percent-decoded
// ("+" stays "+"); the realm is returned apart because it is not signed.
// Duplicated names are kept so that the caller can refuse them.
//
// It reads WWW-Authenticate challenges too, and is lenient where the
// verifier is not (see appendAuthorizationParams).
func ParseAuthorizationHeader(h string) (realm string, params []Param, err error) {
	rawRealm, params, err := parseAuthorization(nil, h, false)
	if err != nil {
		return "", nil, err
	}
	realm, _ = PercentDecode(rawRealm, false) // checked already
	if len(params) == 0 {
		return realm, nil, nil
	}
	return realm, params, nil
}

// Errors of the verifier's reading of the Authorization header, where
// net.oauth's would differ from RFC 5849's.
var (
	ErrRawPlusOrComma = errors.New(`"+" and "," must be percent-encoded (net.oauth reads "+" as a space and splits at every ",")`)
	ErrHeaderBytes    = errors.New("control characters and bytes above 0x7E must be percent-encoded")
)

// appendAuthorizationParams is the verifier's ParseAuthorizationHeader,
// appending to dst, except that the realm it returns is still
// percent-encoded (its encoding checked): the verifier ignores it, and
// need not decode it. On error it returns dst as it was.
//
// It refuses what net.oauth, the product's OAuth library, reads otherwise
// than RFC 5849 (so that the proxy never verifies a header the product
// would read differently): a raw "+" (a space to net.oauth's URLDecoder)
// or "," (where net.oauth's regular expressions split the header, inside
// quotes too) in a name or in a value other than the realm's, bytes that
// are not printable ASCII (Tomcat reads header bytes as ISO-8859-1, and
// net.oauth's pattern does not match across U+0085), and decoded names
// and values that are not UTF-8 (URLDecoder replaces such bytes).
func appendAuthorizationParams(dst []Param, h string) (rawRealm string, params []Param, err error) {
	return parseAuthorization(dst, h, true)
}

func parseAuthorization(dst []Param, h string, strict bool) (rawRealm string, params []Param, err error) {
	if !IsOAuthScheme(h) {
		return "", dst, ErrNotOAuth
	}
	if strict {
		for i := 0; i < len(h); i++ {
			if c := h[i]; c < ' ' && c != '\t' || c > '~' {
				return "", dst, ErrHeaderBytes
			}
		}
	}
	s := trimOWS(h)[5:]
	if dst == nil {
		// At most one parameter per "=": one allocation for the list.
		dst = make([]Param, 0, strings.Count(s, "="))
	}
	params = dst
	first := true
	for {
		s = trimOWS(s)
		if s == "" {
			return rawRealm, params, nil
		}
		if !first || s[0] == ',' {
			if s[0] != ',' {
				return "", dst, ErrMissingComma
			}
			s = trimOWS(s[1:])
			// RFC 7230 section 7 #rule: empty list elements, leading ones
			// included, are accepted and ignored.
			if s == "" || s[0] == ',' {
				continue
			}
		}
		first = false
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return "", dst, ErrMalformedParam
		}
		rawKey := s[:eq]
		for len(rawKey) > 0 && isOWS(rawKey[len(rawKey)-1]) {
			rawKey = rawKey[:len(rawKey)-1]
		}
		if rawKey == "" {
			return "", dst, ErrMalformedParam
		}
		for i := 0; i < len(rawKey); i++ {
			if c := rawKey[i]; isOWS(c) || c == ',' || c == '"' {
				return "", dst, ErrMalformedParam
			}
		}
		s = trimOWS(s[eq+1:])
		if s == "" || s[0] != '"' {
			return "", dst, ErrMalformedParam
		}
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return "", dst, ErrUnterminatedQuote
		}
		rawVal := s[1 : 1+end]
		s = s[end+2:]
		key, err := PercentDecode(rawKey, false)
		if err != nil {
			return "", dst, fmt.Errorf("parameter name %q: %w", truncate(rawKey), err)
		}
		// net.oauth leaves out "realm" in any case.
		if key == "realm" || strict && strings.EqualFold(key, "realm") {
			if !validPercentEncoding(rawVal) {
				return "", dst, fmt.Errorf("value of %q: %w", truncate(key), ErrBadEncoding)
			}
			rawRealm = rawVal
			continue
		}
		if strict && (strings.ContainsAny(rawKey, "+,") || strings.ContainsAny(rawVal, "+,")) {
			return "", dst, fmt.Errorf("parameter %q: %w", truncate(key), ErrRawPlusOrComma)
		}
		val, err := PercentDecode(rawVal, false)
		if err != nil {
			return "", dst, fmt.Errorf("value of %q: %w", truncate(key), err)
		}
		if strict {
			if err := CharsetUTF8.Servlet([]Param{{Key: key, Value: val}}); err != nil {
				return "", dst, err
			}
		}
		params = append(params, Param{Key: key, Value: val})
	}
}

func trimOWS(s string) string {
	for len(s) > 0 && isOWS(s[0]) {
		s = s[1:]
	}
	return s
}

// isOWS reports optional whitespace (RFC 7230): space or horizontal tab.
func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// ParseForm splits an application/x-www-form-urlencoded string (a query string
// or a form body) into decoded pairs, in order, keeping duplicates and empty
// values ("a" and "a=" both give a=""). "+" decodes to a space, as in a
// servlet container. Like Tomcat, it skips a pair without a name ("=x"):
// such a pair is neither handed to the product nor signed by net.oauth.
// The values are the decoded bytes; ParseFormIn reads them as Tomcat
// does in a charset.
func ParseForm(raw string) ([]Param, error) {
	params, err := appendForm(nil, raw)
	if err != nil || len(params) == 0 {
		return nil, err
	}
	return params, nil
}

// appendForm is ParseForm appending to dst. On error it returns dst as it
// was.
func appendForm(dst []Param, raw string) ([]Param, error) {
	if raw == "" {
		return dst, nil
	}
	if dst == nil {
		dst = make([]Param, 0, strings.Count(raw, "&")+1)
	}
	params := dst
	for raw != "" {
		var seg string
		seg, raw, _ = strings.Cut(raw, "&")
		if seg == "" {
			continue
		}
		k, v, _ := strings.Cut(seg, "=")
		if k == "" {
			continue // Tomcat: "parameters.invalidChunk", no name
		}
		key, err := PercentDecode(k, true)
		if err != nil {
			return dst, fmt.Errorf("parameter name %q: %w", truncate(k), err)
		}
		val, err := PercentDecode(v, true)
		if err != nil {
			return dst, fmt.Errorf("value of %q: %w", truncate(key), err)
		}
		params = append(params, Param{Key: key, Value: val})
	}
	return params, nil
}

// RemoveParams returns raw (a query string or form body) without the pairs
// whose decoded name matches drop. The other pairs are kept byte for byte, in
// order, so nothing the client signed is re-encoded on its way upstream.
func RemoveParams(raw string, drop func(key string) bool) (string, bool) {
	if raw == "" {
		return raw, false
	}
	var b strings.Builder
	changed := false
	rest := raw
	for rest != "" {
		var seg string
		seg, rest, _ = strings.Cut(rest, "&")
		k, _, _ := strings.Cut(seg, "=")
		// Lenient, so that a name with a malformed escape elsewhere in it is
		// still recognised ("oauth%5Fx%zz" is an oauth_ name to drop).
		key := lenientDecode(k)
		if seg != "" && drop(key) {
			changed = true
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(seg)
	}
	if !changed {
		return raw, false
	}
	return b.String(), true
}

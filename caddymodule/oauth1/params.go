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
func ParseAuthorizationHeader(h string) (realm string, params []Param, err error) {
	if !IsOAuthScheme(h) {
		return "", nil, ErrNotOAuth
	}
	s := strings.TrimLeft(h, " \t")[5:]
	first := true
	for {
		s = trimOWS(s)
		if s == "" {
			return realm, params, nil
		}
		if !first {
			if s[0] != ',' {
				return "", nil, ErrMissingComma
			}
			s = trimOWS(s[1:])
			// RFC 7230 #rule: empty list elements are allowed.
			if s == "" || s[0] == ',' {
				continue
			}
		}
		first = false
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return "", nil, ErrMalformedParam
		}
		rawKey := strings.TrimRight(s[:eq], " \t")
		if rawKey == "" || strings.ContainsAny(rawKey, " \t,\"") {
			return "", nil, ErrMalformedParam
		}
		s = trimOWS(s[eq+1:])
		if s == "" || s[0] != '"' {
			return "", nil, ErrMalformedParam
		}
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return "", nil, ErrUnterminatedQuote
		}
		rawVal := s[1 : 1+end]
		s = s[end+2:]
		key, err := PercentDecode(rawKey, false)
		if err != nil {
			return "", nil, fmt.Errorf("parameter name %q: %w", rawKey, err)
		}
		val, err := PercentDecode(rawVal, false)
		if err != nil {
			return "", nil, fmt.Errorf("value of %s: %w", key, err)
		}
		if key == "realm" {
			realm = val
			continue
		}
		params = append(params, Param{Key: key, Value: val})
	}
}

func trimOWS(s string) string { return strings.TrimLeft(s, " \t") }

// ParseForm splits an application/x-www-form-urlencoded string (a query string
// or a form body) into decoded pairs, in order, keeping duplicates and empty
// values ("a" and "a=" both give a=""). "+" decodes to a space, as in a
// servlet container.
func ParseForm(raw string) ([]Param, error) {
	var params []Param
	for raw != "" {
		var seg string
		seg, raw, _ = strings.Cut(raw, "&")
		if seg == "" {
			continue
		}
		k, v, _ := strings.Cut(seg, "=")
		key, err := PercentDecode(k, true)
		if err != nil {
			return nil, fmt.Errorf("parameter name %q: %w", k, err)
		}
		val, err := PercentDecode(v, true)
		if err != nil {
			return nil, fmt.Errorf("value of %s: %w", key, err)
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
		key, err := PercentDecode(k, true)
		if err != nil {
			key = k
		}
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

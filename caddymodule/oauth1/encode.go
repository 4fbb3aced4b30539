package oauth1

import (
	"errors"
	"strings"
)

// PercentEncode encodes s as RFC 5849 section 3.6 requires: every byte except
// the RFC 3986 unreserved characters becomes %XX with upper-case hex. Space is
// %20, never "+", and "~" stays as it is.
func PercentEncode(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !isUnreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	appendEncoded(&b, s)
	return b.String()
}

func appendEncoded(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0x0f])
	}
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// ErrBadEncoding reports a "%" that is not followed by two hex digits.
var ErrBadEncoding = errors.New("invalid percent-encoding")

// PercentDecode reverses percent-encoding. With plusIsSpace, "+" decodes to a
// space, as servlet containers (and so Atlassian) do for query strings and
// form bodies; Authorization header values keep "+" literally.
func PercentDecode(s string, plusIsSpace bool) (string, error) {
	needs := false
	for i := 0; i < len(s); i++ {
		if s[i] == '%' || plusIsSpace && s[i] == '+' {
			needs = true
			break
		}
	}
	if !needs {
		return s, nil
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '%':
			if i+2 >= len(s) {
				return "", ErrBadEncoding
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return "", ErrBadEncoding
			}
			out = append(out, hi<<4|lo)
			i += 2
		case c == '+' && plusIsSpace:
			out = append(out, ' ')
		default:
			out = append(out, c)
		}
	}
	return string(out), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

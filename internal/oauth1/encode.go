package oauth1

import (
	"cmp"
	"errors"
	"slices"
	"strings"
)

// PercentEncode encodes s as RFC 5849 section 3.6 requires: every byte except
// the RFC 3986 unreserved characters becomes %XX with upper-case hex. Space is
// %20, never "+", and "~" stays as it is.
func PercentEncode(s string) string {
	n := escapes(s)
	if n == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	appendEncoded(&b, s)
	return b.String()
}

const upperHex = "0123456789ABCDEF"

// unreserved is the RFC 3986 unreserved set: ALPHA / DIGIT / "-" / "." /
// "_" / "~".
var unreserved = func() (t [256]bool) {
	for c := range 256 {
		t[c] = 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~'
	}
	return t
}()

func isUnreserved(c byte) bool { return unreserved[c] }

// escapes counts the bytes of s that PercentEncode turns into %XX.
func escapes(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved[s[i]] {
			n++
		}
	}
	return n
}

// appendEncoded writes PercentEncode(s) to b, copying runs of unreserved
// bytes at once.
func appendEncoded(b *strings.Builder, s string) {
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && unreserved[s[j]] {
			j++
		}
		b.WriteString(s[i:j])
		if j == len(s) {
			return
		}
		c := s[j]
		b.Write([]byte{'%', upperHex[c>>4], upperHex[c&0x0f]})
		i = j + 1
	}
}

// appendPercentEncoded appends PercentEncode(s) to dst.
func appendPercentEncoded(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && unreserved[s[j]] {
			j++
		}
		dst = append(dst, s[i:j]...)
		if j == len(s) {
			break
		}
		c := s[j]
		dst = append(dst, '%', upperHex[c>>4], upperHex[c&0x0f])
		i = j + 1
	}
	return dst
}

// appendDoubleEncoded appends PercentEncode(PercentEncode(s)) to dst: an
// unreserved byte stays, any other becomes "%25XX".
func appendDoubleEncoded(dst []byte, s string) []byte {
	n := len(dst)
	need := 5 * len(s) // the worst case, checked cheaply
	if cap(dst)-n < need {
		need = len(s) + 4*escapes(s) // the exact size
		dst = slices.Grow(dst, need)
	}
	buf := dst[:n+need]
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved[c] {
			buf[n] = c
			n++
			continue
		}
		_ = buf[n+4]
		buf[n], buf[n+1], buf[n+2], buf[n+3], buf[n+4] = '%', '2', '5', upperHex[c>>4], upperHex[c&0x0f]
		n += 5
	}
	return buf[:n]
}

// cmpEncoded compares PercentEncode(a) with PercentEncode(b) without
// encoding either. Up to the first differing byte both encodings are equal;
// there, an escape ("%" is 0x25) sorts before any unreserved byte (all are
// above 0x2C), two escapes compare as their bytes do (upper-case hex keeps
// the order), and so do two unreserved bytes.
func cmpEncoded(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	if i == n {
		return cmp.Compare(len(a), len(b))
	}
	ua, ub := unreserved[a[i]], unreserved[b[i]]
	switch {
	case ua && !ub:
		return 1
	case !ua && ub:
		return -1
	}
	return cmp.Compare(a[i], b[i])
}

// ErrBadEncoding reports a "%" that is not followed by two hex digits.
var ErrBadEncoding = errors.New("invalid percent-encoding")

// PercentDecode reverses percent-encoding. With plusIsSpace, "+" decodes to a
// space, as servlet containers (and so Atlassian) do for query strings and
// form bodies; Authorization header values keep "+" literally.
func PercentDecode(s string, plusIsSpace bool) (string, error) {
	i := nextSpecial(s, plusIsSpace)
	if i < 0 {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for {
		b.WriteString(s[:i])
		if s[i] == '+' {
			b.WriteByte(' ')
			s = s[i+1:]
		} else {
			if i+2 >= len(s) {
				return "", ErrBadEncoding
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return "", ErrBadEncoding
			}
			b.WriteByte(hi<<4 | lo)
			s = s[i+3:]
		}
		if i = nextSpecial(s, plusIsSpace); i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
	}
}

// validPercentEncoding reports whether PercentDecode(s, false) succeeds:
// every "%" is followed by two hex digits.
func validPercentEncoding(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		if i+2 >= len(s) {
			return false
		}
		if _, ok := unhex(s[i+1]); !ok {
			return false
		}
		if _, ok := unhex(s[i+2]); !ok {
			return false
		}
		i += 2
	}
	return true
}

// nextSpecial returns the index of the next "%" (or "+" with plusIsSpace)
// in s, or -1.
func nextSpecial(s string, plusIsSpace bool) int {
	if !plusIsSpace {
		return strings.IndexByte(s, '%')
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '%' || s[i] == '+' {
			return i
		}
	}
	return -1
}

// lenientDecode percent-decodes s ("+" as space), keeping malformed escapes
// as they are.
func lenientDecode(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			c = ' '
		case c == '%' && i+2 < len(s):
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				c = hi<<4 | lo
				i += 2
			}
		}
		out = append(out, c)
	}
	return string(out)
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

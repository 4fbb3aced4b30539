package login

import "strings"

const hexDigits = "0123456789abcdef"

// escapeDNValue escapes s for use as an attribute value in a distinguished
// name (RFC 4514 section 2.4): the special characters " + , ; < > \ and =
// get a backslash, as do a leading space or '#' and a trailing space;
// NUL and other control bytes become \XX. The result can never end the
// RDN, start a new one, or add a value to it.
func escapeDNValue(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '+' || c == ',' || c == ';' || c == '<' || c == '>' || c == '\\' || c == '=':
			b.WriteByte('\\')
			b.WriteByte(c)
		case (c == ' ' || c == '#') && i == 0, c == ' ' && i == len(s)-1:
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			b.WriteByte('\\')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// escapeFilterValue escapes s for use as an assertion value in a search
// filter (RFC 4515 section 3): * ( ) \ NUL, every other control byte and
// every non-ASCII byte become \XX. The result can never close the filter
// component, add one, or act as a wildcard.
func escapeFilterValue(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '*' || c == '(' || c == ')' || c == '\\' || c < 0x20 || c >= 0x7f {
			b.WriteByte('\\')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

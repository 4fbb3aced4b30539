package oauth1

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file holds how a servlet container (Tomcat, as Atlassian's products
// configure it) and net.oauth read what the verifier and the signer read
// from the same bytes: the charset query and form are decoded in, and
// oauth_version. docs/protocol.md lists each difference and its rule.

// Charset is how Tomcat turns the percent-decoded bytes of query and form
// parameters into characters, for one request. With Jira's connector
// (useBodyEncodingForURI="true") the query is decoded like the body: in
// the charset the request's Content-Type declares, else in UTF-8, which
// the products' encoding filter sets for requests that declare none.
type Charset uint8

const (
	// CharsetUTF8 decodes UTF-8. Tomcat replaces bytes that are not UTF-8
	// with U+FFFD, which net.oauth then signs; such parameters are refused.
	CharsetUTF8 Charset = iota
	// CharsetLatin1 is ISO-8859-1: each byte is the character of that
	// number. Parameters are converted to UTF-8, as net.oauth signs them.
	CharsetLatin1
	// CharsetASCII is any other charset whose first 128 characters are
	// ASCII's (US-ASCII, the other ISO-8859 parts, windows-125x). Only
	// ASCII parameters are read the same in all of them; others are
	// refused.
	CharsetASCII
	// CharsetUnsupported is a charset in which the bytes of a parameter
	// name are not its ASCII letters (UTF-16, UTF-32, EBCDIC, ...), or one
	// this package does not know. A query or form in it cannot be checked:
	// the caller must refuse the request.
	CharsetUnsupported
)

func (c Charset) String() string {
	switch c {
	case CharsetUTF8:
		return "UTF-8"
	case CharsetLatin1:
		return "ISO-8859-1"
	case CharsetASCII:
		return "an ASCII-compatible charset"
	}
	return "an unsupported charset"
}

// Errors of RequestCharset and of reading parameters in a charset.
var (
	ErrAmbiguousCharset = errors.New("the Content-Type declares more than one charset")
	ErrNotUTF8          = errors.New("not UTF-8")
	ErrNotASCII         = errors.New("not ASCII")
	ErrCharset          = errors.New("in a charset whose parameter names cannot be read")
)

// RequestCharset returns the charset Tomcat decodes a request's query and
// form in, from its Content-Type header values, and the name declared (""
// for none). Tomcat takes the text after the first "charset=" of the first
// value, to the next ";", trimmed, a pair of quotes removed; other
// parsers (a later Tomcat's, a proxy's) read a "charset" parameter in any
// case, with spaces around "=". Every such reading of every value must
// name the same charset, or the request is ambiguous
// (ErrAmbiguousCharset): a UTF-8 reading here could hide a UTF-16 one
// there.
func RequestCharset(contentType []string) (cs Charset, name string, err error) {
	found := false
	for _, ct := range contentType {
		rest := ct
		for {
			i := indexFold(rest, "charset")
			if i < 0 {
				break
			}
			after := strings.TrimLeft(rest[i+len("charset"):], " \t")
			rest = rest[i+len("charset"):]
			if !strings.HasPrefix(after, "=") {
				continue
			}
			v := tomcatCharsetValue(after[1:])
			if !found {
				found, name = true, v
			} else if !strings.EqualFold(v, name) {
				return CharsetUnsupported, name, ErrAmbiguousCharset
			}
		}
	}
	if !found {
		return CharsetUTF8, "", nil
	}
	return classifyCharset(name), name, nil
}

// tomcatCharsetValue is the charset Tomcat reads from what follows
// "charset=": up to ";", trimmed, without a pair of quotes around it.
func tomcatCharsetValue(s string) string {
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	s = javaTrim(s)
	if len(s) > 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	return javaTrim(s)
}

// javaTrim is Java's String.trim: it removes every byte up to ' '.
func javaTrim(s string) string {
	for len(s) > 0 && s[0] <= ' ' {
		s = s[1:]
	}
	for len(s) > 0 && s[len(s)-1] <= ' ' {
		s = s[:len(s)-1]
	}
	return s
}

// indexFold is strings.Index ignoring ASCII case, for an ASCII sub.
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

// classifyCharset maps a charset name (any case, as Java's
// Charset.forName accepts its aliases) to how its parameters are read. A
// name that cannot be a Java charset's (empty, a quote, a space: see
// legalCharsetName) is ISO-8859-1: Tomcat falls back to it for a charset
// it does not know. A legal name this package does not know may be a
// charset Java has (Shift_JIS, IBM037, ...): it is unsupported.
func classifyCharset(name string) Charset {
	if !legalCharsetName(name) {
		return CharsetLatin1
	}
	n := strings.ToLower(name)
	switch n {
	case "utf-8", "utf8", "unicode-1-1-utf-8":
		return CharsetUTF8
	case "iso-8859-1", "iso8859-1", "iso_8859-1", "iso8859_1", "iso_8859_1", "8859_1", "iso_8859-1:1987",
		"latin1", "l1", "cp819", "ibm819", "ibm-819", "819", "iso-ir-100", "csisolatin1":
		return CharsetLatin1
	case "us-ascii", "ascii", "us", "iso646-us", "iso_646.irv:1983", "ascii7", "646", "cp367", "ibm367", "csascii", "default":
		return CharsetASCII
	}
	for _, p := range []string{"iso-8859-", "iso8859-", "iso8859_", "iso_8859-"} {
		if k, ok := strings.CutPrefix(n, p); ok {
			if k, err := strconv.Atoi(k); err == nil && k >= 2 && k <= 16 && k != 12 {
				return CharsetASCII
			}
		}
	}
	for _, p := range []string{"windows-", "cp"} {
		if k, ok := strings.CutPrefix(n, p); ok && len(k) == 4 && strings.HasPrefix(k, "125") && k[3] >= '0' && k[3] <= '8' {
			return CharsetASCII
		}
	}
	return CharsetUnsupported
}

// legalCharsetName is java.nio.charset.Charset's rule for a name: a
// letter or digit, then letters, digits and "-+.:_".
func legalCharsetName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && strings.IndexByte("-+.:_", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// ASCIICompatible reports whether parameter names and the "&", "=" and
// "%" of a query or form in c are the ASCII bytes this package reads.
func (c Charset) ASCIICompatible() bool { return c != CharsetUnsupported }

// Servlet converts decoded parameters (their raw bytes) to what a servlet
// container decoding in c hands the product, and net.oauth signs: UTF-8
// strings. It changes ps in place and returns the first parameter it
// cannot convert faithfully, with ErrNotUTF8 (a UTF-8 request with bytes
// Tomcat would replace by U+FFFD), ErrNotASCII (bytes above 0x7F in a
// charset this package does not map) or ErrCharset.
func (c Charset) Servlet(ps []Param) error {
	for i := range ps {
		p := &ps[i]
		var bad string
		switch c {
		case CharsetUTF8:
			switch {
			case !utf8.ValidString(p.Key):
				bad = p.Key
			case !utf8.ValidString(p.Value):
				bad = p.Value
			}
		case CharsetLatin1:
			p.Key, p.Value = latin1ToUTF8(p.Key), latin1ToUTF8(p.Value)
		case CharsetASCII:
			switch {
			case !isASCII(p.Key):
				bad = p.Key
			case !isASCII(p.Value):
				bad = p.Value
			}
		default:
			return ErrCharset
		}
		if bad != "" {
			err := ErrNotUTF8
			if c == CharsetASCII {
				err = ErrNotASCII
			}
			return &charsetError{name: p.Key, inName: bad == p.Key, err: err}
		}
	}
	return nil
}

// charsetError is a parameter that Servlet cannot convert.
type charsetError struct {
	name   string
	inName bool
	err    error
}

func (e *charsetError) Error() string {
	if e.inName {
		return fmt.Sprintf("parameter name %q: %v", truncate(e.name), e.err)
	}
	return fmt.Sprintf("value of %q: %v", truncate(e.name), e.err)
}

func (e *charsetError) Unwrap() error { return e.err }

// formProblem is the refusal of a query or form body that could not be
// read: where one parameter is at fault, it is named in
// oauth_parameters_rejected.
func formProblem(where, short string, err error) *Problem {
	advice := where + ": " + err.Error()
	var ce *charsetError
	if errors.As(err, &ce) {
		advice += "; percent-encode parameters in UTF-8, and declare no other charset"
		return problem(ParameterRejected, advice, short+": "+err.Error(), listParam("oauth_parameters_rejected", []string{ce.name}))
	}
	return problem(ParameterRejected, advice, short+": "+err.Error())
}

// ParseFormIn is ParseForm for a query or form body that a servlet
// container decodes in c (see Charset.Servlet).
func ParseFormIn(raw string, c Charset) ([]Param, error) {
	params, err := appendFormIn(nil, raw, c)
	if err != nil || len(params) == 0 {
		return nil, err
	}
	return params, nil
}

// appendFormIn is appendForm followed by c.Servlet of what it appended.
func appendFormIn(dst []Param, raw string, c Charset) ([]Param, error) {
	n := len(dst)
	out, err := appendForm(dst, raw)
	if err != nil {
		return dst, err
	}
	if err := c.Servlet(out[n:]); err != nil {
		return dst, err
	}
	return out, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func latin1ToUTF8(s string) string {
	if isASCII(s) {
		return s
	}
	b := make([]byte, 0, 2*len(s))
	for i := 0; i < len(s); i++ {
		b = utf8.AppendRune(b, rune(s[i]))
	}
	return string(b)
}

// AcceptableVersion reports whether net.oauth accepts an oauth_version:
// its validator parses the value with Java's Double.parseDouble and
// refuses it outside 1.0 to 1.0, so "1", "1.00", "1e0" or "+1.0" pass as
// well as "1.0". Java's syntax is followed (surrounding whitespace, a
// sign, an exponent, a d or f suffix, hexadecimal "0x1p0"); "NaN", which
// net.oauth lets through because NaN compares false both ways, is refused
// here, and so is anything Java cannot parse (net.oauth throws).
func AcceptableVersion(v string) bool {
	if v == "1.0" {
		return true
	}
	f, ok := javaParseDouble(v)
	return ok && f == 1
}

// javaParseDouble parses s as Java's Double.parseDouble does, but for
// NaN and the infinities (reported as not ok: no version is either).
func javaParseDouble(s string) (float64, bool) {
	s = javaTrim(s)
	if s == "" {
		return 0, false
	}
	if c := s[len(s)-1]; c == 'd' || c == 'D' || c == 'f' || c == 'F' {
		s = s[:len(s)-1]
	}
	body := s
	if body != "" && (body[0] == '+' || body[0] == '-') {
		body = body[1:]
	}
	if len(body) > 1 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X') {
		// Hexadecimal: 0x digits [. digits] p [sign] digits, the exponent
		// required.
		if !validJavaHex(body[2:]) {
			return 0, false
		}
	} else if !validJavaDecimal(body) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		// Out of range: Java gives an infinity or zero, never 1.
		return 0, false
	}
	return f, true
}

// validJavaDecimal checks digits [. digits] [e [sign] digits], with at
// least one digit before the exponent.
func validJavaDecimal(s string) bool {
	i, digits := 0, 0
	for i < len(s) && isDigit(s[i]) {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == j {
			return false
		}
	}
	return i == len(s)
}

func validJavaHex(s string) bool {
	i, digits := 0, 0
	for i < len(s) && isHexDigit(s[i]) {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isHexDigit(s[i]) {
			i++
			digits++
		}
	}
	if digits == 0 || i == len(s) || (s[i] != 'p' && s[i] != 'P') {
		return false
	}
	i++
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	j := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i > j && i == len(s)
}

func isDigit(c byte) bool    { return '0' <= c && c <= '9' }
func isHexDigit(c byte) bool { _, ok := unhex(c); return ok }

// ErrUnencodable is PercentEncodeIn's error for a character the charset
// has no byte for.
var ErrUnencodable = errors.New("has a character the request's charset cannot encode")

// PercentEncodeIn percent-encodes s (UTF-8) as the bytes of charset c: what
// a servlet container decoding in c reads back as s. A signer that adds a
// parameter (xoauth_requestor_id) to a query in ISO-8859-1 must send
// "J%FCrgen", not UTF-8's "J%C3%BCrgen", which Tomcat would read as
// "JÃ¼rgen".
func PercentEncodeIn(s string, c Charset) (string, error) {
	switch c {
	case CharsetUTF8:
		return PercentEncode(s), nil
	case CharsetLatin1, CharsetASCII:
		limit := rune(0xff)
		if c == CharsetASCII {
			limit = 0x7f
		}
		b := make([]byte, 0, len(s))
		for _, r := range s {
			if r > limit || r == utf8.RuneError {
				return "", ErrUnencodable
			}
			b = append(b, byte(r))
		}
		return PercentEncode(string(b)), nil
	}
	return "", ErrCharset
}

// FormType is the media type of a URL-encoded form body.
const FormType = "application/x-www-form-urlencoded"

// ParsesForm reports whether Tomcat, with its defaults
// (parseBodyMethods="POST"), parses a request's body into getParameterMap,
// so that net.oauth signs its parameters: a POST whose first Content-Type
// value, before ";" and trimmed as Java trims, is exactly FormType. Tomcat
// compares case-sensitively: "Application/X-WWW-Form-Urlencoded" is a body
// it leaves alone.
func ParsesForm(method string, contentType []string) bool {
	return method == "POST" && IsFormType(contentType)
}

// IsFormType is ParsesForm but for the method: whether the first
// Content-Type value, before ";" and trimmed as Java trims, is exactly
// FormType.
func IsFormType(contentType []string) bool {
	if len(contentType) == 0 {
		return false
	}
	mt, _, _ := strings.Cut(contentType[0], ";")
	return javaTrim(mt) == FormType
}

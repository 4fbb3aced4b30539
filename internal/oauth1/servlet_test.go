package oauth1

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// The expectations of these tests are what Tomcat 9 and net.oauth 20100527
// do with the same bytes, as the Tomcat oracle of the end-to-end tests
// (internal/testtomcat, caddymodule/e2e) shows them.

func TestRequestCharset(t *testing.T) {
	tests := []struct {
		ct   []string
		want Charset
		name string
		err  error
	}{
		{nil, CharsetUTF8, "", nil},
		{[]string{"application/json"}, CharsetUTF8, "", nil},
		{[]string{"text/plain; charset=UTF-8"}, CharsetUTF8, "UTF-8", nil},
		{[]string{"text/plain;charset=utf8"}, CharsetUTF8, "utf8", nil},
		{[]string{`text/plain; charset="UTF-8"`}, CharsetUTF8, "UTF-8", nil},
		{[]string{"application/x-www-form-urlencoded; charset=ISO-8859-1"}, CharsetLatin1, "ISO-8859-1", nil},
		{[]string{"text/plain; charset=latin1"}, CharsetLatin1, "latin1", nil},
		{[]string{"text/plain; charset=windows-1252"}, CharsetASCII, "windows-1252", nil},
		{[]string{"text/plain; charset=iso-8859-15"}, CharsetASCII, "iso-8859-15", nil},
		{[]string{"text/plain; charset=ISO8859_2"}, CharsetASCII, "ISO8859_2", nil},
		{[]string{"text/plain; charset=us-ascii"}, CharsetASCII, "us-ascii", nil},
		{[]string{"text/plain; charset=UTF-16BE"}, CharsetUnsupported, "UTF-16BE", nil},
		{[]string{"text/plain; charset=utf-32"}, CharsetUnsupported, "utf-32", nil},
		{[]string{"text/plain; charset=IBM037"}, CharsetUnsupported, "IBM037", nil},
		{[]string{"text/plain; charset=x-nonexistent"}, CharsetUnsupported, "x-nonexistent", nil},
		// Tomcat 9.0.70 finds "charset=" anywhere, case-sensitively, and
		// reads up to ";". A name that cannot be a Java charset's (a
		// space, a quote, none) makes it fall back to ISO-8859-1.
		{[]string{"text/plain; mycharset=UTF-16BE"}, CharsetUnsupported, "UTF-16BE", nil},
		{[]string{"text/plain,charset=UTF-16BE"}, CharsetUnsupported, "UTF-16BE", nil},
		{[]string{"text/plain; charset=UTF-16BE x"}, CharsetLatin1, "UTF-16BE x", nil},
		{[]string{"text/plain; charset="}, CharsetLatin1, "", nil},
		{[]string{`text/plain; charset=""`}, CharsetLatin1, `""`, nil},
		{[]string{`text/plain; charset="`}, CharsetLatin1, `"`, nil},
		{[]string{`text/plain; charset="UTF-16BE`}, CharsetLatin1, `"UTF-16BE`, nil},
		{[]string{"text/plain; charset=Shift_JIS"}, CharsetUnsupported, "Shift_JIS", nil},
		{[]string{`text/plain; x="a;b"; charset=UTF-16BE`}, CharsetUnsupported, "UTF-16BE", nil},
		// Spellings Tomcat 9.0.70 ignores but another parser honours:
		// they count, so that a product on another Tomcat cannot be
		// handed a charset the proxy did not see.
		{[]string{"text/plain; Charset=UTF-16BE"}, CharsetUnsupported, "UTF-16BE", nil},
		{[]string{"text/plain; charset = UTF-16BE"}, CharsetUnsupported, "UTF-16BE", nil},
		// Two readings that differ are ambiguous.
		{[]string{"text/plain; charset=utf-8; charset=UTF-16BE"}, CharsetUnsupported, "utf-8", ErrAmbiguousCharset},
		{[]string{"text/plain", "text/plain; charset=UTF-16BE"}, CharsetUnsupported, "UTF-16BE", nil},
		{[]string{"text/plain; charset=utf-8", "text/plain; charset=UTF-16BE"}, CharsetUnsupported, "utf-8", ErrAmbiguousCharset},
		{[]string{"text/plain; charset=utf-8; Charset=UTF-8"}, CharsetUTF8, "utf-8", nil},
	}
	for _, tt := range tests {
		cs, name, err := RequestCharset(tt.ct)
		if !errors.Is(err, tt.err) || err == nil && (cs != tt.want || name != tt.name) {
			t.Errorf("RequestCharset(%q) = %v, %q, %v; want %v, %q, %v", tt.ct, cs, name, err, tt.want, tt.name, tt.err)
		}
	}
}

func TestParseFormIn(t *testing.T) {
	tests := []struct {
		raw  string
		cs   Charset
		want []Param
		err  error
	}{
		{"a=%C3%A9", CharsetUTF8, []Param{{"a", "é"}}, nil},
		{"a=%E9", CharsetUTF8, nil, ErrNotUTF8},
		{"%FF=1", CharsetUTF8, nil, ErrNotUTF8},
		{"a=%ED%A0%80", CharsetUTF8, nil, ErrNotUTF8}, // a surrogate: Java's decoder replaces it too
		{"a=%E9&%E9=b", CharsetLatin1, []Param{{"a", "é"}, {"é", "b"}}, nil},
		{"a=%C3%A9", CharsetLatin1, []Param{{"a", "Ã©"}}, nil},
		{"a=1+2", CharsetASCII, []Param{{"a", "1 2"}}, nil},
		{"a=%80", CharsetASCII, nil, ErrNotASCII},
		{"a=1", CharsetUnsupported, nil, ErrCharset},
		{"", CharsetUnsupported, nil, nil},
		{"=x&a=%zz", CharsetUTF8, nil, ErrBadEncoding},
	}
	for _, tt := range tests {
		got, err := ParseFormIn(tt.raw, tt.cs)
		if !errors.Is(err, tt.err) || !slices.Equal(got, tt.want) {
			t.Errorf("ParseFormIn(%q, %v) = %q, %v; want %q, %v", tt.raw, tt.cs, got, err, tt.want, tt.err)
		}
	}
}

// TestAcceptableVersion holds the values Java's Double.parseDouble gives
// for each spelling (checked with a JDK 17).
func TestAcceptableVersion(t *testing.T) {
	for _, v := range []string{"1.0", "1", "1.00", "01.0", "1.", ".1e1", "+1.0", " 1.0 ", "1.0\x1f", "\f1.0\v", "1.0D", "1.0f",
		"1e0", "10e-1", "0x1p0", "0x1.p0", "0x.8p1", "0x1p0f", "1.0000000000000001"} {
		if !AcceptableVersion(v) {
			t.Errorf("AcceptableVersion(%q) = false; net.oauth accepts it", v)
		}
	}
	for _, v := range []string{"", "1.0a", "2.0", "0.9", "1.00000000001", "1.00000000001f", "1_0", "1.0e", "0x1", "1,0",
		"١", "-1.0", "NaN", "-NaN", "Infinity", "+Infinity", "inf", "1e999", ".", "e1", "1.0 d", "0x1p", "0x_1p0"} {
		if AcceptableVersion(v) {
			t.Errorf("AcceptableVersion(%q) = true", v)
		}
	}
}

// TestVerifyServletReading checks that the verifier reads a request as
// Tomcat and net.oauth do, or refuses it.
func TestVerifyServletReading(t *testing.T) {
	accepts := []struct {
		name string
		s    spec
		edit func(*Request)
		user string
	}{
		{name: "oauth_version 1", s: spec{extra: []Param{{"oauth_version", "1"}}}},
		{name: "oauth_version 1.00", s: spec{extra: []Param{{"oauth_version", "1.00"}}}},
		{name: "oauth_version 1e0", s: spec{extra: []Param{{"oauth_version", "1e0"}}}},
		{name: "oauth_version with spaces", s: spec{extra: []Param{{"oauth_version", " 1.0 "}}}},
		{name: "a query pair without a name is not signed", s: spec{query: "a=1&=x"}},
		{name: "a pair without a name, signed as net.oauth does", s: spec{query: "a=1"},
			edit: func(r *Request) { r.RawQuery = "=x&a=1&=" }},
		{name: "Realm in any case is not signed", s: spec{},
			edit: func(r *Request) {
				r.Authorization[0] = strings.Replace(r.Authorization[0], "OAuth ", `OAuth REALM="x", `, 1)
			}},
		{name: "ISO-8859-1 query, signed as its characters in UTF-8", s: spec{query: "xoauth_requestor_id=J%C3%BCrgen&q=%C3%A9"},
			edit: func(r *Request) {
				r.RawQuery, r.Charset = "xoauth_requestor_id=J%FCrgen&q=%E9", CharsetLatin1
			}, user: "Jürgen"},
		{name: "ISO-8859-1 form", s: spec{method: "POST", form: "q=%C3%A9"},
			edit: func(r *Request) { r.Form, r.Charset = "q=%E9", CharsetLatin1 }},
		{name: "windows-1252, ASCII only", s: spec{query: "q=a+b"}, edit: func(r *Request) { r.Charset = CharsetASCII }},
	}
	for _, tt := range accepts {
		t.Run(tt.name, func(t *testing.T) {
			v, _ := newTestVerifier(t)
			r := sign(t, tt.s)
			if tt.edit != nil {
				tt.edit(r)
			}
			res, p := v.Verify(context.Background(), r)
			if p != nil {
				t.Fatalf("refused: %s (%s)", p.Code, p.Reason)
			}
			if want := tt.user; want != "" && res.User != want {
				t.Errorf("user %q, want %q", res.User, want)
			}
		})
	}

	rejected := func(name string) refusal {
		var params map[string]string
		if name != "" {
			params = map[string]string{"oauth_parameters_rejected": name}
		}
		return refusal{ParameterRejected, 400, params}
	}
	refuses := []struct {
		name string
		s    spec
		edit func(*Request)
		want refusal
	}{
		{"oauth_version NaN (net.oauth lets it through)", spec{extra: []Param{{"oauth_version", "NaN"}}}, nil,
			refusal{VersionRejected, 400, map[string]string{"oauth_acceptable_versions": "1.0-1.0"}}},
		{"oauth_version Infinity", spec{extra: []Param{{"oauth_version", "Infinity"}}}, nil,
			refusal{VersionRejected, 400, nil}},
		{"oauth_version 1.00000000001", spec{extra: []Param{{"oauth_version", "1.00000000001"}}}, nil,
			refusal{VersionRejected, 400, nil}},
		{"a query value that is not UTF-8", spec{query: "q=%E9"}, nil, rejected("q")},
		{"a query name that is not UTF-8", spec{query: "%FF=1"}, nil, rejected("%FF")},
		{"a form value that is not UTF-8", spec{method: "POST", form: "q=%E9"}, nil, rejected("q")},
		{"a requestor that is not ISO-8859-1 ASCII in windows-1252", spec{query: "xoauth_requestor_id=J%FCrgen"},
			func(r *Request) { r.Charset = CharsetASCII }, rejected("xoauth_requestor_id")},
		{"a query in UTF-16", spec{query: "q=1"}, func(r *Request) { r.Charset = CharsetUnsupported }, rejected("")},
		{"a raw + in a header value (a space to net.oauth)", spec{nonce: "n+1"},
			func(r *Request) { r.Authorization[0] = strings.Replace(r.Authorization[0], "n%2B1", "n+1", 1) }, rejected("")},
		{"a raw , in a header value (net.oauth splits there)", spec{nonce: "n,1"},
			func(r *Request) { r.Authorization[0] = strings.Replace(r.Authorization[0], "n%2C1", "n,1", 1) }, rejected("")},
		{"a header byte above 0x7E", spec{realm: "x"},
			func(r *Request) {
				r.Authorization[0] = strings.Replace(r.Authorization[0], `realm="x"`, "realm=\"\x85\"", 1)
			}, rejected("")},
		{"a header value that is not UTF-8", spec{nonce: "n\xe9"}, nil, rejected("")},
		{"a requestor with a leading space", spec{query: "xoauth_requestor_id=%20alice"}, nil, rejected("xoauth_requestor_id")},
		{"a requestor with a trailing space", spec{query: "xoauth_requestor_id=alice+"}, nil, rejected("xoauth_requestor_id")},
	}
	for _, tt := range refuses {
		t.Run(tt.name, func(t *testing.T) {
			v, st := newTestVerifier(t)
			r := sign(t, tt.s)
			if tt.edit != nil {
				tt.edit(r)
			}
			res, p := v.Verify(context.Background(), r)
			checkRefusal(t, res, p, tt.want)
			if st.len() != 0 {
				t.Errorf("a refused request recorded %d nonces", st.len())
			}
		})
	}
}

func TestValidUserNameSpaces(t *testing.T) {
	for u, want := range map[string]bool{"alice": true, "alice smith": true, " alice": false, "alice ": false, " ": false, "a\u00a0": true} {
		if ValidUserName(u) != want {
			t.Errorf("ValidUserName(%q) = %v", u, !want)
		}
	}
}

func TestParseAuthorizationHeaderStaysLenient(t *testing.T) {
	// WWW-Authenticate challenges of other servers are read as RFC 5849
	// allows; only the verifier reads the header as net.oauth does.
	_, ps, err := ParseAuthorizationHeader(`OAuth oauth_problem_advice="a,b+c"`)
	if err != nil || len(ps) != 1 || ps[0].Value != "a,b+c" {
		t.Errorf("got %q, %v", ps, err)
	}
}

func TestPercentEncodeIn(t *testing.T) {
	tests := []struct {
		s    string
		cs   Charset
		want string
		err  error
	}{
		{"Jürgen Ō", CharsetUTF8, "J%C3%BCrgen%20%C5%8C", nil},
		{"Jürgen", CharsetLatin1, "J%FCrgen", nil},
		{"Ō", CharsetLatin1, "", ErrUnencodable},
		{"a b", CharsetASCII, "a%20b", nil},
		{"ü", CharsetASCII, "", ErrUnencodable},
		{"a", CharsetUnsupported, "", ErrCharset},
	}
	for _, tt := range tests {
		got, err := PercentEncodeIn(tt.s, tt.cs)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("PercentEncodeIn(%q, %v) = %q, %v; want %q, %v", tt.s, tt.cs, got, err, tt.want, tt.err)
		}
		if err == nil {
			if ps, err := ParseFormIn("u="+got, tt.cs); err != nil || len(ps) != 1 || ps[0].Value != tt.s {
				t.Errorf("ParseFormIn of %q in %v = %q, %v; want %q", got, tt.cs, ps, err, tt.s)
			}
		}
	}
}

func TestParsesForm(t *testing.T) {
	tests := []struct {
		method string
		ct     []string
		want   bool
	}{
		{"POST", []string{"application/x-www-form-urlencoded"}, true},
		{"POST", []string{"application/x-www-form-urlencoded; charset=UTF-8"}, true},
		{"POST", []string{" application/x-www-form-urlencoded\t;x"}, true},
		{"POST", []string{"Application/x-www-form-urlencoded"}, false},
		{"POST", []string{"application/x-www-form-urlencoded\u00a0"}, false},
		{"POST", []string{"text/plain", "application/x-www-form-urlencoded"}, false},
		{"POST", nil, false},
		{"PUT", []string{"application/x-www-form-urlencoded"}, false},
		{"post", []string{"application/x-www-form-urlencoded"}, false},
	}
	for _, tt := range tests {
		if got := ParsesForm(tt.method, tt.ct); got != tt.want {
			t.Errorf("ParsesForm(%s, %q) = %v", tt.method, tt.ct, got)
		}
	}
}

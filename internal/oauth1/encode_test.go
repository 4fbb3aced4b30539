package oauth1

import (
	"errors"
	"strings"
	"testing"
)

func TestPercentEncode(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"unreserved kept", "AZaz09-._~", "AZaz09-._~"},
		{"space is %20 not +", "a b", "a%20b"},
		{"plus encoded", "a+b", "a%2Bb"},
		{"tilde not encoded", "~user", "~user"},
		{"reserved", "!*'();:@&=+$,/?#[]", "%21%2A%27%28%29%3B%3A%40%26%3D%2B%24%2C%2F%3F%23%5B%5D"},
		{"percent", "100%", "100%25"},
		{"upper-case hex", "\x0a\xab\xff", "%0A%AB%FF"},
		{"UTF-8 bytes", "é", "%C3%A9"},
		{"UTF-8 4-byte", "😀", "%F0%9F%98%80"},
		{"RFC 5849 3.6 example", "Ladies + Gentlemen", "Ladies%20%2B%20Gentlemen"},
		{"NUL and DEL", "\x00\x7f", "%00%7F"},
		{"invalid UTF-8 byte by byte", "\xc3", "%C3"},
		{"already encoded is re-encoded", "%20", "%2520"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PercentEncode(tt.in); got != tt.want {
				t.Errorf("PercentEncode(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestPercentEncodeAllBytes(t *testing.T) {
	for c := 0; c < 256; c++ {
		s := string([]byte{byte(c)})
		got := PercentEncode(s)
		unreserved := 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~'
		if unreserved {
			if got != s {
				t.Errorf("byte %#x: got %q, want it unencoded", c, got)
			}
			continue
		}
		if len(got) != 3 || got[0] != '%' || strings.ToUpper(got) != got {
			t.Errorf("byte %#x: got %q, want %%XX with upper-case hex", c, got)
		}
		back, err := PercentDecode(got, false)
		if err != nil || back != s {
			t.Errorf("byte %#x: decode(%q) = %q, %v", c, got, back, err)
		}
	}
}

func TestPercentDecode(t *testing.T) {
	tests := []struct {
		name        string
		in          string
		plusIsSpace bool
		want        string
		err         error
	}{
		{"plain", "abc", false, "abc", nil},
		{"empty", "", true, "", nil},
		{"%20", "a%20b", false, "a b", nil},
		{"lower-case hex accepted", "%c3%a9", false, "é", nil},
		{"upper-case hex", "%C3%A9", false, "é", nil},
		{"plus kept in header mode", "a+b", false, "a+b", nil},
		{"plus is space in form mode", "a+b", true, "a b", nil},
		{"%2B is plus in form mode", "a%2Bb", true, "a+b", nil},
		{"escape at end", "ab%41", false, "abA", nil},
		{"double encoded decodes once", "%2520", false, "%20", nil},
		{"NUL", "%00", false, "\x00", nil},
		{"lone percent", "%", false, "", ErrBadEncoding},
		{"percent at end", "abc%", true, "", ErrBadEncoding},
		{"one hex digit", "%4", false, "", ErrBadEncoding},
		{"one hex digit at end", "ab%4", false, "", ErrBadEncoding},
		{"non-hex", "%zz", false, "", ErrBadEncoding},
		{"second non-hex", "%4g", false, "", ErrBadEncoding},
		{"sign is not hex", "%+1", true, "", ErrBadEncoding},
		{"bad after good", "%41%", false, "", ErrBadEncoding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PercentDecode(tt.in, tt.plusIsSpace)
			if !errors.Is(err, tt.err) {
				t.Fatalf("PercentDecode(%q) error = %v, want %v", tt.in, err, tt.err)
			}
			if got != tt.want {
				t.Errorf("PercentDecode(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestPercentRoundTrip(t *testing.T) {
	for _, s := range []string{"", "a b+c", "é~ü", "\x00\xff", "oauth_signature=abc/+=", strings.Repeat("%", 10)} {
		for _, plus := range []bool{false, true} {
			got, err := PercentDecode(PercentEncode(s), plus)
			if err != nil || got != s {
				t.Errorf("round trip of %q (plus=%v) = %q, %v", s, plus, got, err)
			}
		}
	}
}

func TestLenientDecode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"oauth_x", "oauth_x"},
		{"oauth%5Fx", "oauth_x"},
		{"oauth%5fx%zz", "oauth_x%zz"},
		{"a+b", "a b"},
		{"%", "%"},
		{"%4", "%4"},
		{"%41%4", "A%4"},
	}
	for _, tt := range tests {
		if got := lenientDecode(tt.in); got != tt.want {
			t.Errorf("lenientDecode(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

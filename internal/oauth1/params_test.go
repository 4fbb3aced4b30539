package oauth1

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestLocationString(t *testing.T) {
	tests := []struct {
		l    Location
		want string
	}{
		{InHeader, "Authorization header"},
		{InQuery, "query string"},
		{InForm, "form body"},
		{0, "nowhere"},
		{99, "nowhere"},
	}
	for _, tt := range tests {
		if got := tt.l.String(); got != tt.want {
			t.Errorf("Location(%d).String() = %q, want %q", tt.l, got, tt.want)
		}
	}
}

func TestIsOAuthScheme(t *testing.T) {
	tests := []struct {
		h    string
		want bool
	}{
		{`OAuth oauth_consumer_key="a"`, true},
		{`oauth oauth_consumer_key="a"`, true},
		{`OAUTH x="1"`, true},
		{"OAuth\tx=\"1\"", true},
		{`  OAuth x="1"`, true},
		{`OAuth`, true},
		{`OAuth2 x="1"`, false},
		{`OAuthx="1"`, false},
		{`Basic dXNlcjpwYXNz`, false},
		{`Bearer abc`, false},
		{``, false},
		{`OAut`, false},
	}
	for _, tt := range tests {
		if got := IsOAuthScheme(tt.h); got != tt.want {
			t.Errorf("IsOAuthScheme(%q) = %v, want %v", tt.h, got, tt.want)
		}
	}
}

func TestParseAuthorizationHeader(t *testing.T) {
	tests := []struct {
		name      string
		h         string
		wantRealm string
		want      []Param
	}{
		{
			name:      "RFC 5849 3.5.1 example, realm dropped",
			h:         `OAuth realm="Example", oauth_consumer_key="0685bd9184jfhq22", oauth_token="ad180jjd733klru7", oauth_signature_method="HMAC-SHA1", oauth_signature="wOJIO9A2W5mFwDgiDvZbTSMK%2FPY%3D", oauth_timestamp="137131200", oauth_nonce="4572616e48616d6d65724c61686176", oauth_version="1.0"`,
			wantRealm: "Example",
			want: []Param{
				{"oauth_consumer_key", "0685bd9184jfhq22"},
				{"oauth_token", "ad180jjd733klru7"},
				{"oauth_signature_method", "HMAC-SHA1"},
				{"oauth_signature", "wOJIO9A2W5mFwDgiDvZbTSMK/PY="},
				{"oauth_timestamp", "137131200"},
				{"oauth_nonce", "4572616e48616d6d65724c61686176"},
				{"oauth_version", "1.0"},
			},
		},
		{
			name: "Atlassian 2LO: empty token, no realm",
			h:    `OAuth oauth_token="", oauth_consumer_key="jira%3A1234"`,
			want: []Param{{"oauth_token", ""}, {"oauth_consumer_key", "jira:1234"}},
		},
		{
			name:      "realm percent-decoded",
			h:         `OAuth realm="https%3A%2F%2Fjira.example.com", a="b"`,
			wantRealm: "https://jira.example.com",
			want:      []Param{{"a", "b"}},
		},
		{
			name: "lower-case scheme",
			h:    `oauth a="1"`,
			want: []Param{{"a", "1"}},
		},
		{
			name: "upper-case scheme",
			h:    `OAUTH a="1"`,
			want: []Param{{"a", "1"}},
		},
		{
			name: "no space after commas",
			h:    `OAuth a="1",b="2"`,
			want: []Param{{"a", "1"}, {"b", "2"}},
		},
		{
			name: "tabs and spaces around commas and equals",
			h:    "OAuth\ta = \"1\" \t,\t b=\t\"2\"\t",
			want: []Param{{"a", "1"}, {"b", "2"}},
		},
		{
			name: "leading whitespace",
			h:    `   OAuth a="1"`,
			want: []Param{{"a", "1"}},
		},
		{
			name: "empty list elements",
			h:    `OAuth a="1",, ,b="2",`,
			want: []Param{{"a", "1"}, {"b", "2"}},
		},
		{
			name: "leading empty list element",
			h:    `OAuth , a="1"`,
			want: []Param{{"a", "1"}},
		},
		{
			name: "plus stays plus in the header",
			h:    `OAuth oauth_signature="ab+c/d=="`,
			want: []Param{{"oauth_signature", "ab+c/d=="}},
		},
		{
			name: "percent-encoded name",
			h:    `OAuth oauth%5Fnonce="x"`,
			want: []Param{{"oauth_nonce", "x"}},
		},
		{
			name: "UTF-8 value",
			h:    `OAuth xoauth_requestor_id="J%C3%BCrgen"`,
			want: []Param{{"xoauth_requestor_id", "Jürgen"}},
		},
		{
			name: "comma and equals inside quotes",
			h:    `OAuth a="x,y=z", b="2"`,
			want: []Param{{"a", "x,y=z"}, {"b", "2"}},
		},
		{
			name: "duplicates kept",
			h:    `OAuth oauth_nonce="1", oauth_nonce="2"`,
			want: []Param{{"oauth_nonce", "1"}, {"oauth_nonce", "2"}},
		},
		{
			name: "scheme only",
			h:    `OAuth`,
			want: nil,
		},
		{
			name:      "realm only",
			h:         `OAuth realm=""`,
			wantRealm: "",
			want:      nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			realm, params, err := ParseAuthorizationHeader(tt.h)
			if err != nil {
				t.Fatalf("ParseAuthorizationHeader(%q): %v", tt.h, err)
			}
			if realm != tt.wantRealm {
				t.Errorf("realm = %q, want %q", realm, tt.wantRealm)
			}
			if !reflect.DeepEqual(params, tt.want) {
				t.Errorf("params = %q\nwant %q", params, tt.want)
			}
		})
	}
}

func TestParseAuthorizationHeaderErrors(t *testing.T) {
	tests := []struct {
		name string
		h    string
		err  error
	}{
		{"not OAuth", `Basic dXNlcjpwYXNz`, ErrNotOAuth},
		{"OAuth2 is not OAuth", `OAuth2 a="1"`, ErrNotOAuth},
		{"empty", ``, ErrNotOAuth},
		{"unterminated quote", `OAuth a="1`, ErrUnterminatedQuote},
		{"unterminated quote after good param", `OAuth a="1", b="2`, ErrUnterminatedQuote},
		{"bad percent-encoding in value", `OAuth a="%zz"`, ErrBadEncoding},
		{"truncated escape in value", `OAuth a="x%4"`, ErrBadEncoding},
		{"bad percent-encoding in name", `OAuth a%zz="1"`, ErrBadEncoding},
		{"no comma between params", `OAuth a="1" b="2"`, ErrMissingComma},
		{"semicolon separator", `OAuth a="1"; b="2"`, ErrMissingComma},
		{"unquoted value", `OAuth a=1`, ErrMalformedParam},
		{"unquoted value after good param", `OAuth a="1", b=2`, ErrMalformedParam},
		{"missing =", `OAuth a`, ErrMalformedParam},
		{"missing = before next param", `OAuth a, b="2"`, ErrMalformedParam},
		{"empty name", `OAuth ="1"`, ErrMalformedParam},
		{"space inside name", `OAuth a b="1"`, ErrMalformedParam},
		{"quote in name", `OAuth a"b="1"`, ErrMalformedParam},
		{"missing value", `OAuth a=`, ErrMalformedParam},
		{"token68 form", `OAuth abcdef==`, ErrMalformedParam},
		{"single-quoted value", `OAuth a='1'`, ErrMalformedParam},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			realm, params, err := ParseAuthorizationHeader(tt.h)
			if !errors.Is(err, tt.err) {
				t.Fatalf("ParseAuthorizationHeader(%q) error = %v, want %v", tt.h, err, tt.err)
			}
			if realm != "" || params != nil {
				t.Errorf("on error got realm %q params %q, want nothing", realm, params)
			}
		})
	}
}

func TestParseForm(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Param
	}{
		{"empty", "", nil},
		{"simple", "a=1&b=2", []Param{{"a", "1"}, {"b", "2"}}},
		{"order and duplicates kept", "b=2&a=1&b=1", []Param{{"b", "2"}, {"a", "1"}, {"b", "1"}}},
		{"no = gives empty value", "flag&a=", []Param{{"flag", ""}, {"a", ""}}},
		{"empty segments skipped", "&&a=1&&", []Param{{"a", "1"}}},
		{"plus is space", "q=a+b", []Param{{"q", "a b"}}},
		{"%2B is plus", "q=a%2Bb", []Param{{"q", "a+b"}}},
		{"encoded name", "c%40=x", []Param{{"c@", "x"}}},
		{"second = belongs to value", "a=b=c", []Param{{"a", "b=c"}}},
		{"encoded & and =", "a=%26%3D", []Param{{"a", "&="}}},
		{"UTF-8", "name=J%C3%BCrgen", []Param{{"name", "Jürgen"}}},
		// Tomcat skips a pair without a name (it was kept, and signed,
		// before: net.oauth does not sign it).
		{"empty name", "=v", nil},
		{"empty name among others", "a=1&=v&=&b=2", []Param{{"a", "1"}, {"b", "2"}}},
		{"empty name, bad escape", "=%zz&a=1", []Param{{"a", "1"}}},
		{"name of one space", "+=v", []Param{{" ", "v"}}},
		{"semicolon is not a separator", "a=1;b=2", []Param{{"a", "1;b=2"}}},
		{"RFC 5849 query", "b5=%3D%253D&a3=a&c%40=&a2=r%20b", []Param{{"b5", "=%3D"}, {"a3", "a"}, {"c@", ""}, {"a2", "r b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseForm(tt.in)
			if err != nil {
				t.Fatalf("ParseForm(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseForm(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseFormErrors(t *testing.T) {
	for _, in := range []string{"a=%zz", "%zz=1", "a=1&b=%", "a=%4", "q=100%"} {
		got, err := ParseForm(in)
		if !errors.Is(err, ErrBadEncoding) {
			t.Errorf("ParseForm(%q) = %q, %v; want ErrBadEncoding", in, got, err)
		}
		if got != nil {
			t.Errorf("ParseForm(%q) returned params %q with the error", in, got)
		}
	}
}

func TestRemoveParams(t *testing.T) {
	dropOAuth := func(k string) bool { return IsOAuthParam(k) || IsRequestorParam(k) }
	tests := []struct {
		name    string
		in      string
		want    string
		changed bool
	}{
		{"empty", "", "", false},
		{"nothing to drop, returned as is", "b=%7e&a=1+2&a=%2B", "b=%7e&a=1+2&a=%2B", false},
		{
			name:    "others kept byte for byte",
			in:      "jql=project%20%3D%20%22ABC%22+ORDER+BY+key&oauth_nonce=1&expand=a,b&expand=%7Ec&xoauth_requestor_id=bob&flag&x=%c3%a9",
			want:    "jql=project%20%3D%20%22ABC%22+ORDER+BY+key&expand=a,b&expand=%7Ec&flag&x=%c3%a9",
			changed: true,
		},
		{"first dropped", "oauth_token=&a=1", "a=1", true},
		{"last dropped", "a=1&oauth_token=", "a=1", true},
		{"all dropped", "oauth_token=&oauth_nonce=x&user_id=u", "", true},
		{"encoded name dropped", "oauth%5Fnonce=1&a=1", "a=1", true},
		{"name with bad escape dropped", "oauth_x%zz=1&a=%zz", "a=%zz", true},
		{"empty segment kept", "a=1&&oauth_nonce=1&b=2", "a=1&&b=2", true},
		{"non-oauth lookalike kept", "xoauth_other=1&noauth_x=2", "xoauth_other=1&noauth_x=2", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed := RemoveParams(tt.in, dropOAuth)
			if got != tt.want || changed != tt.changed {
				t.Errorf("RemoveParams(%q) = %q, %v; want %q, %v", tt.in, got, changed, tt.want, tt.changed)
			}
		})
	}
}

func TestRemoveParamsKeepsPairsByteForByte(t *testing.T) {
	// Every kept pair must appear verbatim, in order: the upstream checks
	// nothing, but anything re-encoded would change what Jira sees.
	kept := []string{"a=1+2", "b=%7e", "c", "d=", "e=%C3%A9", "f=a%2Fb", "g=%zz", "h=;x", "=z"}
	var parts []string
	for i, p := range kept {
		parts = append(parts, p)
		if i%2 == 0 {
			parts = append(parts, "oauth_n"+string(rune('a'+i))+"=v")
		}
	}
	got, changed := RemoveParams(strings.Join(parts, "&"), IsOAuthParam)
	if !changed {
		t.Fatal("changed = false")
	}
	if want := strings.Join(kept, "&"); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

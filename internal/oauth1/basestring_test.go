package oauth1

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// rfc5849BaseString is the signature base string of RFC 5849 section
// 3.4.1.1, verbatim.
const rfc5849BaseString = "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q" +
	"%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9dj" +
	"dj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1" +
	"%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"

// rfc5849Params collects the example request of RFC 5849 section 3.4.1 the
// way the verifier does: Authorization header (realm and oauth_signature
// dropped), query, form body.
func rfc5849Params(t *testing.T) []Param {
	t.Helper()
	header := `OAuth realm="Example",
                oauth_consumer_key="9djdj82h48djs9d2",
                oauth_token="kkk9d7dh3k39sjv7",
                oauth_signature_method="HMAC-SHA1",
                oauth_timestamp="137131201",
                oauth_nonce="7d8f3e4a",
                oauth_signature="bYT5CMsGcbgUdFHObYMEfcx6bsw%3D"`
	// Folded header lines arrive unfolded; what is left is spaces.
	header = strings.Join(strings.Fields(header), " ")
	realm, hp, err := ParseAuthorizationHeader(header)
	if err != nil {
		t.Fatal(err)
	}
	if realm != "Example" {
		t.Fatalf("realm = %q", realm)
	}
	query, err := ParseForm("b5=%3D%253D&a3=a&c%40=&a2=r%20b")
	if err != nil {
		t.Fatal(err)
	}
	form, err := ParseForm("c2&a3=2+q")
	if err != nil {
		t.Fatal(err)
	}
	var all []Param
	for _, p := range append(append(hp, query...), form...) {
		if p.Key != "oauth_signature" {
			all = append(all, p)
		}
	}
	return all
}

func TestBaseStringRFC5849(t *testing.T) {
	params := rfc5849Params(t)
	base, err := ParseBaseURL("http://EXAMPLE.COM:80")
	if err != nil {
		t.Fatal(err)
	}
	got := BaseString("POST", base.SignedURL("/request"), params)
	if got != rfc5849BaseString {
		t.Errorf("base string\n got %s\nwant %s", got, rfc5849BaseString)
	}
	// The errata-corrected HMAC-SHA1 signature of that base string, with
	// client secret j49sk3j29djd and token secret dh893hdasih9.
	if sig := SignHMACSHA1("j49sk3j29djd", "dh893hdasih9", got); sig != "r6/TJjbCOr97/+UU0NsvSne7s5g=" {
		t.Errorf("signature = %s", sig)
	}
}

// The OAuth Core 1.0 Appendix A.5.1 request: GET
// http://photos.example.net/photos?file=vacation.jpg&size=original.
const coreA51BaseString = "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg" +
	"%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3Dkllo9940pd9333jh" +
	"%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1191242096" +
	"%26oauth_token%3Dnnch734d00sl2jdk%26oauth_version%3D1.0%26size%3Doriginal"

func TestBaseStringOAuthCoreA51(t *testing.T) {
	query, err := ParseForm("file=vacation.jpg&size=original")
	if err != nil {
		t.Fatal(err)
	}
	params := append(query,
		Param{"oauth_consumer_key", "dpf43f3p2l4k3l03"},
		Param{"oauth_token", "nnch734d00sl2jdk"},
		Param{"oauth_signature_method", "HMAC-SHA1"},
		Param{"oauth_timestamp", "1191242096"},
		Param{"oauth_nonce", "kllo9940pd9333jh"},
		Param{"oauth_version", "1.0"},
	)
	got := BaseString("GET", "http://photos.example.net/photos", params)
	if got != coreA51BaseString {
		t.Fatalf("base string\n got %s\nwant %s", got, coreA51BaseString)
	}
	sig := SignHMACSHA1("kd94hf93k423kf44", "pfkkdhi9sl3r4s00", got)
	if sig != "tR3+Ty81lMeYAr/Fid0kMTYa/WM=" {
		t.Errorf("HMAC-SHA1 = %s, want tR3+Ty81lMeYAr/Fid0kMTYa/WM=", sig)
	}
}

func TestBaseString(t *testing.T) {
	tests := []struct {
		name   string
		method string
		uri    string
		params []Param
		want   string
	}{
		{
			name:   "no params",
			method: "GET", uri: "https://h/",
			want: "GET&https%3A%2F%2Fh%2F&",
		},
		{
			name:   "method upper-cased",
			method: "post", uri: "http://h/p",
			params: []Param{{"a", "1"}},
			want:   "POST&http%3A%2F%2Fh%2Fp&a%3D1",
		},
		{
			name:   "custom method encoded",
			method: "M-SEARCH", uri: "http://h/",
			want: "M-SEARCH&http%3A%2F%2Fh%2F&",
		},
		{
			name:   "sorted by name before value, not by name=value",
			method: "GET", uri: "http://h/",
			// "a-b=1" < "a=2" as joined strings, but name "a" < "a-b".
			params: []Param{{"a-b", "1"}, {"a", "2"}},
			want:   "GET&http%3A%2F%2Fh%2F&a%3D2%26a-b%3D1",
		},
		{
			name:   "sorted by encoded value, not decoded",
			method: "GET", uri: "http://h/",
			// decoded "z" < "é", encoded "%C3%A9" < "z".
			params: []Param{{"k", "z"}, {"k", "é"}},
			want:   "GET&http%3A%2F%2Fh%2F&k%3D%25C3%25A9%26k%3Dz",
		},
		{
			name:   "sorted by encoded name",
			method: "GET", uri: "http://h/",
			// decoded "_" (0x5F) > "A"; encoded "%5F"... stays "_", but " " is "%20" < "A".
			params: []Param{{"A", "1"}, {" ", "2"}, {"_", "3"}},
			want:   "GET&http%3A%2F%2Fh%2F&%2520%3D2%26A%3D1%26_%3D3",
		},
		{
			name:   "repeated names all kept",
			method: "GET", uri: "http://h/",
			params: []Param{{"expand", "b"}, {"expand", "a"}, {"expand", "a"}},
			want:   "GET&http%3A%2F%2Fh%2F&expand%3Da%26expand%3Da%26expand%3Db",
		},
		{
			name:   "empty values and names",
			method: "GET", uri: "http://h/",
			params: []Param{{"b", ""}, {"", "x"}},
			want:   "GET&http%3A%2F%2Fh%2F&%3Dx%26b%3D",
		},
		{
			name:   "reserved characters double-encoded",
			method: "GET", uri: "http://h/a%2Fb",
			params: []Param{{"q", "a+b c&d=e/~"}},
			want:   "GET&http%3A%2F%2Fh%2Fa%252Fb&q%3Da%252Bb%2520c%2526d%253De%252F~",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]Param(nil), tt.params...)
			got := BaseString(tt.method, tt.uri, tt.params)
			if got != tt.want {
				t.Errorf("BaseString\n got %s\nwant %s", got, tt.want)
			}
			for i := range in {
				if in[i] != tt.params[i] {
					t.Fatalf("BaseString modified its input: %q", tt.params)
				}
			}
		})
	}
}

func TestParseBaseURL(t *testing.T) {
	tests := []struct {
		in, origin, ctx string
	}{
		{"https://jira.example.com", "https://jira.example.com", ""},
		{"https://jira.example.com/", "https://jira.example.com", ""},
		{"HTTPS://Jira.Example.COM:443/jira/", "https://jira.example.com", "/jira"},
		{"http://h:80", "http://h", ""},
		{"http://h:080", "http://h", ""},
		{"http://h:443", "http://h:443", ""},
		{"https://h:80", "https://h:80", ""},
		{"https://h:8443/a/b", "https://h:8443", "/a/b"},
		{"http://h:/x", "http://h", "/x"},
		{"http://10.0.0.1:8080/jira", "http://10.0.0.1:8080", "/jira"},
		{"http://[2001:DB8::1]:8080/jira", "http://[2001:db8::1]:8080", "/jira"},
		{"https://[::1]:443", "https://[::1]", ""},
		{"https://[::1]", "https://[::1]", ""},
		{"http://[fe80::1%25eth0]:8080", "http://[fe80::1%25eth0]:8080", ""},
		{"https://h/My%20Jira", "https://h", "/My%20Jira"},
		{"https://h/Jira", "https://h", "/Jira"}, // the path keeps its case
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			b, err := ParseBaseURL(tt.in)
			if err != nil {
				t.Fatalf("ParseBaseURL(%q): %v", tt.in, err)
			}
			if b.Origin() != tt.origin || b.ContextPath() != tt.ctx {
				t.Errorf("ParseBaseURL(%q) = origin %q ctx %q, want %q %q", tt.in, b.Origin(), b.ContextPath(), tt.origin, tt.ctx)
			}
			if b.String() != tt.in {
				t.Errorf("String() = %q, want the input", b.String())
			}
			if b.IsZero() {
				t.Error("IsZero() = true after a successful parse")
			}
		})
	}
	if !(BaseURL{}).IsZero() {
		t.Error("zero BaseURL: IsZero() = false")
	}
}

func TestParseBaseURLRejects(t *testing.T) {
	for _, in := range []string{
		"",
		"jira.example.com",
		"/jira",
		"ftp://h/",
		"ws://h/",
		"http://",
		"http:///jira",
		"http://:8080",
		"http://user@h",
		"http://user:pw@h/",
		"http://h/?",
		"http://h/?a=1",
		"http://h/#",
		"http://h/#frag",
		"http://h:0",
		"http://h:99999",
		"http://h:port",
		"http:opaque",
		"mailto:a@b",
		"http://h\x00/",
		"http://[::1",
	} {
		if b, err := ParseBaseURL(in); err == nil {
			t.Errorf("ParseBaseURL(%q) = %+v, want an error", in, b)
		}
	}
}

func TestSignedURL(t *testing.T) {
	tests := []struct {
		base, path, want string
	}{
		{"https://jira.example.com/jira", "/jira/rest/api/2/myself", "https://jira.example.com/jira/rest/api/2/myself"},
		{"https://jira.example.com/jira", "/jira", "https://jira.example.com/jira"},
		{"https://jira.example.com/jira", "/jira/", "https://jira.example.com/jira/"},
		// A front load balancer stripped the context path.
		{"https://jira.example.com/jira", "/rest/api/2/myself", "https://jira.example.com/jira/rest/api/2/myself"},
		{"https://jira.example.com/jira", "/jiraX/y", "https://jira.example.com/jira/jiraX/y"},
		{"https://jira.example.com/jira", "", "https://jira.example.com/jira/"},
		{"https://jira.example.com/jira", "/", "https://jira.example.com/jira/"},
		{"https://jira.example.com", "", "https://jira.example.com/"},
		{"https://jira.example.com", "/rest/api/2/issue/ABC-1", "https://jira.example.com/rest/api/2/issue/ABC-1"},
		// The raw path is used as received: encoded slashes, case of
		// escapes, and UTF-8 escapes stay as they are.
		{"https://jira.example.com", "/a%2Fb/%c3%a9", "https://jira.example.com/a%2Fb/%c3%a9"},
		{"HTTP://J.EXAMPLE.COM:80/Ctx", "/Ctx/x", "http://j.example.com/Ctx/x"},
		{"HTTP://J.EXAMPLE.COM:80/Ctx", "/ctx/x", "http://j.example.com/Ctx/ctx/x"},
	}
	for _, tt := range tests {
		b, err := ParseBaseURL(tt.base)
		if err != nil {
			t.Fatal(err)
		}
		if got := b.SignedURL(tt.path); got != tt.want {
			t.Errorf("ParseBaseURL(%q).SignedURL(%q) = %q, want %q", tt.base, tt.path, got, tt.want)
		}
	}
}

// refBaseString is RFC 5849 3.4.1 written the obvious way: encode, sort the
// encoded pairs, join, encode again.
func refBaseString(method, uri string, params []Param) string {
	pairs := make([][2]string, len(params))
	for i, p := range params {
		pairs[i] = [2]string{PercentEncode(p.Key), PercentEncode(p.Value)}
	}
	slices.SortFunc(pairs, func(a, b [2]string) int {
		if c := strings.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return strings.Compare(a[1], b[1])
	})
	norm := make([]string, len(pairs))
	for i, p := range pairs {
		norm[i] = p[0] + "=" + p[1]
	}
	return PercentEncode(strings.ToUpper(method)) + "&" + PercentEncode(uri) + "&" + PercentEncode(strings.Join(norm, "&"))
}

func TestBaseStringManyParams(t *testing.T) {
	for _, n := range []int{0, 1, 2, 31, 32, 33, 100, 1000} {
		var params []Param
		for i := range n {
			// Repeated names, escapes, empty values, reverse order.
			params = append(params, Param{
				Key:   fmt.Sprintf("k%d é", (n-i)%7),
				Value: strings.Repeat("v+/", i%4) + fmt.Sprint(n-i),
			})
		}
		got := BaseString("get", "https://h/p a", params)
		if want := refBaseString("get", "https://h/p a", params); got != want {
			t.Errorf("%d params:\n got %s\nwant %s", n, got, want)
		}
	}
}

func TestBaseStringLarge(t *testing.T) {
	// Past exactSizeAbove the buffer is sized by counting escapes.
	big := strings.Repeat("abc/+é", exactSizeAbove/4)
	params := []Param{{"body", big}, {"a", "1"}, {"z", big[:100]}}
	got := BaseString("POST", "https://h/", params)
	if want := refBaseString("POST", "https://h/", params); got != want {
		t.Fatal("large base string differs from the reference")
	}
}

// raceEnabled is set by race_test.go under -race.
var raceEnabled bool

func TestAppendBaseStringAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	small := rfc5849Params(t)
	big := []Param{{"body", strings.Repeat("x y", exactSizeAbove)}, {"a", "b"}}
	for name, params := range map[string][]Param{"small": small, "large": big} {
		// One allocation, dst: the size estimate is never short.
		allocs := testing.AllocsPerRun(50, func() {
			_ = appendBaseString(nil, "POST", "http://example.com", "/request", params)
		})
		if allocs != 1 {
			t.Errorf("%s: %v allocations, want 1", name, allocs)
		}
	}
}

func TestCmpEncoded(t *testing.T) {
	want := func(a, b string) int { return strings.Compare(PercentEncode(a), PercentEncode(b)) }
	for a := range 256 {
		for b := range 256 {
			sa, sb := string([]byte{byte(a)}), string([]byte{byte(b)})
			if got := cmpEncoded(sa, sb); got != want(sa, sb) {
				t.Fatalf("cmpEncoded(%q, %q) = %d, want %d", sa, sb, got, want(sa, sb))
			}
		}
	}
	strs := []string{"", "a", "a ", "a%", "a-", "a~", "aa", "a\xff", "é", "oauth_nonce", "oauth_consumer_key", "%", "%25", "~", "A", "_", "-"}
	for _, a := range strs {
		for _, b := range strs {
			if got := cmpEncoded(a, b); got != want(a, b) {
				t.Errorf("cmpEncoded(%q, %q) = %d, want %d", a, b, got, want(a, b))
			}
		}
	}
}

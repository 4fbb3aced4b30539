package login

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestLocalReturnTo(t *testing.T) {
	good := []string{
		"/",
		"/plugins/servlet/oauth/authorize?oauth_token=abc%2Bdef&oauth_callback=https%3A%2F%2Fbamboo",
		"/jira/secure/Dashboard.jspa",
		"/a/../b",
		"/?next=//evil.example",
	}
	for _, s := range good {
		if v, ok := LocalReturnTo(s); !ok || v != s {
			t.Errorf("LocalReturnTo(%q) = %q, %v; want it unchanged", s, v, ok)
		}
	}
	bad := []string{
		"", "https://evil.example/", "http:/evil.example", "//evil.example", "///evil.example",
		"/\\evil.example", "\\\\evil.example", "\\/evil.example", "/a\\b",
		"/\t/evil.example", "/\n/evil.example", "/\r/evil.example", " /x", "/x y",
		"javascript:alert(1)", "evil.example", "./x", "?x", "#x", "/x#frag",
		"/%2F%2Fevil.example", "/%2f/evil.example", "/%5Cevil.example", // refused in case something decodes them
		"/é", "/\x00", "/\x7f", "/" + strings.Repeat("a", maxReturnLen),
	}
	for _, s := range bad {
		if v, ok := LocalReturnTo(s); ok {
			t.Errorf("LocalReturnTo(%q) accepted as %q", s, v)
		}
		if safeReturnTo(s) != "/" {
			t.Errorf("safeReturnTo(%q) = %q", s, safeReturnTo(s))
		}
	}
}

// FuzzLocalReturnTo: whatever is accepted stays on this origin when a
// browser resolves it, and carries nothing a browser would drop or rewrite.
func FuzzLocalReturnTo(f *testing.F) {
	for _, s := range []string{"/", "//x", "/\\x", "/a?b=c", "https://x/", "/\t/x", "/%2F/x", "/..//x", "/;//x"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://proxy.example/app/page")
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := LocalReturnTo(s)
		if !ok {
			return
		}
		if v != s {
			t.Fatalf("changed %q to %q", s, v)
		}
		ref, err := url.Parse(v)
		if err != nil {
			t.Fatalf("accepted %q that does not parse: %v", v, err)
		}
		if got := base.ResolveReference(ref); got.Host != "proxy.example" || got.Scheme != "https" {
			t.Fatalf("%q resolves to %s", v, got)
		}
		if strings.ContainsAny(v, "\\\t\r\n #") || strings.HasPrefix(v, "//") {
			t.Fatalf("accepted %q", v)
		}
	})
}

func TestStripOwnCookies(t *testing.T) {
	h := http.Header{}
	h.Add("Cookie", "JSESSIONID=abc; applink_session=s; seraph.rememberme.cookie=r")
	h.Add("Cookie", "applink_csrf=c")
	h.Add("Cookie", "atlassian.xsrf.token=x;applink_csrf=d")
	StripOwnCookies(h)
	if got := h.Values("Cookie"); len(got) != 1 || got[0] != "JSESSIONID=abc; seraph.rememberme.cookie=r; atlassian.xsrf.token=x" {
		t.Fatalf("Cookie %q", got)
	}
	h = http.Header{"Cookie": {"applink_session=s"}}
	StripOwnCookies(h)
	if _, ok := h["Cookie"]; ok {
		t.Fatalf("empty Cookie header left: %q", h["Cookie"])
	}
}

func TestSetPageHeaders(t *testing.T) {
	h := http.Header{}
	SetPageHeaders(h)
	for k, want := range map[string]string{
		"Content-Security-Policy": "default-src 'none'; style-src 'self' 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
		"X-Frame-Options":         "DENY",
		"Cache-Control":           "no-store",
		"Referrer-Policy":         "no-referrer",
		"X-Content-Type-Options":  "nosniff",
	} {
		if h.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, h.Get(k), want)
		}
	}
}

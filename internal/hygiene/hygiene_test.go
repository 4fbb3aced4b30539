package hygiene

import (
	"net/http"
	"strings"
	"testing"
)

func TestLegacyCredentialNames(t *testing.T) {
	for _, tc := range []struct {
		header http.Header
		want   bool
	}{
		{http.Header{"X-Seraph-Trusted-App-Id": {"a"}}, true},
		{http.Header{"X_seraph_trusted_app_cert": {"a"}}, true},
		{http.Header{"x_Seraph-Trusted_App-Signature": {"a"}}, true},
		{http.Header{"Authorization": {"Basic abc"}}, true},
		{http.Header{"Authorization": {"  bAsIc abc"}}, true},
		{http.Header{"Authorization": {"Bearer abc"}}, false},
		{http.Header{"Authorization": {"Basicx abc"}}, false},
		{http.Header{"X-Seraph-Other": {"a"}}, false},
	} {
		if got := LegacyCredential(tc.header) != ""; got != tc.want {
			t.Errorf("%v: legacy=%v, want %v", tc.header, got, tc.want)
		}
		StripLegacyCredentials(tc.header)
		if LegacyCredential(tc.header) != "" {
			t.Errorf("%v: legacy credentials survive stripping", tc.header)
		}
	}
}

func TestRemoveHeaderEverySpelling(t *testing.T) {
	hdr := http.Header{
		"X-Forwarded-User": {"a"}, "X_forwarded_user": {"b"}, "x-FORWARDED_user": {"c"}, "X-Forwarded-Users": {"keep"},
	}
	RemoveHeader(hdr, "X-Forwarded-User")
	if len(hdr) != 1 || hdr.Get("X-Forwarded-Users") != "keep" {
		t.Errorf("after removal: %v", hdr)
	}
}

func TestBlockedPathNormalisation(t *testing.T) {
	for p, want := range map[string]bool{
		"/plugins/servlet/oauth/users/icon-uri":               true,
		"/plugins/servlet/oauth/users/%49con-uri":             true,
		"/plugins/servlet/oauth/users/%2549CON-URI":           true,
		"/ctx/plugins/servlet/oauth/users/icon-uri/x":         true,
		"/plugins/servlet/oauth/users/%252569con-uri":         true,
		"/plugins\\servlet\\oauth\\users\\icon-uri":           true,
		"/plugins/servlet/oauth/users/icon-uri.png":           false,
		"/plugins/servlet/oauth/users/access-tokens":          false,
		"/plugins/servlet/oauth/users/icon-uri-not":           false,
		"/plugins/servlet/oauth/users/./icon-uri;a=b":         true,
		"/plugins/servlet/oauth/x/../../oauth/users/icon-uri": true,
		"/plugins/servlet/oauth/users/../icon-uri":            false,
	} {
		if got := IsBlockedPath(p); got != want {
			t.Errorf("IsBlockedPath(%q) = %v, want %v", p, got, want)
		}
	}
}

// FuzzHeaderNameComparison: the allocation-free comparisons answer as the
// normalised names they avoid building do.
func FuzzHeaderNameComparison(f *testing.F) {
	for _, seed := range []string{"X-Forwarded-User", "x_forwarded_USER", "X-Seraph-Trusted-App-Id",
		"X_SERAPH_TRUSTED_APP_", "Authorization", "Author\u0130zation", "\u212Aey", "X-Seraph-Trusted-App\xff", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		for _, want := range []string{"x-forwarded-user", "authorization", "key", NormalizeHeaderName(name)} {
			if got, exp := NameIs(name, want), NormalizeHeaderName(name) == want; got != exp {
				t.Errorf("NameIs(%q, %q) = %v, want %v", name, want, got, exp)
			}
		}
		if got, exp := IsTrustedAppHeader(name), strings.HasPrefix(NormalizeHeaderName(name), TrustedAppPrefix); got != exp {
			t.Errorf("IsTrustedAppHeader(%q) = %v, want %v", name, got, exp)
		}
	})
}

// FuzzIsBlockedPath: the early answer for paths without the servlet's name
// is the one the full normalisation gives.
func FuzzIsBlockedPath(f *testing.F) {
	for _, seed := range []string{"/plugins/servlet/oauth/users/icon-uri", "/rest/api/2/myself",
		"/plugins/servlet/oauth/users/%252569con-uri", "/plugins\\servlet\\oauth\\users\\icon-uri",
		"/plugins/servlet/oauth/users/icon;x-uri", "/x/../plugins/servlet/oauth/users/ICON-URI;a/"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if got, want := IsBlockedPath(raw), isBlockedPathFully(raw); got != want {
			t.Errorf("IsBlockedPath(%q) = %v, full normalisation says %v", raw, got, want)
		}
	})
}

// isBlockedPathFully is IsBlockedPath normalising every path, without the
// shortcut for paths that do not name the servlet.
func isBlockedPathFully(raw string) bool {
	return strings.Contains(servletPath(decodedLowerPath(raw))+"/", blockedServlet+"/")
}

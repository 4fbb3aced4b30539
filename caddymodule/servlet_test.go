package caddymodule

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// TestTwoLeggedUserIsAUserName: a two_legged user with a space at either
// end is refused at provision: the product's HTTP parser would drop the
// space from the identity header, and run the request as another user than
// the logs and placeholders name.
func TestTwoLeggedUserIsAUserName(t *testing.T) {
	for _, u := range []string{" svc", "svc ", " "} {
		cc := &ConsumerConfig{Key: "k", Secret: "s", TwoLegged: u}
		if _, err := cc.build(caddy.NewReplacer()); err == nil || !strings.Contains(err.Error(), "not a valid user name") {
			t.Errorf("two_legged %q: %v", u, err)
		}
	}
	cc := &ConsumerConfig{Key: "k", Secret: "s", TwoLegged: "svc bot"}
	if _, err := cc.build(caddy.NewReplacer()); err != nil {
		t.Errorf("two_legged with an inner space: %v", err)
	}
}

// TestTomcatForm: the handler signs a form body as Tomcat parses it: the
// exact media type only, POST only.
func TestTomcatForm(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/x-www-form-urlencoded":                true,
		"application/x-www-form-urlencoded; charset=UTF-8": true,
		"Application/X-WWW-Form-Urlencoded":                false,
		"application/x-www-form-urlencodedx":               false,
	} {
		r := httptest.NewRequest("POST", "/", nil)
		r.Header.Set("Content-Type", ct)
		if got := signedForm("POST", tomcatForm(r, "a=1")) != ""; got != want {
			t.Errorf("%q: signed %v", ct, got)
		}
		if signedForm("PUT", tomcatForm(r, "a=1")) != "" {
			t.Errorf("%q: a PUT form is signed", ct)
		}
	}
}

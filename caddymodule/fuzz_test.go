package caddymodule

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// FuzzUnmarshalCaddyfile: whatever the Caddyfile says, parsing the applink
// block never panics, and a block it accepts survives JSON provisioning
// checks of its own values (validated later by Provision).
func FuzzUnmarshalCaddyfile(f *testing.F) {
	for _, seed := range []string{
		"applink {\n base_url https://jira.example.com\n}",
		"applink {\n consumer k {\n  public_key_file a.pem\n  two_legged svc\n  impersonation\n  three_legged off\n }\n legacy_auth strip\n anonymous reject\n}",
		"applink {\n login ldap ldap://h:389 {\n  user_dn uid={user},dc=x\n  starttls\n }\n state file /x { encryption_key k }\n}",
		"applink {\n state redis redis://h:6379/0 { key_prefix p: }\n timestamp_window 2m\n max_form_body 1KB\n}",
		"applink {\n login upstream /rest/api/2/myself https://j/login.jsp?os_destination={return}\n}",
		"applink {\n consumer\n}", "applink x", "applink {\n}\n}", "applink {\n\"unterminated",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input string) {
		if !strings.HasPrefix(input, "applink") {
			input = "applink " + input
		}
		tokens, err := caddyfile.Tokenize([]byte(input), "Caddyfile")
		if err != nil {
			return
		}
		h := new(Handler)
		_ = h.UnmarshalCaddyfile(caddyfile.NewDispenser(tokens))
	})
}

package caddymodule

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// TestImpersonationPolicyEndToEnd: a consumer's `impersonation { }` block,
// through Caddy: the product gets the mapped user, a denied one is refused
// (whatever case and domain it comes in) and never reaches the product.
func TestImpersonationPolicyEndToEnd(t *testing.T) {
	rec := newRecorder(t)
	tester := startProxy(t, rec, `consumer policy:test {
			public_key_file `+consumerKeys().PubFile+`
			impersonation {
				deny admin sysadmin
				map strip_domain lowercase
			}
		}`, "")
	mark := rec.Mark()
	resp, body := do(t, tester, signSpec{Consumer: "policy:test", Target: "/rest/a?xoauth_requestor_id=Alice%40corp.example.com"}.build(t))
	if resp.StatusCode != 200 {
		t.Fatalf("mapped user: %d %s %s", resp.StatusCode, body, resp.Header.Get("WWW-Authenticate"))
	}
	if got := rec.Since(mark); len(got) != 1 || got[0].Header.Get("X-Forwarded-User") != "alice" {
		t.Errorf("the product got %+v; want one request as alice", got)
	}
	mark = rec.Mark()
	for _, u := range []string{"admin", "ADMIN%40corp.example.com", "SysAdmin"} {
		resp, _ := do(t, tester, signSpec{Consumer: "policy:test", Target: "/rest/a?xoauth_requestor_id=" + u}.build(t))
		if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `oauth_problem="permission_denied"`) {
			t.Errorf("%s: %d %s; want 401 permission_denied", u, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	if n := len(rec.Since(mark)); n != 0 {
		t.Errorf("denied users reached the product %d times", n)
	}
}

func TestImpersonationBlockParses(t *testing.T) {
	testCaddyfileErrors(t, func() caddyfile.Unmarshaler { return new(Handler) }, []caddyfileError{
		{"applink {\n base_url https://x\n consumer k {\n  secret s\n  impersonation {\n   deny\n  }\n }\n}", "needs at least one argument"},
		{"applink {\n base_url https://x\n consumer k {\n  secret s\n  impersonation {\n   map upper\n  }\n }\n}", `impersonation map "upper"`},
		{"applink {\n base_url https://x\n consumer k {\n  secret s\n  impersonation {\n   ldapx\n  }\n }\n}", "unknown impersonation subdirective"},
		{"applink {\n base_url https://x\n consumer k {\n  secret s\n  impersonation {\n   ldap {\n    bind_dn cn=x\n   }\n  }\n }\n}", "directory settings need the directory's URL"},
		{"applink {\n base_url https://x\n consumer k {\n  secret s\n  impersonation {\n   ldap\n   ldap\n  }\n }\n}", "given twice"},
		{"applink {\n base_url https://x\n consumer k {\n  secret s\n  impersonation {\n   ldap {\n    cache soon\n   }\n  }\n }\n}", "cache"},
	})
	var h Handler
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("applink {\n base_url https://x\n consumer k {\n  secret s\n  impersonation {\n   deny admin root\n   allow alice bob\n   map strip_domain lowercase\n  }\n }\n}")); err != nil {
		t.Fatal(err)
	}
	own := "applink {\n base_url https://x\n consumer k {\n  secret s\n  impersonation {\n   ldap ldaps://dir.example.com {\n    search_base dc=example,dc=com\n    search_filter (uid={user})\n    bind_dn cn=proxy,dc=example,dc=com\n    bind_password {env.DIR_PW}\n    cache 1m\n    disabled_filter (employeeType=left)\n   }\n  }\n }\n}"
	var o Handler
	if err := o.UnmarshalCaddyfile(caddyfile.NewTestDispenser(own)); err != nil {
		t.Fatal(err)
	}
	l := o.Consumers[0].ImpersonationPolicy.LDAP
	if l == nil || l.Directory == nil || *l.Directory != (LDAPConfig{URL: "ldaps://dir.example.com", SearchBase: "dc=example,dc=com", SearchFilter: "(uid={user})",
		BindDN: "cn=proxy,dc=example,dc=com", BindPassword: "{env.DIR_PW}"}) || l.Cache != caddy.Duration(time.Minute) || l.DisabledFilter != "(employeeType=left)" {
		t.Errorf("ldap with a directory of its own parsed as %+v", l)
	}
	// Bare ldap without login ldap: a provision error that says what to do.
	o = Handler{BaseURL: "https://x", Consumers: []*ConsumerConfig{{Key: "k", Secret: "s", ImpersonationPolicy: &ImpersonationConfig{LDAP: &ImpersonationLDAPConfig{}}}}}
	if err := provision(&o); err == nil || !strings.Contains(err.Error(), `consumer "k": impersonation ldap: it asks login ldap's directory, and this handler has no login ldap`) {
		t.Errorf("bare ldap without login ldap: %v", err)
	}
	o.Cleanup()

	p := h.Consumers[0].ImpersonationPolicy
	if !h.Consumers[0].Impersonation || p == nil || strings.Join(p.Deny, ",") != "admin,root" || strings.Join(p.Allow, ",") != "alice,bob" || strings.Join(p.Map, ",") != "strip_domain,lowercase" {
		t.Errorf("parsed %+v %+v", h.Consumers[0], p)
	}
}

// TestVerifiedMatcher: after applink, `applink_verified` matches what it
// verified, by consumer if asked, and nothing else: unsigned requests go
// the other way, and a forged one never gets past applink.
func TestVerifiedMatcher(t *testing.T) {
	rec := newRecorder(t)
	tester := startProxy(t, rec, "", `@browsers not applink_verified
	respond @browsers "to sso" 403
	@confluence applink_verified `+noImpKey+`
	respond @confluence "{http.vars.applink.verified_consumer}" 418`)
	mark := rec.Mark()
	if resp, body := do(t, tester, signSpec{}.build(t)); resp.StatusCode != 200 {
		t.Errorf("signed by %s: %d %s", rsaKey, resp.StatusCode, body)
	}
	if n := len(rec.Since(mark)); n != 1 {
		t.Errorf("the product got %d requests, want the signed one", n)
	}
	if resp, body := do(t, tester, signSpec{Consumer: noImpKey}.build(t)); resp.StatusCode != 418 || body != noImpKey {
		t.Errorf("signed by %s: %d %q; want the consumer's route, its variable the consumer key (never the consumer's fields)", noImpKey, resp.StatusCode, body)
	}
	req, _ := http.NewRequest("GET", proxyBase+"/rest/api/2/myself", nil)
	if resp, body := do(t, tester, req); resp.StatusCode != 403 || body != "to sso" {
		t.Errorf("unsigned: %d %q; want the SSO route", resp.StatusCode, body)
	}
	forged := signSpec{}.build(t)
	forged.Header.Set("Authorization", strings.Replace(forged.Header.Get("Authorization"), `oauth_signature="`, `oauth_signature="AAAA`, 1))
	if resp, _ := do(t, tester, forged); resp.StatusCode != 401 || problemOf(resp) != "signature_invalid" {
		t.Errorf("forged: %d %s; want applink's 401 signature_invalid, never the SSO route", resp.StatusCode, problemOf(resp))
	}
	if n := len(rec.Since(mark)); n != 1 {
		t.Errorf("the product got %d requests, want 1", n)
	}
}

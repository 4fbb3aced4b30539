//go:build linux

package main

import (
	"context"
	"io"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	dghubble "github.com/dghubble/oauth1"

	"github.com/caddy-applink/caddy-applink/internal/testslapd"
)

// ldapPolicyCaddyfile: a consumer that impersonates only users the
// `login ldap` directory knows and has not disabled (the last %s is the
// directory's URL).
var ldapPolicyCaddyfile = `{
	admin {{admin}}
	auto_https off
}

{{base}} {
	applink {
		base_url {{base}}
		state file %s
		consumer demo:applink {
			public_key_file %s
			two_legged svc-demo
			impersonation {
				deny admin
				map strip_domain lowercase
				ldap {
					cache 1s
				}
			}
		}
		login ldap %s {
			user_dn uid={user},ou=people,` + testslapd.BaseDN + `
			bind_dn cn=reader,` + testslapd.BaseDN + `
			bind_password reader-secret
		}
	}
	reverse_proxy {{upstream}}
}
` + productStandIn

// TestImpersonationNeedsDirectoryUser drives `impersonation { ldap }`
// through the real binary and a real slapd: an existing user is
// impersonated (as mapped), a missing, a locked and a denied one are
// refused with the rule named; with the directory down, impersonation of
// a user it has not answered for is 503 while plain 2LO is unaffected.
func TestImpersonationNeedsDirectoryUser(t *testing.T) {
	if err := testslapd.Available(); err != nil {
		testslapd.Missing(t, err)
	}
	slapd, err := testslapd.Start(testslapd.Options{
		PasswordPolicy: true,
		Users: []testslapd.User{
			{UID: "alice", OU: "people", Password: "alice-pw"},
			{UID: "bob", OU: "people", Password: "bob-pw"},
			{UID: "carol", OU: "people", Password: "carol-pw", Locked: true},
		},
		Entries: []testslapd.Entry{{DN: "cn=reader," + testslapd.BaseDN, Attrs: map[string][]string{
			"objectClass": {"organizationalRole", "simpleSecurityObject"}, "cn": {"reader"},
			"userPassword": {testslapd.SSHA("reader-secret")},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer slapd.Stop()

	f := newStateFixture(t, ldapPolicyCaddyfile)
	f.writeConfig(slapd.URL)
	_, logs := launchApplink(t, f.bin, f.dir, f.dir, f.cfgFile, f.base+"/")
	time.Sleep(1100 * time.Millisecond)
	client := (&dghubble.Config{ConsumerKey: "demo:applink", Signer: &dghubble.RSASigner{PrivateKey: f.key}}).
		Client(context.Background(), dghubble.NewToken("", ""))
	as := func(user string) (int, string, string) {
		t.Helper()
		target := f.base + "/rest/api/2/myself"
		if user != "" {
			target += "?xoauth_requestor_id=" + url.QueryEscape(user)
		}
		resp, err := client.Get(target)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), resp.Header.Get("WWW-Authenticate")
	}

	for requestor, want := range map[string]string{"alice": "user=alice", "Alice@corp.example.com": "user=alice"} {
		if code, body, auth := as(requestor); code != 200 || body != want {
			t.Errorf("%s: %d %q %s; want 200 %q", requestor, code, body, auth, want)
		}
	}
	for requestor, rule := range map[string]string{"nobody": "directory_unknown_user", "carol": "directory_disabled_user", "ADMIN": "deny"} {
		code, _, auth := as(requestor)
		if code != 401 || !strings.Contains(auth, `oauth_problem="permission_denied"`) || !strings.Contains(auth, "rule%20"+rule) {
			t.Errorf("%s: %d %s; want 401 permission_denied naming rule %s", requestor, code, auth, rule)
		}
	}

	slapd.Stop() // the directory goes away
	if code, body, _ := as("bob"); code != 503 || !strings.Contains(body, "user directory unavailable") {
		t.Errorf("bob, directory down: %d %q; want 503", code, body)
	}
	if code, body, _ := as(""); code != 200 || body != "user=svc-demo" {
		t.Errorf("plain 2LO, directory down: %d %q; want 200 as svc-demo", code, body)
	}
	time.Sleep(1100 * time.Millisecond) // alice's answer expires
	if code, _, _ := as("alice"); code != 503 {
		t.Errorf("alice after the cache, directory down: %d; want 503", code)
	}

	metrics := scrapeMetrics(t, f.admin)
	for _, want := range []string{
		`caddy_applink_impersonation_refused_total{consumer="demo:applink",rule="directory_unknown_user"} 1`,
		`caddy_applink_impersonation_refused_total{consumer="demo:applink",rule="directory_disabled_user"} 1`,
		`caddy_applink_impersonation_refused_total{consumer="demo:applink",rule="deny"} 1`,
		`caddy_applink_store_errors_total{store="directory"} 2`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s:\n%s", want, grepLines(metrics, "caddy_applink_"))
		}
	}
	log := logs.String()
	if n := len(regexp.MustCompile(`"msg":"request refused".*"rule":"directory_unknown_user"`).FindAllString(log, -1)); n != 1 {
		t.Errorf("%d refusal log lines name the rule directory_unknown_user, want 1:\n%s", n, grepLines(log, "refused"))
	}
	// The refused users appear in no log line (the handler does not log
	// users unless told to, and a refusal has none).
	for _, user := range []string{"nobody", "carol"} {
		if strings.Contains(log, user) {
			t.Errorf("the log names %s:\n%s", user, grepLines(log, user))
		}
	}
}

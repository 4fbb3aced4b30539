//go:build linux

package login

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestDirectoryCheckUser asks a real slapd, both ways of finding a user:
// an existing user may be impersonated; a missing one, one that is there
// twice, and a locked one may not.
func TestDirectoryCheckUser(t *testing.T) {
	s := needSlapd(t)
	direct := directConfig(t, s)
	direct.BindDN, direct.BindPassword = readerDN, readerPW
	for name, cfg := range map[string]LDAPConfig{"direct": direct, "search": searchConfig(t, s)} {
		t.Run(name, func(t *testing.T) {
			d, err := NewDirectory(mustLDAP(t, cfg), DirectoryConfig{})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{
				"alice":   "",
				"ALICE":   "", // directories compare uid without case, as Jira does user names
				"nobody":  RuleUnknownUser,
				"carol":   RuleDisabledUser,
				"o,brien": "",
				"*":       RuleUnknownUser, // a filter or DN metacharacter is a name, not a wildcard
			}
			if name == "search" {
				want["twin"] = RuleUnknownUser // two entries: not one user
				want["mallory"] = RuleUnknownUser
			}
			for user, rule := range want {
				got, err := d.CheckUser(context.Background(), user)
				if err != nil || got != rule {
					t.Errorf("%s: %q, %v; want %q", user, got, err, rule)
				}
			}
		})
	}
}

// TestDirectoryDisabledFilter: an entry the operator's filter matches is
// disabled.
func TestDirectoryDisabledFilter(t *testing.T) {
	s := needSlapd(t)
	cfg := searchConfig(t, s)
	cfg.SearchFilter = "(&(objectClass=inetOrgPerson)(uid={user}))"
	d, err := NewDirectory(mustLDAP(t, cfg), DirectoryConfig{DisabledFilter: "(employeeType=contractor)"})
	if err != nil {
		t.Fatal(err)
	}
	for user, rule := range map[string]string{"mallory": RuleDisabledUser, "bob": ""} {
		if got, err := d.CheckUser(context.Background(), user); err != nil || got != rule {
			t.Errorf("%s: %q, %v; want %q", user, got, err, rule)
		}
	}
	if _, err := NewDirectory(mustLDAP(t, cfg), DirectoryConfig{DisabledFilter: "employeeType=x)("}); err == nil || !strings.Contains(err.Error(), "disabled filter") {
		t.Errorf("a bad filter: %v", err)
	}
}

// TestDirectoryCacheAndFailure: an answer is kept for TTL; a directory
// that cannot be reached is an error (the caller refuses), never an
// answer, and is not cached.
func TestDirectoryCacheAndFailure(t *testing.T) {
	s := needSlapd(t)
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	down := searchConfig(t, s)
	down.URL = fmt.Sprintf("ldap://127.0.0.1:%d", port) // nothing listens
	d, err := NewDirectory(mustLDAP(t, down), DirectoryConfig{TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if rule, err := d.CheckUser(context.Background(), "alice"); err == nil {
		t.Fatalf("directory down: %q, no error", rule)
	}
	if len(d.cache) != 0 {
		t.Errorf("a failure was cached: %v", d.cache)
	}

	d, err = NewDirectory(mustLDAP(t, searchConfig(t, s)), DirectoryConfig{TTL: time.Minute, MaxEntries: 2})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	d.now = func() time.Time { return now }
	if rule, err := d.CheckUser(context.Background(), "alice"); err != nil || rule != "" {
		t.Fatalf("alice: %q %v", rule, err)
	}
	d.l.cfg.URL = down.URL // the directory goes away
	if rule, err := d.CheckUser(context.Background(), "alice"); err != nil || rule != "" {
		t.Errorf("within the TTL: %q %v; want the cached answer", rule, err)
	}
	now = now.Add(time.Minute)
	if rule, err := d.CheckUser(context.Background(), "alice"); err == nil {
		t.Errorf("after the TTL, directory down: %q, no error", rule)
	}
	// The cache stays within MaxEntries.
	d.l.cfg.URL = s.url
	for _, u := range []string{"alice", "bob", "nobody", "carol"} {
		if _, err := d.CheckUser(context.Background(), u); err != nil {
			t.Fatal(err)
		}
	}
	if len(d.cache) > 2 {
		t.Errorf("%d cached answers, want at most 2", len(d.cache))
	}
}

func TestDirectoryNeedsBindAccount(t *testing.T) {
	s := needSlapd(t)
	if _, err := NewDirectory(mustLDAP(t, directConfig(t, s)), DirectoryConfig{}); err == nil || !strings.Contains(err.Error(), "bind_dn") {
		t.Errorf("without a bind account: %v", err)
	}
	if _, err := NewLDAPDirectory(LDAPConfig{URL: "http://x", SearchBase: testSuffix, SearchFilter: "(uid={user})", BindDN: readerDN, BindPassword: readerPW}, DirectoryConfig{}); err == nil {
		t.Error("an http:// directory URL was taken")
	}
	d, err := NewLDAPDirectory(LDAPConfig{URL: s.url, SearchBase: testSuffix, SearchFilter: "(uid={user})", BindDN: readerDN, BindPassword: readerPW, Timeout: 3 * time.Second}, DirectoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if rule, err := d.CheckUser(context.Background(), "bob"); err != nil || rule != "" {
		t.Errorf("a directory of its own: %q %v", rule, err)
	}
}

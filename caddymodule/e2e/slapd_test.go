//go:build linux

package e2e

import (
	"sort"
	"testing"

	"github.com/caddy-applink/caddy-applink/internal/testslapd"
)

// A real OpenLDAP slapd (Debian's slapd package, via internal/testslapd,
// which internal/login's tests share), started once for the package on
// a free 127.0.0.1 port, and stopped (its whole process group) by TestMain.

// The template of `login ldap { user_dn ... }`.
const ldapUserDN = "uid={user},ou=people," + testslapd.BaseDN

// ldapUsers: uid → password, all under ou=people.
var ldapUsers = map[string]string{
	"alice": "alice-pw",
	"bob":   "bob-pw",
}

type slapd struct {
	url string // ldap://127.0.0.1:port
}

// slapdSrv is the package's one slapd; TestMain stops it.
var slapdSrv = &testslapd.Shared{Options: testslapd.Options{Users: ldapPeople()}}

func ldapPeople() []testslapd.User {
	var users []testslapd.User
	for uid, pw := range ldapUsers {
		users = append(users, testslapd.User{UID: uid, OU: "people", Password: pw})
	}
	sort.Slice(users, func(i, j int) bool { return users[i].UID < users[j].UID })
	return users
}

// needSlapd returns the running slapd, starting it on first use; it skips
// (or fails under APPLINK_REQUIRE_INTEROP=1) without Debian's slapd.
func needSlapd(t *testing.T) *slapd {
	t.Helper()
	return &slapd{url: slapdSrv.Need(t).URL}
}

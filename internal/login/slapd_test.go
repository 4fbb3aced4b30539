//go:build linux

package login

import (
	"crypto/x509"
	"os"
	"testing"

	"github.com/caddy-applink/caddy-applink/internal/testproc"
	"github.com/caddy-applink/caddy-applink/internal/testslapd"
	"github.com/go-ldap/ldap/v3"
)

// A real OpenLDAP slapd (Debian's slapd package, via internal/testslapd),
// started once for the package's tests on free 127.0.0.1 ports (ldap://
// with StartTLS, and ldaps://), and stopped (its whole process group) by
// TestMain. Without slapd the LDAP tests skip, unless
// APPLINK_REQUIRE_INTEROP=1 makes that a failure.

const (
	testSuffix = testslapd.BaseDN
	readerDN   = "cn=reader,dc=example,dc=org"
	readerPW   = "reader-secret"
	peopleDN   = "ou=people,dc=example,dc=org"
)

// testUsers: employeeType "jira" marks who the search filter admits;
// mallory is not admitted, carol is locked (OpenLDAP's password policy), "o,brien" needs DN escaping, and twin exists
// twice (ou=people and ou=staff).
var testUsers = []testslapd.User{
	{OU: "people", UID: "alice", Password: "alice-pw", EmployeeType: "jira"},
	{OU: "people", UID: "bob", Password: "bob-pw", EmployeeType: "jira"},
	{OU: "people", UID: "mallory", Password: "mallory-pw", EmployeeType: "contractor"},
	{OU: "people", UID: "o,brien", Password: "obrien-pw", EmployeeType: "jira"},
	{OU: "people", UID: "twin", Password: "twin-pw", EmployeeType: "jira"},
	{OU: "staff", UID: "twin", Password: "twin-pw", EmployeeType: "jira"},
	{OU: "people", UID: "carol", Password: "carol-pw", EmployeeType: "jira", Locked: true},
}

var sharedSlapd = testslapd.Shared{Options: testslapd.Options{
	Users: testUsers,
	Entries: []testslapd.Entry{{DN: readerDN, Attrs: map[string][]string{
		"objectClass":  {"organizationalRole", "simpleSecurityObject"},
		"cn":           {"reader"},
		"userPassword": {testslapd.SSHA(readerPW)},
	}}},
	TLS: true,
	// "allow bind_anon_dn" is deliberate: it makes slapd accept an
	// unauthenticated bind (a DN with an empty password) as anonymous,
	// as many directories do, so the empty-password test is meaningful.
	AllowBindAnonDN: true,
	PasswordPolicy:  true, // carol is locked
}}

type slapd struct {
	url string // ldap://, StartTLS offered
	tls string // ldaps://
	ca  *x509.CertPool
}

func TestMain(m *testing.M) {
	code := m.Run()
	sharedSlapd.Stop()
	os.Exit(code)
}

// needSlapd returns the running slapd, starting it on first use.
func needSlapd(t *testing.T) *slapd {
	t.Helper()
	s := sharedSlapd.Need(t)
	return &slapd{url: s.URL, tls: s.LDAPSURL, ca: s.CertPool}
}

// freePort returns a TCP port free on 127.0.0.1 right now.
func freePort() (int, error) { return testproc.FreePort() }

func userDN(ou, uid string) string { return testslapd.UserDN(ou, uid) }

// TestSlapdHarness checks the harness itself: the entries are there, the
// passwords are checked, and the unauthenticated-bind trap is armed.
func TestSlapdHarness(t *testing.T) {
	s := needSlapd(t)
	conn, err := ldap.DialURL(s.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Bind(userDN("people", "alice"), "alice-pw"); err != nil {
		t.Fatalf("alice's bind: %v", err)
	}
	if err := conn.Bind(userDN("people", "alice"), "wrong"); !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		t.Fatalf("wrong password: %v, want invalidCredentials", err)
	}
	// The trap: a DN with an empty password is "logged in" as anonymous.
	if err := conn.UnauthenticatedBind(userDN("people", "alice")); err != nil {
		t.Fatalf("this slapd should accept an unauthenticated bind (allow bind_anon_dn): %v", err)
	}
	if err := conn.Bind(readerDN, readerPW); err != nil {
		t.Fatal(err)
	}
	res, err := conn.Search(ldap.NewSearchRequest(testSuffix, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=inetOrgPerson)", []string{"uid"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != len(testUsers) {
		t.Fatalf("%d users in the directory, want %d", len(res.Entries), len(testUsers))
	}
}

package login

import (
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

var injectionNames = []string{
	"alice", "o,brien", "alice,ou=people", "alice+uid=bob", "uid=alice,dc=x", `a"b`, "a;b", "<a>", `a\b`,
	`a\2cb`, "#alice", " alice", "alice ", "a=b", "a\x00b", "a\nb", "*", "*)(uid=*", "alice)(|(uid=*",
	"Zoë", "日本", "a)(", `\`, "(", ")",
}

// TestEscapeDNValue: the escaped name parses back, by go-ldap's RFC 4514
// parser, as one RDN with one value equal to the name.
func TestEscapeDNValue(t *testing.T) {
	cases := map[string]string{
		"alice":           "alice",
		"o,brien":         `o\,brien`,
		"alice+uid=bob":   `alice\+uid\=bob`,
		`a"b;c<d>e\f`:     `a\"b\;c\<d\>e\\f`,
		"#a#":             `\#a#`,
		" a b ":           `\ a b\ `,
		"a\x00b":          `a\00b`,
		"Zoë":             "Zoë",
		"alice,ou=people": `alice\,ou\=people`,
	}
	for in, want := range cases {
		if got := escapeDNValue(in); got != want {
			t.Errorf("escapeDNValue(%q) = %q, want %q", in, got, want)
		}
	}
	for _, name := range injectionNames {
		dn, err := ldap.ParseDN("uid=" + escapeDNValue(name) + ",ou=people,dc=example,dc=org")
		if err != nil {
			t.Errorf("%q: %v", name, err)
			continue
		}
		if len(dn.RDNs) != 4 || len(dn.RDNs[0].Attributes) != 1 || dn.RDNs[0].Attributes[0].Value != name {
			t.Errorf("%q parsed as %v", name, dn)
		}
	}
}

// TestEscapeFilterValue: the escaped name compiles to one equality match
// whose value is the name, with no wildcard and no other component.
func TestEscapeFilterValue(t *testing.T) {
	if got := escapeFilterValue("*)(uid=*"); got != `\2a\29\28uid=\2a` {
		t.Fatalf("got %q", got)
	}
	for _, name := range injectionNames {
		p, err := ldap.CompileFilter("(&(objectClass=person)(uid=" + escapeFilterValue(name) + "))")
		if err != nil {
			t.Errorf("%q: %v", name, err)
			continue
		}
		if len(p.Children) != 2 || p.Children[1].Tag != ldap.FilterEqualityMatch {
			t.Errorf("%q compiles to %d components, second tag %v", name, len(p.Children), p.Children[1].Tag)
			continue
		}
		eq := p.Children[1]
		if v := eq.Children[1].Data.String(); v != name {
			t.Errorf("%q compiles to value %q", name, v)
		}
	}
	if strings.ContainsAny(escapeFilterValue("a*b(c)d\\e\x00"), "*()\x00") {
		t.Fatal("special left unescaped")
	}
}

func FuzzEscapeDNValue(f *testing.F) {
	for _, s := range injectionNames {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if !validUser(name) {
			return
		}
		dn, err := ldap.ParseDN("uid=" + escapeDNValue(name) + ",dc=example,dc=org")
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		if len(dn.RDNs) != 3 || len(dn.RDNs[0].Attributes) != 1 || dn.RDNs[0].Attributes[0].Value != name {
			t.Fatalf("%q parsed as %v", name, dn)
		}
		p, err := ldap.CompileFilter("(uid=" + escapeFilterValue(name) + ")")
		if err != nil || p.Tag != ldap.FilterEqualityMatch || p.Children[1].Data.String() != name {
			t.Fatalf("filter for %q: %v", name, err)
		}
	})
}

func TestFailureLimiter(t *testing.T) {
	l := newFailureLimiter(2, time.Minute, 3)
	now := time.Unix(1_800_000_000, 0)
	l.now = func() time.Time { return now }
	l.fail("a")
	if b, _ := l.blocked("a"); b {
		t.Fatal("blocked after 1 of 2")
	}
	l.fail("a")
	if b, until := l.blocked("a"); !b || !until.Equal(now.Add(time.Minute)) {
		t.Fatalf("not blocked after 2: %v %v", b, until)
	}
	l.succeed("a")
	if b, _ := l.blocked("a"); b {
		t.Fatal("blocked after success")
	}
	l.fail("a")
	l.fail("a")
	now = now.Add(time.Minute)
	if b, _ := l.blocked("a"); b {
		t.Fatal("blocked after the window")
	}
	// Bounded table.
	for _, k := range []string{"k1", "k2", "k3", "k4", "k5"} {
		l.fail(k)
	}
	if len(l.keys) > 3 {
		t.Fatalf("%d keys, cap 3", len(l.keys))
	}
}

package oauth1

import (
	"context"
	"testing"
)

func TestImpersonationPolicyApply(t *testing.T) {
	p := &ImpersonationPolicy{Deny: []string{"admin", "sysadmin"}, StripDomain: true, Lowercase: true}
	for in, want := range map[string]string{
		"alice": "alice", "Alice@corp.example.com": "alice", "BOB": "bob",
		"admin": "", "ADMIN@corp": "", "SysAdmin": "", "@corp": "@corp", "": "",
	} {
		got, refused := p.Apply(in)
		if got != want || (want == "") != (refused != "") {
			t.Errorf("Apply(%q) = %q, %q; want %q", in, got, refused, want)
		}
	}
	allow := &ImpersonationPolicy{Allow: []string{"alice"}}
	if u, r := allow.Apply("alice"); u != "alice" || r != "" {
		t.Errorf("allowed user: %q %q", u, r)
	}
	if u, r := allow.Apply("Alice"); u != "" || r == "" {
		t.Errorf("an allow list without lowercase is exact: %q %q", u, r)
	}
}

// TestVerifyImpersonationPolicy: the verifier runs the request as the
// mapped user, and refuses a denied one with permission_denied.
func TestVerifyImpersonationPolicy(t *testing.T) {
	v, _ := newTestVerifier(t)
	c := v.Consumers("jira:rsa")
	c.Policy = &ImpersonationPolicy{Deny: []string{"admin"}, StripDomain: true, Lowercase: true}
	defer func() { c.Policy = nil }()
	res, p := v.Verify(context.Background(), sign(t, spec{query: "xoauth_requestor_id=Alice%40corp.example.com"}))
	if p != nil || res.Mode != ModeImpersonation || res.User != "alice" {
		t.Fatalf("mapped user: %+v %v; want alice", res, p)
	}
	res, p = v.Verify(context.Background(), sign(t, spec{query: "xoauth_requestor_id=ADMIN%40corp"}))
	checkRefusal(t, res, p, refusal{PermissionDenied, 401, nil})
}

package oauth1

import (
	"slices"
	"strings"
)

// ImpersonationPolicy narrows whom a consumer with Impersonation may act
// as. The requested user is mapped first (as header-SSO apps map names),
// then checked: a denied user is never impersonated; with an allow list,
// only the users on it are.
type ImpersonationPolicy struct {
	Deny        []string
	Allow       []string // empty: everyone not denied
	StripDomain bool     // "alice@example.com" is "alice"
	Lowercase   bool     // "Alice" is "alice"
}

// Apply maps user and reports why it may not be impersonated ("" if it
// may). Deny and Allow are compared with the mapped name, so that
// "ADMIN@corp" cannot slip past "deny admin".
func (p *ImpersonationPolicy) Apply(user string) (mapped, refused string) {
	mapped = user
	if p.StripDomain {
		if i := strings.IndexByte(mapped, '@'); i > 0 {
			mapped = mapped[:i]
		}
	}
	if p.Lowercase {
		mapped = strings.ToLower(mapped)
	}
	switch {
	case mapped == "":
		return "", "the mapped user name is empty"
	case slices.Contains(p.Deny, mapped):
		return "", "the user is on the consumer's deny list"
	case len(p.Allow) > 0 && !slices.Contains(p.Allow, mapped):
		return "", "the user is not on the consumer's allow list"
	}
	return mapped, ""
}

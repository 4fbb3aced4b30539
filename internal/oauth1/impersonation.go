package oauth1

import (
	"context"
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
	// Directory, if set, must know the mapped user, as one that may log
	// in; asked only for a verified request the lists allow.
	Directory UserDirectory
}

// UserDirectory says whether a user exists and may log in.
type UserDirectory interface {
	// CheckUser returns the rule that refuses user ("" if none does), or
	// an error when the directory cannot answer: the request is then
	// refused as unavailable, never let through.
	CheckUser(ctx context.Context, user string) (rule string, err error)
}

// The rules of an ImpersonationPolicy, as its refusals name them (in the
// log, the advice and the refusal metric).
const (
	RuleEmptyName = "empty_name"
	RuleDeny      = "deny"
	RuleAllow     = "allow"
	// A UserDirectory's: no entry (or several) for the name; an entry
	// that is locked or disabled.
	RuleUnknownUser  = "directory_unknown_user"
	RuleDisabledUser = "directory_disabled_user"
)

// RuleAdvice says, for the client, what a rule refused.
func RuleAdvice(rule string) string {
	switch rule {
	case RuleEmptyName:
		return "the mapped user name is empty"
	case RuleDeny:
		return "the user is on the consumer's deny list"
	case RuleAllow:
		return "the user is not on the consumer's allow list"
	case RuleUnknownUser:
		return "the user is not in the directory"
	case RuleDisabledUser:
		return "the user is disabled in the directory"
	}
	return "the consumer's impersonation policy refuses the user"
}

// Apply maps user and returns the rule that refuses it ("" if none of
// the lists does; Directory is not asked here). Deny and Allow are
// compared with the mapped name, so that "ADMIN@corp" cannot slip past
// "deny admin".
func (p *ImpersonationPolicy) Apply(user string) (mapped, rule string) {
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
		return "", RuleEmptyName
	case slices.Contains(p.Deny, mapped):
		return "", RuleDeny
	case len(p.Allow) > 0 && !slices.Contains(p.Allow, mapped):
		return "", RuleAllow
	}
	return mapped, ""
}

// check applies the policy to a verified request's requestor, asking the
// directory last: the mapped user, or the refusal.
func (p *ImpersonationPolicy) check(ctx context.Context, requestor string) (string, *Problem) {
	user, rule := p.Apply(requestor)
	if rule == "" && p.Directory != nil {
		var err error
		if rule, err = p.Directory.CheckUser(ctx, user); err != nil {
			return "", &Problem{Unavailable: true, Store: "directory",
				Reason: "impersonation policy: the user directory did not answer: " + err.Error()}
		}
	}
	if rule != "" {
		return "", &Problem{Code: PermissionDenied, Rule: rule,
			Advice: "this consumer may not impersonate this user: " + RuleAdvice(rule) + " (rule " + rule + ")",
			Reason: "impersonation refused by the consumer's policy, rule " + rule}
	}
	return user, nil
}

package consumer

import (
	"strings"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
)

// RemoteProblem is an OAuth refusal as a remote application reports it, in
// a WWW-Authenticate header (OAuth Problem Reporting extension, as net.oauth
// and so Atlassian send it).
type RemoteProblem struct {
	Realm   string
	Problem string         // oauth_problem; "" for a bare OAuth challenge
	Params  []oauth1.Param // every parameter of the challenge, decoded
}

// Get returns the first value of an oauth_* parameter of the challenge.
func (p RemoteProblem) Get(key string) string {
	for _, kv := range p.Params {
		if kv.Key == key {
			return kv.Value
		}
	}
	return ""
}

// RemoteRefusedHeader names, on an OAuth refusal that a gateway (the
// applink transport) passes back to its caller, the remote behind it that
// refused the gateway's own signed request, the nearest hop first: the
// caller's signature was accepted, and the fault is in the gateway's link.
const RemoteRefusedHeader = "X-Applink-Remote-Refused"

// VerifierHeader marks an OAuth refusal that caddy-applink's applink
// handler made itself (value "caddy-applink"): the caller's diagnosis then
// looks at the proxy's consumer blocks, not at the product's links.
const VerifierHeader = "X-Applink-Verifier"

// ParseProblem reads the OAuth challenges among the WWW-Authenticate values
// of a response. It prefers one with an oauth_problem; ok is false when no
// value is an OAuth challenge at all. Atlassian may send two challenges on
// one refusal: a bare `OAuth realm="..."` and one with the problem.
func ParseProblem(values []string) (p RemoteProblem, ok bool) {
	for _, v := range values {
		for _, challenge := range splitChallenges(v) {
			if !oauth1.IsOAuthScheme(challenge) {
				continue
			}
			realm, params, err := oauth1.ParseAuthorizationHeader(challenge)
			if err != nil {
				continue
			}
			c := RemoteProblem{Realm: realm, Params: params}
			c.Problem = c.Get("oauth_problem")
			if !ok || p.Problem == "" && c.Problem != "" {
				p, ok = c, true
			}
		}
	}
	return p, ok
}

// splitChallenges separates the challenges of a WWW-Authenticate value that
// a server or proxy folded into one line ("OAuth realm=\"x\", Basic
// realm=\"y\""). A new challenge starts at a comma followed by a token that
// is not followed by "=".
func splitChallenges(v string) []string {
	var out []string
	start := 0
	inQuote := false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"':
			inQuote = !inQuote
		case c == ',' && !inQuote:
			rest := strings.TrimLeft(v[i+1:], " \t")
			tok := rest
			if j := strings.IndexAny(rest, " \t=,"); j >= 0 {
				tok = rest[:j]
			}
			after := strings.TrimLeft(rest[len(tok):], " \t")
			if tok != "" && !strings.HasPrefix(after, "=") {
				out = append(out, strings.TrimSpace(v[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(v[start:]))
}

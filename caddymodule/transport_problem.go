package caddymodule

import (
	"github.com/caddy-applink/caddy-applink/internal/oauth1"
)

// knownProblems are the oauth_problem values of net.oauth's table
// (docs/protocol.md). Anything else is counted as "other", so that
// a remote cannot grow the metric's label set.
var knownProblems = map[string]bool{
	oauth1.VersionRejected:              true,
	oauth1.ParameterAbsent:              true,
	oauth1.ParameterRejected:            true,
	oauth1.TimestampRefused:             true,
	oauth1.SignatureMethodRejected:      true,
	oauth1.NonceUsed:                    true,
	oauth1.TokenUsed:                    true,
	oauth1.TokenExpired:                 true,
	oauth1.TokenRevoked:                 true,
	oauth1.TokenRejected:                true,
	"token_not_authorized":              true,
	oauth1.SignatureInvalid:             true,
	oauth1.ConsumerKeyUnknown:           true,
	oauth1.ConsumerKeyRejected:          true,
	"additional_authorization_required": true,
	oauth1.PermissionUnknown:            true,
	oauth1.PermissionDenied:             true,
	"user_refused":                      true,
	"consumer_key_refused":              true,
}

// problemLabel is the metric label for a problem code.
func problemLabel(problem string) string {
	switch {
	case problem == "":
		return "unspecified"
	case knownProblems[problem]:
		return problem
	}
	return "other"
}

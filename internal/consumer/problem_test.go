package consumer

import "testing"

func TestParseProblem(t *testing.T) {
	for _, tc := range []struct {
		values      []string
		ok          bool
		problem     string
		param, want string
	}{
		{nil, false, "", "", ""},
		{[]string{`Basic realm="x"`}, false, "", "", ""},
		{[]string{`OAuth realm="http%3A%2F%2Fjira"`}, true, "", "", ""},
		{[]string{`OAuth realm="x"`, `OAuth realm="x", oauth_problem="signature_invalid", oauth_signature_base_string="GET%26a"`},
			true, "signature_invalid", "oauth_signature_base_string", "GET&a"},
		{[]string{`OAuth realm="x", oauth_problem="timestamp_refused", oauth_acceptable_timestamps="1-2"`, `OAuth realm="x"`},
			true, "timestamp_refused", "oauth_acceptable_timestamps", "1-2"},
		{[]string{`Basic realm="a, b", OAuth realm="x", oauth_problem="nonce_used"`}, true, "nonce_used", "", ""},
		{[]string{`OAuth realm="x", oauth_problem="permission_denied", oauth_problem_advice="2-legged%20OAuth%20is%20off", Basic realm="y"`},
			true, "permission_denied", "oauth_problem_advice", "2-legged OAuth is off"},
		{[]string{`oauth realm="x", oauth_problem="token_rejected"`}, true, "token_rejected", "", ""},
		{[]string{`OAuth garbage`}, false, "", "", ""},
	} {
		p, ok := ParseProblem(tc.values)
		if ok != tc.ok || p.Problem != tc.problem || tc.param != "" && p.Get(tc.param) != tc.want {
			t.Errorf("%q: %+v %v", tc.values, p, ok)
		}
	}
}

package oauth1

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func TestStatusOf(t *testing.T) {
	// net.oauth's table (TO_HTTP_CODE), as docs/protocol.md gives it.
	tests := []struct {
		code string
		want int
	}{
		{"version_rejected", 400},
		{"parameter_absent", 400},
		{"parameter_rejected", 400},
		{"timestamp_refused", 400},
		{"signature_method_rejected", 400},
		{"nonce_used", 401},
		{"token_used", 401},
		{"token_expired", 401},
		{"token_revoked", 401},
		{"token_rejected", 401},
		{"token_not_authorized", 401},
		{"signature_invalid", 401},
		{"consumer_key_unknown", 401},
		{"consumer_key_rejected", 401},
		{"additional_authorization_required", 401},
		{"permission_unknown", 401},
		{"permission_denied", 401},
		{"user_refused", 503},
		{"consumer_key_refused", 503},
		{"No user associated with the token", 403},
		{"", 403},
		{"SIGNATURE_INVALID", 403},
	}
	for _, tt := range tests {
		if got := StatusOf(tt.code); got != tt.want {
			t.Errorf("StatusOf(%q) = %d, want %d", tt.code, got, tt.want)
		}
	}
	// The exported constants are spelled as the table spells them.
	for c, want := range map[string]string{
		VersionRejected: "version_rejected", ParameterAbsent: "parameter_absent",
		ParameterRejected: "parameter_rejected", TimestampRefused: "timestamp_refused",
		NonceUsed: "nonce_used", SignatureMethodRejected: "signature_method_rejected",
		SignatureInvalid: "signature_invalid", ConsumerKeyUnknown: "consumer_key_unknown",
		ConsumerKeyRejected: "consumer_key_rejected", TokenUsed: "token_used",
		TokenExpired: "token_expired", TokenRevoked: "token_revoked", TokenRejected: "token_rejected",
		PermissionUnknown: "permission_unknown", PermissionDenied: "permission_denied",
	} {
		if c != want {
			t.Errorf("constant %q, want %q", c, want)
		}
	}
}

func TestProblemHTTPStatus(t *testing.T) {
	tests := []struct {
		name string
		p    Problem
		want int
	}{
		{"from code", Problem{Code: TimestampRefused}, 400},
		{"explicit status wins", Problem{Code: SignatureInvalid, Status: 418}, 418},
		{"unavailable wins", Problem{Code: SignatureInvalid, Status: 418, Unavailable: true}, 503},
		{"unknown code", Problem{Code: "weird"}, 403},
	}
	for _, tt := range tests {
		if got := tt.p.HTTPStatus(); got != tt.want {
			t.Errorf("%s: HTTPStatus() = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestProblemError(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{Code: NonceUsed}, "nonce_used"},
		{Problem{Code: NonceUsed, Reason: "replayed nonce"}, "nonce_used: replayed nonce"},
		{Problem{Unavailable: true, Reason: "nonce store: down"}, "unavailable: nonce store: down"},
		{Problem{Unavailable: true}, "unavailable"},
	}
	for _, tt := range tests {
		if got := tt.p.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestProblemRendering(t *testing.T) {
	tests := []struct {
		name   string
		p      *Problem
		realm  string
		header string
		body   string
	}{
		{
			name:   "bare code, realm percent-encoded as Atlassian does",
			p:      &Problem{Code: SignatureInvalid, Reason: "secret base string"},
			realm:  "https://crucible.hotname",
			header: `OAuth realm="https%3A%2F%2Fcrucible.hotname", oauth_problem="signature_invalid"`,
			body:   "oauth_problem=signature_invalid",
		},
		{
			name:   "empty realm",
			p:      &Problem{Code: NonceUsed},
			header: `OAuth realm="", oauth_problem="nonce_used"`,
			body:   "oauth_problem=nonce_used",
		},
		{
			name:   "absent list is &-joined and encoded again",
			p:      problem(ParameterAbsent, "", "x", listParam("oauth_parameters_absent", []string{"oauth_nonce", "oauth_timestamp"})),
			realm:  "https://jira.example.com/jira",
			header: `OAuth realm="https%3A%2F%2Fjira.example.com%2Fjira", oauth_problem="parameter_absent", oauth_parameters_absent="oauth_nonce%26oauth_timestamp"`,
			body:   "oauth_problem=parameter_absent&oauth_parameters_absent=oauth_nonce%26oauth_timestamp",
		},
		{
			name:   "names in the list are encoded first",
			p:      problem(ParameterRejected, "", "", listParam("oauth_parameters_rejected", []string{"a b", "c&d"})),
			realm:  "r",
			header: `OAuth realm="r", oauth_problem="parameter_rejected", oauth_parameters_rejected="a%2520b%26c%2526d"`,
			body:   "oauth_problem=parameter_rejected&oauth_parameters_rejected=a%2520b%26c%2526d",
		},
		{
			name: "params then advice, reason never shown",
			p: &Problem{Code: TimestampRefused, Reason: "internal detail",
				Params: []Param{{"oauth_acceptable_timestamps", "100-700"}},
				Advice: "check the clock"},
			realm:  "https://jira.example.com",
			header: `OAuth realm="https%3A%2F%2Fjira.example.com", oauth_problem="timestamp_refused", oauth_acceptable_timestamps="100-700", oauth_problem_advice="check%20the%20clock"`,
			body:   "oauth_problem=timestamp_refused&oauth_acceptable_timestamps=100-700&oauth_problem_advice=check%20the%20clock",
		},
		{
			name:   "version",
			p:      problem(VersionRejected, "", "", Param{"oauth_acceptable_versions", "1.0-1.0"}),
			realm:  "x",
			header: `OAuth realm="x", oauth_problem="version_rejected", oauth_acceptable_versions="1.0-1.0"`,
			body:   "oauth_problem=version_rejected&oauth_acceptable_versions=1.0-1.0",
		},
		{
			name:   "quotes in advice cannot break the header",
			p:      &Problem{Code: ParameterRejected, Advice: `bad "x", y="z"`},
			realm:  `a"b`,
			header: `OAuth realm="a%22b", oauth_problem="parameter_rejected", oauth_problem_advice="bad%20%22x%22%2C%20y%3D%22z%22"`,
			body:   "oauth_problem=parameter_rejected&oauth_problem_advice=bad%20%22x%22%2C%20y%3D%22z%22",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.WWWAuthenticate(tt.realm); got != tt.header {
				t.Errorf("WWWAuthenticate\n got %s\nwant %s", got, tt.header)
			}
			if got := tt.p.Body(); got != tt.body {
				t.Errorf("Body\n got %s\nwant %s", got, tt.body)
			}
			// The challenge is itself a valid OAuth parameter list, and the
			// body a valid form, carrying the same fields.
			realm, hp, err := ParseAuthorizationHeader(tt.p.WWWAuthenticate(tt.realm))
			if err != nil || realm != tt.realm {
				t.Fatalf("challenge does not parse back: realm %q, %v", realm, err)
			}
			bp, err := ParseForm(tt.p.Body())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(hp, bp) || !reflect.DeepEqual(hp, tt.p.fields()) {
				t.Errorf("header params %q, body params %q, fields %q", hp, bp, tt.p.fields())
			}
		})
	}
}

func TestProblemWrite(t *testing.T) {
	t.Run("refusal", func(t *testing.T) {
		w := httptest.NewRecorder()
		p := problem(ParameterAbsent, "", "reason", listParam("oauth_parameters_absent", []string{"oauth_nonce"}))
		p.Write(w, "https://jira.example.com")
		if w.Code != http.StatusBadRequest {
			t.Errorf("status %d, want 400", w.Code)
		}
		h := w.Header()
		if got, want := h.Get("WWW-Authenticate"), `OAuth realm="https%3A%2F%2Fjira.example.com", oauth_problem="parameter_absent", oauth_parameters_absent="oauth_nonce"`; got != want {
			t.Errorf("WWW-Authenticate %q, want %q", got, want)
		}
		if got := h.Get("Content-Type"); got != "application/x-www-form-urlencoded;charset=UTF-8" {
			t.Errorf("Content-Type %q", got)
		}
		if got := h.Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control %q", got)
		}
		if got := w.Body.String(); got != "oauth_problem=parameter_absent&oauth_parameters_absent=oauth_nonce" {
			t.Errorf("body %q", got)
		}
	})
	t.Run("401", func(t *testing.T) {
		w := httptest.NewRecorder()
		problem(SignatureInvalid, "", "base string GET&...").Write(w, "r")
		if w.Code != 401 || w.Body.String() != "oauth_problem=signature_invalid" {
			t.Errorf("got %d %q", w.Code, w.Body.String())
		}
	})
	t.Run("unavailable", func(t *testing.T) {
		w := httptest.NewRecorder()
		(&Problem{Unavailable: true, Reason: "redis: connection refused"}).Write(w, "https://jira.example.com")
		if w.Code != http.StatusServiceUnavailable {
			t.Errorf("status %d, want 503", w.Code)
		}
		if got := w.Header().Values("WWW-Authenticate"); len(got) != 0 {
			t.Errorf("WWW-Authenticate on a 503: %q", got)
		}
		if w.Header().Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
		if body := w.Body.String(); body == "" || strings.Contains(body, "redis") {
			t.Errorf("body %q must be set and must not leak the reason", body)
		}
	})
}

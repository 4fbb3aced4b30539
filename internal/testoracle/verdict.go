package testoracle

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// Verdict is the oracle's answer to a request: whether oauthlib verified
// it, as what, and what the remote received.
type Verdict struct {
	OK          bool              `json:"ok"`
	Mode        string            `json:"mode"` // 2lo, impersonation, 3lo
	User        string            `json:"user"`
	OAuthParams map[string]string `json:"oauth_params"`
	Reason      string            `json:"reason"`
	BaseString  string            `json:"base_string"`
	Received    struct {
		Method        string   `json:"method"`
		Path          string   `json:"path"`
		Query         string   `json:"query"`
		Body          string   `json:"body"`
		ContentType   string   `json:"content_type"`
		Authorization []string `json:"authorization"`
	} `json:"received"`
}

// ParseVerdict reads the verdict of the oracle's answer resp, whose body
// is body: from the X-Oracle-Verdict header (HEAD answers have no body),
// or else the body.
func ParseVerdict(resp *http.Response, body string) (Verdict, error) {
	raw := resp.Header.Get("X-Oracle-Verdict")
	if raw == "" {
		raw = body
	}
	var v Verdict
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return v, fmt.Errorf("oracle answer %d %q: %w", resp.StatusCode, raw, err)
	}
	return v, nil
}

// CheckReceived fails t unless the remote received the query and the body
// of a request sent to target with body: target's query (plus
// xoauth_requestor_id=user when impersonating) and body as sent, unless
// wantQuery or wantBody, when not nil, say otherwise.
func (v Verdict) CheckReceived(t testing.TB, target, body string, impersonating bool, user string, wantQuery, wantBody *string) {
	t.Helper()
	if wantQuery == nil {
		_, q, _ := strings.Cut(target, "?")
		if impersonating {
			q = strings.TrimPrefix(q+"&xoauth_requestor_id="+user, "&")
		}
		wantQuery = &q
	}
	if v.Received.Query != *wantQuery {
		t.Errorf("remote received query %q, want %q", v.Received.Query, *wantQuery)
	}
	if wantBody == nil {
		wantBody = &body
	}
	if v.Received.Body != *wantBody {
		t.Errorf("remote received body %q, want %q", v.Received.Body, *wantBody)
	}
}

package signer

import (
	"testing"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

// TestSignAsTomcatReads: what is signed is what the remote's Tomcat hands
// net.oauth (the Tomcat oracle of caddymodule/e2e checks the same against
// a real Tomcat).
func TestSignAsTomcatReads(t *testing.T) {
	s := newSigner(t, "https://jira.example.com", fixed)
	tests := []struct {
		name, method, target, ctype, body string
		mode                              Mode
		user                              string
		sentQuery, sentBody               string
		want                              string // the base string's parameters, once decoded
	}{
		{name: "a query pair without a name is not signed", method: "GET", target: "/a?=x&q=1", mode: Mode2LO,
			sentQuery: "=x&q=1", want: "q=1"},
		{name: "a form pair without a name is not signed", method: "POST", target: "/a", ctype: formType, body: "=x&f=1",
			mode: Mode2LO, sentBody: "=x&f=1", want: "f=1"},
		{name: "ISO-8859-1 query and form, signed as their characters", method: "POST", target: "/a?q=%E9",
			ctype: formType + "; charset=ISO-8859-1", body: "f=%FC", mode: Mode2LO,
			sentQuery: "q=%E9", sentBody: "f=%FC", want: "f=%C3%BC&q=%C3%A9"},
		{name: "the impersonated user in the request's ISO-8859-1", method: "GET", target: "/a",
			ctype: "text/plain; charset=iso-8859-1", mode: ModeImpersonation, user: "Jürgen",
			sentQuery: "xoauth_requestor_id=J%FCrgen", want: "xoauth_requestor_id=J%C3%BCrgen"},
		{name: "a form in another case of the media type is not signed", method: "POST", target: "/a",
			ctype: "Application/X-WWW-Form-Urlencoded", body: "f=1&oauth_token=x", mode: Mode2LO, sentBody: "f=1", want: ""},
		{name: "a PUT form is not signed", method: "PUT", target: "/a", ctype: formType, body: "f=1", mode: Mode2LO,
			sentBody: "f=1", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := testkit.NewRequest(t, tt.method, "http://x"+tt.target, tt.ctype, tt.body)
			signed, err := s.SignRequest(req, tt.mode, tt.user, nil)
			if err != nil {
				t.Fatal(err)
			}
			if req.URL.RawQuery != tt.sentQuery {
				t.Errorf("query sent %q, want %q", req.URL.RawQuery, tt.sentQuery)
			}
			if got := readBody(t, req); got != tt.sentBody {
				t.Errorf("body sent %q, want %q", got, tt.sentBody)
			}
			var got []oauth1.Param
			for _, p := range signed.Params {
				if !oauth1.IsOAuthParam(p.Key) {
					got = append(got, p)
				}
			}
			if enc := testkit.EncodeParams(sorted(got)); enc != tt.want {
				t.Errorf("signed %q, want %q", enc, tt.want)
			}
		})
	}
}

// TestSignPathBrackets: "[" and "]" are sent and signed percent-encoded:
// net.oauth's java.net.URI cannot read them raw.
func TestSignPathBrackets(t *testing.T) {
	s := newSigner(t, "https://jira.example.com", fixed)
	req := testkit.NewRequest(t, "GET", "http://x/a[1]/b", "", "")
	signed, err := s.SignRequest(req, Mode2LO, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := req.URL.EscapedPath(); got != "/a%5B1%5D/b" {
		t.Errorf("path sent %q", got)
	}
	if signed.URL != "https://jira.example.com/a%5B1%5D/b" {
		t.Errorf("signed URL %q", signed.URL)
	}
}

func sorted(ps []oauth1.Param) []oauth1.Param {
	out := append([]oauth1.Param(nil), ps...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Key < out[j-1].Key; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

package signer

import (
	"errors"
	"strings"
	"testing"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

// TestSignProtocolGolden pins the request-token request: no oauth_token at
// all, oauth_callback in the header and in the signed parameters.
func TestSignProtocolGolden(t *testing.T) {
	s := newSigner(t, "https://jira.example.com/jira", fixed)
	req := testkit.NewRequest(t, "POST", "https://jira.example.com/jira/plugins/servlet/oauth/request-token", "", "")
	signed, err := s.SignProtocol(req, nil, oauth1.Param{Key: "oauth_callback", Value: "https://app.example.com/cb?a=1&b=x y"})
	if err != nil {
		t.Fatal(err)
	}
	wantBase := "POST&https%3A%2F%2Fjira.example.com%2Fjira%2Fplugins%2Fservlet%2Foauth%2Frequest-token&" +
		"oauth_callback%3Dhttps%253A%252F%252Fapp.example.com%252Fcb%253Fa%253D1%2526b%253Dx%2520y" +
		"%26oauth_consumer_key%3Dcaddy-applink%253Atest%26oauth_nonce%3Dn0nce%26oauth_signature_method%3DRSA-SHA1" +
		"%26oauth_timestamp%3D1700000000%26oauth_version%3D1.0"
	checkSignedBase(t, signed, wantBase)
	wantHeader := `OAuth oauth_consumer_key="caddy-applink%3Atest", oauth_signature_method="RSA-SHA1", ` +
		`oauth_timestamp="1700000000", oauth_nonce="n0nce", oauth_version="1.0", ` +
		`oauth_callback="https%3A%2F%2Fapp.example.com%2Fcb%3Fa%3D1%26b%3Dx%20y", oauth_signature="` +
		oauth1.PercentEncode(signed.Signature) + `"`
	if got := req.Header.Get("Authorization"); got != wantHeader {
		t.Errorf("Authorization\n got %s\nwant %s", got, wantHeader)
	}
	if signed.Mode != "" || signed.User != "" {
		t.Errorf("Signed = %+v", signed)
	}
}

// TestSignProtocolAccessAndRenewal: the token and the verifier or session
// handle are in the header and signed.
func TestSignProtocolAccessAndRenewal(t *testing.T) {
	s := newSigner(t, "https://jira.example.com", fixed)
	for _, extra := range []oauth1.Param{{Key: "oauth_verifier", Value: "v+1"}, {Key: "oauth_session_handle", Value: "h/2"}} {
		req := testkit.NewRequest(t, "POST", "https://jira.example.com/plugins/servlet/oauth/access-token", "", "")
		signed, err := s.SignProtocol(req, &Token{Token: "req-tok", Secret: "ignored"}, extra)
		if err != nil {
			t.Fatal(err)
		}
		h := req.Header.Get("Authorization")
		if !strings.Contains(h, `oauth_token="req-tok"`) || !strings.Contains(h, extra.Key+`="`+oauth1.PercentEncode(extra.Value)+`"`) {
			t.Errorf("header %s", h)
		}
		if !strings.Contains(signed.BaseString, "%26"+extra.Key+"%3D") || signed.BaseString != oauth1.BaseString("POST", signed.URL, signed.Params) {
			t.Errorf("%s not signed: %s", extra.Key, signed.BaseString)
		}
		found := false
		for _, p := range signed.Params {
			found = found || p == extra
		}
		if !found {
			t.Errorf("%s missing from the signed parameters %v", extra.Key, signed.Params)
		}
	}
}

func TestSignProtocolRefusals(t *testing.T) {
	s := newSigner(t, "https://jira.example.com")
	for _, tc := range []struct {
		token *Token
		extra []oauth1.Param
		want  error
	}{
		{nil, []oauth1.Param{{Key: "oauth_token", Value: "x"}}, ErrBadProtocolParam},
		{nil, []oauth1.Param{{Key: "oauth_nonce", Value: "x"}}, ErrBadProtocolParam},
		{nil, []oauth1.Param{{Key: "oauth_signature", Value: "x"}}, ErrBadProtocolParam},
		{nil, []oauth1.Param{{Key: "callback", Value: "oob"}}, ErrBadProtocolParam},
		{nil, []oauth1.Param{{Key: "oauth_callback", Value: "oob"}, {Key: "oauth_callback", Value: "oob"}}, ErrBadProtocolParam},
		{&Token{}, nil, ErrNoToken},
	} {
		req := testkit.NewRequest(t, "POST", "https://jira.example.com/plugins/servlet/oauth/request-token", "", "")
		if _, err := s.SignProtocol(req, tc.token, tc.extra...); !errors.Is(err, tc.want) {
			t.Errorf("%v %v: error %v, want %v", tc.token, tc.extra, err, tc.want)
		}
		if req.Header.Get("Authorization") != "" {
			t.Errorf("%v: request changed on error", tc.extra)
		}
	}
}

// TestOauthlibProtocol: oauthlib verifies the token-endpoint requests
// SignProtocol signs, with the extra parameters covered by the signature;
// a tampered extra parameter fails.
func TestOauthlibProtocol(t *testing.T) {
	requireOauthlib(t)
	o := startOracle(t, "https://jira.example.com", "/jira")
	s := newSigner(t, "https://jira.example.com/jira")
	for _, tc := range []struct {
		name, endpoint string
		token          *Token
		extra          []oauth1.Param
	}{
		{"request token, 1.0a oob", "request-token", nil, []oauth1.Param{{Key: "oauth_callback", Value: "oob"}}},
		{"request token, callback URL", "request-token", nil,
			[]oauth1.Param{{Key: "oauth_callback", Value: "https://app.example.com/plugins/servlet/applinks/oauth/login-dance/access?applicationLinkID=jira&redirectUrl=%2Fx%3Fa%3D1+2"}}},
		{"request token, 1.0 (no callback)", "request-token", nil, nil},
		{"access token, verifier", "access-token", &Token{Token: "reqtok", Secret: "s"}, []oauth1.Param{{Key: "oauth_verifier", Value: "Ab9+/="}}},
		{"access token, 1.0", "access-token", &Token{Token: "reqtok"}, nil},
		{"renewal", "access-token", &Token{Token: testToken}, []oauth1.Param{{Key: "oauth_session_handle", Value: "handle 1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := testkit.NewRequest(t, "POST", o.url+"/plugins/servlet/oauth/"+tc.endpoint, "", "")
			signed, err := s.SignProtocol(req, tc.token, tc.extra...)
			if err != nil {
				t.Fatal(err)
			}
			v := o.send(t, req)
			if !v.OK || v.Mode != tc.endpoint {
				t.Fatalf("oauthlib: ok=%v mode %q: %s\n ours:     %s\n oauthlib: %s", v.OK, v.Mode, v.Reason, signed.BaseString, v.BaseString)
			}
			if v.BaseString != signed.BaseString {
				t.Errorf("base strings differ\n ours:     %s\n oauthlib: %s", signed.BaseString, v.BaseString)
			}
			for _, p := range tc.extra {
				if v.OAuthParams[p.Key] != p.Value {
					t.Errorf("header %s = %q, want %q", p.Key, v.OAuthParams[p.Key], p.Value)
				}
			}
			if _, has := v.OAuthParams["oauth_token"]; has != (tc.token != nil) {
				t.Errorf("oauth_token in the header: %v, want %v", has, tc.token != nil)
			}
			if len(tc.extra) == 0 {
				return
			}
			// The same request with the extra parameter changed after signing.
			req = testkit.NewRequest(t, "POST", o.url+"/plugins/servlet/oauth/"+tc.endpoint, "", "")
			if _, err := s.SignProtocol(req, tc.token, tc.extra...); err != nil {
				t.Fatal(err)
			}
			p := tc.extra[0]
			req.Header.Set("Authorization", strings.Replace(req.Header.Get("Authorization"),
				p.Key+`="`+oauth1.PercentEncode(p.Value)+`"`, p.Key+`="tampered"`, 1))
			if v := o.send(t, req); v.OK || !strings.Contains(v.Reason, "invalid signature") {
				t.Errorf("tampered %s: ok=%v %s", p.Key, v.OK, v.Reason)
			}
		})
	}
}

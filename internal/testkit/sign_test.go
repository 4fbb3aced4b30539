package testkit

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/rsakey"
)

// TestSign: what Sign writes verifies with the protocol core, wherever the
// parameters travel, and a tampered target does not.
func TestSign(t *testing.T) {
	key, err := rsakey.Generate(2048)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := oauth1.ParseBaseURL("http://localhost:9999")
	verify := func(w Signed) *oauth1.Problem {
		r := &oauth1.Request{Method: w.Method, Form: w.Form}
		path, query, _ := strings.Cut(w.Target, "?")
		r.RawPath, r.RawQuery = path, query
		if w.Auth != "" {
			r.Authorization = []string{w.Auth}
		}
		v := &oauth1.Verifier{BaseURL: base, Nonces: nopNonces{},
			Consumers: func(string) *oauth1.Consumer {
				return &oauth1.Consumer{Key: "c", PublicKey: &key.PublicKey, TwoLeggedUser: "svc"}
			}}
		_, p := v.Verify(t.Context(), r)
		return p
	}
	for _, loc := range []oauth1.Location{oauth1.InHeader, oauth1.InQuery, oauth1.InForm} {
		s := OAuth{Method: "POST", Target: "/rest/a?x=1", Form: "y=2", Base: "http://localhost:9999", Consumer: "c", Key: key, Loc: loc}
		w, err := s.Sign()
		if err != nil {
			t.Fatal(err)
		}
		if p := verify(w); p != nil {
			t.Errorf("%v: %v", loc, p)
		}
		s.SignedAs = "/rest/b?x=1"
		if w, _ = s.Sign(); verify(w) == nil {
			t.Errorf("%v: signed for another path, verified", loc)
		}
	}
}

// nopNonces remembers nothing and from the start of time.
type nopNonces struct{}

func (nopNonces) Seen(context.Context, string, int64) (bool, error) { return false, nil }
func (nopNonces) Record(context.Context, string, int64, time.Time) (bool, error) {
	return true, nil
}
func (nopNonces) Since() time.Time { return time.Time{} }

package cli

import "testing"

func TestVerifierFrom(t *testing.T) {
	for in, want := range map[string]string{
		"abc\n":                 "abc",
		"  oauth_verifier=xyz ": "xyz",
		"https://app.example.com/cb?oauth_token=T&oauth_verifier=v%2B1": "v+1",
	} {
		if got, err := verifierFrom(in, "T"); err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	for _, in := range []string{"", "https://app.example.com/cb?oauth_token=OTHER&oauth_verifier=v", "https://app.example.com/cb?x=1"} {
		if _, err := verifierFrom(in, "T"); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

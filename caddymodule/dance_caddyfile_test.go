package caddymodule

import (
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// TestDanceCaddyfileErrors: each mistake in an applink_dance block is
// refused with an error naming it, and a full block parses. (The
// directive's order, basic_auth, applink, applink_dance, reverse_proxy, is
// pinned by the golden dance_transport_order of TestCaddyfileAdapt.)
func TestDanceCaddyfileErrors(t *testing.T) {
	testCaddyfileErrors(t, func() caddyfile.Unmarshaler { return new(DanceHandler) }, []caddyfileError{
		{"applink_dance extra", "wrong argument count"},
		{"applink_dance {\n bogus 1\n}", `unknown subdirective "bogus"`},
		{"applink_dance {\n base_url\n}", "base_url needs one argument"},
		{"applink_dance {\n base_url a b\n}", "takes one argument"},
		{"applink_dance {\n user a\n user b\n}", "user specified twice"},
		{"applink_dance {\n link\n}", "link needs an ID"},
		{"applink_dance {\n link a b\n}", "wrong argument count"},
		{"applink_dance {\n link jira {\n  display_url https://x\n }\n}", "remote_base_url is required"},
		{"applink_dance {\n link jira {\n  remote_base_url https://x\n  bogus y\n }\n}", `unknown link subdirective "bogus"`},
		{"applink_dance {\n link jira {\n  remote_base_url https://x\n }\n link jira {\n  remote_base_url https://y\n }\n}", `link "jira" specified twice`},
		{"applink_dance {\n state bogus\n}", "state must be file"},
		{"applink_dance {\n state memory\n state memory\n}", "state specified twice"},
	})
	h := new(DanceHandler)
	in := "applink_dance {\n base_url https://app.example.com\n consumer_key k\n private_key_file f\n link jira {\n  remote_base_url https://jira.example.com\n  display_url https://jira.example.com/\n }\n user {http.vars.u}\n state memory\n}"
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(in)); err != nil {
		t.Fatal(err)
	}
	if h.BaseURL != "https://app.example.com" || h.User != "{http.vars.u}" || len(h.Links) != 1 || h.Links[0].DisplayURL != "https://jira.example.com/" ||
		h.State == nil || h.State.Backend != "memory" {
		t.Errorf("parsed %+v", h)
	}
}

func TestDanceProvisionErrors(t *testing.T) {
	key := danceKeys().PrivFile
	link := func(mod func(*LinkConfig)) []LinkConfig {
		l := LinkConfig{ID: "jira", RemoteBaseURL: "https://jira.example.com"}
		if mod != nil {
			mod(&l)
		}
		return []LinkConfig{l}
	}
	mem := &StateConfig{Backend: "memory"}
	for _, tc := range []struct {
		h    *DanceHandler
		want string
	}{
		{&DanceHandler{Links: link(nil), ConsumerKey: "k", PrivateKeyFile: key}, "base_url is required"},
		{&DanceHandler{BaseURL: "app.example.com", Links: link(nil), ConsumerKey: "k", PrivateKeyFile: key}, "base_url"},
		{&DanceHandler{BaseURL: "https://app.example.com", ConsumerKey: "k", PrivateKeyFile: key}, "at least one link"},
		{&DanceHandler{BaseURL: "https://app.example.com", Links: link(nil), PrivateKeyFile: key}, "consumer_key is required"},
		{&DanceHandler{BaseURL: "https://app.example.com", Links: link(nil), ConsumerKey: "k"}, "private_key_file is required"},
		{&DanceHandler{BaseURL: "https://app.example.com", Links: link(nil), ConsumerKey: "k", PrivateKeyFile: "/nonexistent.pem"}, "/nonexistent.pem"},
		{&DanceHandler{BaseURL: "https://app.example.com", Links: link(func(l *LinkConfig) { l.RemoteBaseURL = "jira" }), ConsumerKey: "k", PrivateKeyFile: key}, "remote_base_url"},
		{&DanceHandler{BaseURL: "https://app.example.com", Links: link(func(l *LinkConfig) { l.DisplayURL = "https://x?y" }), ConsumerKey: "k", PrivateKeyFile: key}, "display_url"},
		{&DanceHandler{BaseURL: "https://app.example.com", Links: append(link(nil), link(nil)...), ConsumerKey: "k", PrivateKeyFile: key}, "configured twice"},
		{&DanceHandler{BaseURL: "https://app.example.com", Links: link(nil), ConsumerKey: "k", PrivateKeyFile: key,
			State: &StateConfig{Backend: "memory", EncryptionKey: "short"}}, "encryption_key"},
		{&DanceHandler{BaseURL: "https://app.example.com", Links: link(func(l *LinkConfig) { l.ConsumerKey, l.PrivateKeyFile = "k", key }), State: mem}, ""},
	} {
		err := provision(tc.h)
		_ = tc.h.Cleanup()
		checkProvisionError(t, tc.h, err, tc.want)
	}
}

package caddymodule

import "testing"

func TestRedactUsers(t *testing.T) {
	h := &Handler{RedactUsers: true}
	got := h.logUser("alice")
	if got == "alice" || len(got) != len("sha256:")+12 || got != h.logUser("alice") || got == h.logUser("bob") {
		t.Errorf("redacted user %q", got)
	}
	if (&Handler{}).logUser("alice") != "alice" {
		t.Error("users redacted without redact_users")
	}
}

package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestPassthroughExampleRuns starts examples/passthrough as its README says
// and sends what its README shows: a signed request reaches the stand-in
// Jira as the mapped user with its OAuth header as sent, for Jira to verify
// again; a spoofed identity header does not get through.
func TestPassthroughExampleRuns(t *testing.T) {
	bin := buildBinary(t)
	root, _ := filepath.Abs("../..")
	demo := shiftPorts(t, root, exampleCommand(t, root, "examples/passthrough/Caddyfile")) // on free ports
	stop := runProxy(t, bin, root, demo.file, demo.url(8098, "/"))
	defer stop()
	confluence := demoClient(t, root, "confluence:7c1e")
	body := get(t, confluence, demo.url(8098, "/rest/api/2/myself?xoauth_requestor_id=alice"), nil)
	if !strings.Contains(body, "user=alice\n") || !strings.Contains(body, "authorization=OAuth ") || !strings.Contains(body, "oauth_signature=") {
		t.Errorf("signed request: %s; want alice and the OAuth header as sent", body)
	}
	if !strings.Contains(body, "uri=/rest/api/2/myself?xoauth_requestor_id=alice\n") {
		t.Errorf("signed request: %s; want the signed query intact", body)
	}
	body = get(t, http.DefaultClient, demo.url(8098, "/rest/api/2/myself"), http.Header{"X-Forwarded-User": {"admin"}})
	if !strings.Contains(body, "user=\n") {
		t.Errorf("spoofed header: %s", body)
	}
}

package caddymodule

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-applink/caddy-applink/internal/testpeer"
)

// debianPython is Debian's interpreter, which has python3-requests-oauthlib;
// a python3 earlier on PATH (pyenv) may not.
const debianPython = "/usr/bin/python3"

// requirePython skips (or, in CI, fails) when the Debian OAuth libraries are
// missing.
func requirePython(t *testing.T, modules ...string) {
	t.Helper()
	args := []string{"-c", "import " + strings.Join(modules, ",")}
	err := exec.Command(debianPython, args...).Run()
	testpeer.Require(t, "python3-requests-oauthlib", err)
}

type pyResult struct {
	Status          int    `json:"status"`
	WWWAuthenticate string `json:"www_authenticate"`
	Body            string `json:"body"`
}

func runPythonClient(t *testing.T, specs []map[string]any) []pyResult {
	t.Helper()
	in, _ := json.Marshal(specs)
	cmd := exec.Command(debianPython, filepath.Join("testdata", "interop", "requests_client.py"))
	cmd.Stdin = strings.NewReader(string(in))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python client: %v", err)
	}
	var res []pyResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("python output %q: %v", out, err)
	}
	return res
}

// TestRequestsOAuthlibInterop: Debian's python3-requests-oauthlib signs 2LO
// and impersonation requests (RSA-SHA1, in all three locations) that must
// reach the upstream as the right user; tampered copies and a replay must not.
func TestRequestsOAuthlibInterop(t *testing.T) {
	requirePython(t, "requests_oauthlib", "oauthlib")
	rec := newRecorder(t)
	startProxy(t, rec, "", "")
	keyFile := consumerKeys().PrivFile
	rsa := func(m map[string]any) map[string]any {
		m["consumer"], m["key_file"] = rsaKey, keyFile
		return m
	}
	cases := []struct {
		spec   map[string]any
		status int
		user   string // upstream identity when it passes
		prob   string
	}{
		{rsa(map[string]any{"url": proxyBase + "/rest/api/2/issue/ABC-1?expand=a&expand=b"}), 200, "svc-bamboo", ""},
		{rsa(map[string]any{"url": proxyBase + "/rest/api/2/myself?xoauth_requestor_id=alice"}), 200, "alice", ""},
		{rsa(map[string]any{"url": proxyBase + "/rest/api/2/search?jql=summary%20~%20%22a%2Bb%20c%22&x=%E2%82%AC&r=%21%2A%27%28%29"}), 200, "svc-bamboo", ""},
		{rsa(map[string]any{"url": proxyBase + "/rest/api/2/myself?xoauth_requestor_id=bob", "signature_type": "query"}), 200, "bob", ""},
		{rsa(map[string]any{"method": "POST", "url": proxyBase + "/rest/x", "data": map[string]string{"xoauth_requestor_id": "carol", "summary": "a b+c"}, "signature_type": "body"}), 200, "carol", ""},
		{rsa(map[string]any{"method": "POST", "url": proxyBase + "/rest/x", "data": map[string]string{"summary": "x"}}), 200, "svc-bamboo", ""},
		{map[string]any{"consumer": hmacKey, "secret": hmacSecret, "url": proxyBase + "/rest/h"}, 200, "svc-ci", ""},
		// tampered copies
		{rsa(map[string]any{"url": proxyBase + "/rest/api/2/myself?xoauth_requestor_id=alice", "tamper": map[string]string{"url": proxyBase + "/rest/api/2/myself?xoauth_requestor_id=admin"}}), 401, "", "signature_invalid"},
		{rsa(map[string]any{"url": proxyBase + "/rest/api/2/issue/ABC-1", "tamper": map[string]string{"url": proxyBase + "/rest/api/2/issue/ABC-2"}}), 401, "", "signature_invalid"},
		{rsa(map[string]any{"method": "POST", "url": proxyBase + "/rest/x", "data": map[string]string{"v": "1"}, "tamper": map[string]string{"body": "v=2"}}), 401, "", "signature_invalid"},
		{rsa(map[string]any{"url": proxyBase + "/rest/api/2/myself?xoauth_requestor_id=dave", "tamper": "replay"}), 401, "", "nonce_used"},
		{map[string]any{"consumer": rsaKey, "secret": "guess", "url": proxyBase + "/rest/h"}, 400, "", "signature_method_rejected"},
	}
	specs := make([]map[string]any, len(cases))
	for i, c := range cases {
		specs[i] = c.spec
	}
	results := runPythonClient(t, specs)
	for i, c := range cases {
		r := results[i]
		if r.Status != c.status {
			t.Errorf("case %d %v: status %d (%s), want %d", i, c.spec["url"], r.Status, r.WWWAuthenticate, c.status)
			continue
		}
		if c.user != "" && r.Body != "user="+c.user {
			t.Errorf("case %d: upstream saw %q, want user=%s", i, r.Body, c.user)
		}
		if c.prob != "" && !strings.Contains(r.WWWAuthenticate, `oauth_problem="`+c.prob+`"`) {
			t.Errorf("case %d: challenge %q, want %s", i, r.WWWAuthenticate, c.prob)
		}
	}
}

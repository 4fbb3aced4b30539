//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
)

// debianPython is Debian's interpreter, which has python3-requests-oauthlib;
// a python3 earlier on PATH (pyenv) may not.
const debianPython = "/usr/bin/python3"

func requirePython(t *testing.T) {
	t.Helper()
	if err := exec.Command(debianPython, "-c", "import requests, requests_oauthlib, oauthlib.oauth1, jwt, cryptography").Run(); err != nil {
		missing(t, "python3-requests-oauthlib", err)
	}
}

type pyMessage struct {
	Step              string     `json:"step"`
	URL               string     `json:"url"`
	RequestToken      string     `json:"request_token"`
	CallbackConfirmed string     `json:"callback_confirmed"`
	Results           []pyResult `json:"results"`
}

type pyResult struct {
	Name    string `json:"name"`
	Status  int    `json:"status"`
	Problem string `json:"problem"`
	Body    string `json:"body"`
}

// pyDance runs testdata/dance.py: it stops at the authorize step, where
// approve (the user) is called with the authorization URL and returns the
// line to give back to the script; then it returns the script's results.
func pyDance(t *testing.T, args []string, approve func(m pyMessage) string) map[string]pyResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, debianPython, append([]string{filepath.Join("testdata", "dance.py")}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	lines := bufio.NewScanner(stdout)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	next := func() pyMessage {
		t.Helper()
		if !lines.Scan() {
			_, _ = io.Copy(io.Discard, stdout)
			_ = cmd.Wait()
			t.Fatalf("dance.py %v stopped: %v\n%s", args, lines.Err(), stderr.String())
		}
		var m pyMessage
		if err := json.Unmarshal(lines.Bytes(), &m); err != nil {
			t.Fatalf("dance.py printed %q: %v", lines.Text(), err)
		}
		return m
	}
	m := next()
	if m.Step != "authorize" {
		t.Fatalf("dance.py: %+v, want the authorize step", m)
	}
	if _, err := io.WriteString(stdin, approve(m)+"\n"); err != nil {
		t.Fatal(err)
	}
	m = next()
	if m.Step != "done" {
		t.Fatalf("dance.py: %+v, want done", m)
	}
	out := map[string]pyResult{}
	for _, r := range m.Results {
		out[r.Name] = r
	}
	return out
}

type pyWant struct {
	status  int
	problem string
}

// checkResults compares the script's results with want; the requests that
// passed must have reached the product as user (and, found by their "case"
// query parameter, exactly once), the refused ones not at all.
func checkResults(t *testing.T, rec *recorder, mark int, got map[string]pyResult, want map[string]pyWant, user string) {
	t.Helper()
	for name, w := range want {
		r, ok := got[name]
		if !ok {
			t.Errorf("%s: no result", name)
			continue
		}
		if r.Status != w.status || r.Problem != w.problem {
			t.Errorf("%s: %d %q, want %d %q (body %q)", name, r.Status, r.Problem, w.status, w.problem, r.Body)
			continue
		}
		reached := find(rec, mark, name)
		switch {
		case strings.HasPrefix(name, "replay"):
			// Checked below: the first copy passes, the second does not.
		case w.status == 200 && strings.Contains(name, "token"):
			// Token endpoints are answered by the proxy itself.
		case w.status == 200:
			if r.Body != "user="+user {
				t.Errorf("%s: the product answered %q, want user=%s", name, r.Body, user)
			}
			if len(reached) != 1 {
				t.Errorf("%s: reached the product %d times, want once", name, len(reached))
				continue
			}
			checkUpstream(t, reached[0], user)
		default:
			if len(reached) != 0 {
				t.Errorf("%s: refused with %d but reached the product %d times", name, r.Status, len(reached))
			}
		}
	}
	if n := len(find(rec, mark, "replay")); n != 1 {
		t.Errorf("replayed request reached the product %d times, want once", n)
	}
}

// commonWant: what every flow must see once it has its access token.
var commonWant = map[string]pyWant{
	"query-signed":                  {200, ""},
	"tampered-path":                 {401, "signature_invalid"},
	"tampered-query":                {401, "signature_invalid"},
	"tampered-body":                 {401, "signature_invalid"},
	"tampered-method":               {401, "signature_invalid"},
	"replay-first":                  {200, ""},
	"replay-second":                 {401, "nonce_used"},
	"request-token-as-access-token": {401, "token_rejected"},
	"second-exchange":               {401, "token_rejected"},
	"unknown-token":                 {401, "token_rejected"},
}

// merge is commonWant, the steps named in ok answered 200, and more.
func merge(more map[string]pyWant, ok ...string) map[string]pyWant {
	out := map[string]pyWant{}
	for k, v := range commonWant {
		out[k] = v
	}
	for _, k := range ok {
		out[k] = pyWant{200, ""}
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// TestRequestsOAuthlibDance: Debian's python3-requests-oauthlib plays the
// linked application through the whole 3-legged dance against the proxy
// (RSA-SHA1), a user behind the SSO approves, and the application's signed
// requests reach the product as that user in mode 3lo. Both flavours: OAuth
// 1.0a with OAuth1Session (callback and verifier), and OAuth 1.0 without
// callback or verifier as the python jira library's oauth_dance does it.
// Tampered and replayed copies, and spent or unknown tokens, are refused.
// The SSO header counts only from trusted_proxies: sent from [::1] it
// neither approves anything nor reaches the product.
func TestRequestsOAuthlibDance(t *testing.T) {
	requirePython(t)
	rec := newRecorder(t)
	loadProxy(t, rec, proxyConfig{
		Login:   "login header X-Remote-User",
		State:   "state file " + filepath.Join(t.TempDir(), "state.db"),
		LogFile: filepath.Join(t.TempDir(), "caddy.log"),
	})

	t.Run("OAuth1Session 1.0a", func(t *testing.T) {
		mark := rec.Mark()
		callback := "https://app.example.com/oauth/callback?state=xyz"
		var requestToken string
		got := pyDance(t, []string{"session", proxyBase, consumerKey, privFile(), callback}, func(m pyMessage) string {
			requestToken = m.RequestToken
			if m.CallbackConfirmed != "true" {
				t.Errorf("oauth_callback_confirmed = %q, want true", m.CallbackConfirmed)
			}
			if !strings.HasPrefix(m.URL, proxyBase+authorizePath+"?oauth_token=") {
				t.Errorf("authorization URL %q", m.URL)
			}
			loc, page := approveAs(t, m.URL, "alice")
			if loc == nil {
				t.Fatalf("approval did not send the browser back to the callback:\n%s", page)
			}
			q := loc.Query()
			if loc.Scheme != "https" || loc.Host != "app.example.com" || loc.Path != "/oauth/callback" ||
				q.Get("state") != "xyz" || q.Get("oauth_token") != m.RequestToken || q.Get("oauth_verifier") == "" {
				t.Errorf("callback redirect %s", loc)
			}
			return loc.String()
		})
		want := merge(map[string]pyWant{"wrong-verifier": {401, "token_rejected"}},
			"access-token", "get", "post-form", "post-json")
		checkResults(t, rec, mark, got, want, "alice")
		var access map[string]string
		if err := json.Unmarshal([]byte(got["access-token"].Body), &access); err != nil || access["oauth_token"] == "" ||
			access["oauth_session_handle"] == "" || access["oauth_expires_in"] != "157680000" || access["oauth_token"] == requestToken {
			t.Errorf("access token answer %q (%v)", got["access-token"].Body, err)
		}
		// The product gets the non-OAuth parts of the requests untouched.
		if r := find(rec, mark, "post-form"); len(r) == 1 {
			if form, _ := url.ParseQuery(r[0].Body); form.Get("summary") != "Filed from Python" || form.Get("labels") != "a b+c" || len(form) != 2 {
				t.Errorf("form body upstream %q", r[0].Body)
			}
		}
		if r := find(rec, mark, "post-json"); len(r) == 1 && r[0].Body != `{"fields": {"summary": "JSON body"}}` {
			t.Errorf("JSON body upstream %q", r[0].Body)
		}
		if r := find(rec, mark, "get"); len(r) == 1 && !strings.Contains(r[0].URI, "expand=groups") {
			t.Errorf("query upstream %q", r[0].URI)
		}
	})

	t.Run("jira oauth_dance 1.0", func(t *testing.T) {
		mark := rec.Mark()
		got := pyDance(t, []string{"jira", proxyBase, consumerKey, privFile()}, func(m pyMessage) string {
			if m.CallbackConfirmed != "" {
				t.Errorf("oauth_callback_confirmed = %q for a request without callback", m.CallbackConfirmed)
			}
			loc, page := approveAs(t, m.URL, "bob")
			if loc != nil || !strings.Contains(page, "You allowed") || strings.Contains(page, `id="verifier"`) {
				t.Errorf("1.0 approval: redirect %v, page:\n%s", loc, page)
			}
			return "approved"
		})
		want := merge(map[string]pyWant{"exchange-before-approval": {401, "permission_unknown"}},
			"request-token", "access-token", "get", "post-json")
		checkResults(t, rec, mark, got, want, "bob")
	})
	t.Run("SSO header only from trusted proxies", func(t *testing.T) {
		// [::1] is not in trusted_proxies (127.0.0.1/32): what a client
		// sends from there in the SSO header must not count, nor reach the
		// product.
		untrusted := newClientVia("::1", false)
		probe := mustRequest(t, http.MethodGet, proxyBase+"/status", nil)
		resp, err := untrusted.Do(probe)
		if err != nil {
			t.Skipf("no IPv6 loopback to send from an untrusted address: %v", err)
		}
		resp.Body.Close()
		status, problem, rt := tokenCall(t, newClient(false), requestTokenPath, "", oauth1.Param{Key: "oauth_callback", Value: "oob"})
		if status != http.StatusOK {
			t.Fatalf("request token: %d %s", status, problem)
		}
		authorize := proxyBase + authorizePath + "?oauth_token=" + url.QueryEscape(rt.Get("oauth_token"))
		for _, name := range []string{"X-Remote-User", "x-remote-user", "X-REMOTE-USER"} {
			req := mustRequest(t, http.MethodGet, authorize, nil)
			req.Header[name] = []string{"alice"}
			resp, page := do(t, untrusted, req)
			if resp.StatusCode != http.StatusUnauthorized || strings.Contains(page, "alice") || strings.Contains(page, "csrf") {
				t.Errorf("authorize from [::1] with %s: alice: %d\n%s", name, resp.StatusCode, page)
			}
		}
		mark := rec.Mark()
		for _, c := range []struct {
			client  *http.Client
			name    string
			trusted bool
		}{{untrusted, "from-untrusted", false}, {newClient(false), "from-trusted", true}} {
			req := mustRequest(t, http.MethodGet, proxyBase+"/rest/api/2/myself?case="+c.name, nil)
			req.Header.Set("X-Remote-User", "mallory")
			if resp, _ := do(t, c.client, req); resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d", c.name, resp.StatusCode)
			}
			r := find(rec, mark, c.name)
			if len(r) != 1 {
				t.Fatalf("%s reached the product %d times", c.name, len(r))
			}
			if got := r[0].Header.Get("X-Remote-User"); (got == "mallory") != c.trusted || r[0].Header.Get("X-Forwarded-User") != "" {
				t.Errorf("%s: the product got X-Remote-User %q, X-Forwarded-User %q", c.name, got, r[0].Header.Get("X-Forwarded-User"))
			}
		}
	})
}

//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/caddy-applink/caddy-applink/internal/cli"
	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

// danceProvider starts our own provider (applink with a header login, the
// test being the trusted SSO in front) on this package's ports, in front of
// a stand-in product that answers with the user and the mode.
func danceProvider(t *testing.T) string {
	t.Helper()
	loadCaddy(t, caddyGlobals(testkit.NoGrace, testkit.TrustLoopback)+fmt.Sprintf(`
%[1]s {
	applink {
		base_url %[1]s
		login header X-Remote-User
		state file %[2]s
		consumer %[3]s {
			name "CLI"
			public_key_file %[4]s
		}
	}
	respond "user={http.request.header.X-Forwarded-User} mode={applink.mode}"
}
`, proxyBase, filepath.Join(t.TempDir(), "state.db"), cliConsumer, pubFile()))
	testkit.WaitNextSecond()
	return proxyBase
}

var (
	danceVerifier = regexp.MustCompile(`<code id="verifier">([^<]+)</code>`)
	authURLLine   = regexp.MustCompile(`(?m)^  (http\S+/plugins/servlet/oauth/authorize\?oauth_token=\S+)$`)
)

// decide plays the user at the approval page: it returns the page shown
// after the decision and the redirect, if any. It may run in any
// goroutine: it fails t with Error, not Fatal.
func decide(t *testing.T, authURL, user string, allow bool) (string, string) {
	t.Helper()
	a, err := testkit.Approve(nil, authURL, user, allow)
	if err != nil {
		t.Error(err)
		return "", ""
	}
	return a.Result, a.Location
}

// runDance runs `applink dance` with args as the binary would, with a pipe
// for standard input: when the authorize URL appears on standard error,
// answer(url) is called and what it returns is typed in.
func runDance(t *testing.T, answer func(authURL string) string, args ...string) (int, string, string) {
	t.Helper()
	inR, inW := io.Pipe()
	errR, errW := io.Pipe()
	var out bytes.Buffer
	stderr := make(chan string, 1)
	go func() {
		var all strings.Builder
		r := bufio.NewReader(errR)
		answered := false
		for {
			chunk := make([]byte, 4096)
			n, err := r.Read(chunk)
			all.Write(chunk[:n])
			if m := authURLLine.FindStringSubmatch(all.String()); m != nil && !answered &&
				(strings.Contains(all.String(), ": ") || strings.Contains(all.String(), "Enter")) {
				answered = true
				line := answer(m[1])
				go func() { _, _ = io.WriteString(inW, line+"\n") }()
			}
			if err != nil {
				stderr <- all.String()
				return
			}
		}
	}()
	code := cli.Execute(context.Background(), subcommand(t, "dance"), args, inR, &out, errW)
	_ = errW.Close()
	_ = inW.Close()
	return code, out.String(), <-stderr
}

// tokenLines reads the name=value lines of the command's output.
func tokenLines(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			v, _, _ = strings.Cut(v, " #")
			m[k] = v
		}
	}
	return m
}

// TestDanceAgainstOwnProvider: `applink dance` obtains an access token from
// our own provider (oob, a callback URL pasted back, and OAuth 1.0 with
// Enter), and `applink sign --token` with it reaches the product as the
// approving user, in 3LO. A denial is an error.
func TestCLIDanceAgainstOwnProvider(t *testing.T) {
	base := danceProvider(t)
	ours := []string{"--consumer-key", cliConsumer, "--key", privFile()}

	signAs := func(t *testing.T, tok map[string]string, want string) {
		t.Helper()
		code, stdout, stderr := runCommand(t, "sign", append(ours, "--token", tok["oauth_token"], "--token-secret", tok["oauth_token_secret"], base+"/rest/api/2/myself")...)
		if code != 0 || stdout != want {
			t.Errorf("sign --token: exit %d %q %s", code, stdout, stderr)
		}
	}

	t.Run("oob", func(t *testing.T) {
		code, out, errOut := runDance(t, func(authURL string) string {
			page, _ := decide(t, authURL, "alice", true)
			m := danceVerifier.FindStringSubmatch(page)
			if m == nil {
				t.Errorf("no verifier on the page: %s", page)
				return ""
			}
			return m[1]
		}, append(ours, base)...)
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		tok := tokenLines(out)
		if len(tok["oauth_token"]) != 32 || len(tok["oauth_token_secret"]) != 32 || len(tok["oauth_session_handle"]) != 32 ||
			tok["oauth_expires_in"] != "157680000" || tok["oauth_authorization_expires_in"] != "160272000" {
			t.Errorf("token lines: %v\n%s", tok, out)
		}
		if !strings.Contains(out, "# applink sign --consumer-key "+cliConsumer+" --key "+privFile()+" --token "+tok["oauth_token"]+" --token-secret "+tok["oauth_token_secret"]+" "+base+"/rest/api/2/myself\n") {
			t.Errorf("no sign line:\n%s", out)
		}
		if !strings.Contains(errOut, "type the verification code") {
			t.Errorf("prompt: %s", errOut)
		}
		signAs(t, tok, "user=alice mode=3lo")
	})

	t.Run("callback URL pasted back", func(t *testing.T) {
		const cb = "https://app.example.com/done"
		code, out, errOut := runDance(t, func(authURL string) string {
			_, loc := decide(t, authURL, "bob", true)
			if !strings.HasPrefix(loc, cb+"?oauth_token=") || !strings.Contains(loc, "oauth_verifier=") {
				t.Errorf("redirected to %q", loc)
			}
			return loc
		}, append(ours, "--callback", cb, base)...)
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		signAs(t, tokenLines(out), "user=bob mode=3lo")
	})

	t.Run("OAuth 1.0, no callback", func(t *testing.T) {
		code, out, errOut := runDance(t, func(authURL string) string {
			page, loc := decide(t, authURL, "carol", true)
			if loc != "" || danceVerifier.MatchString(page) {
				t.Errorf("OAuth 1.0 approval gave a verifier or a redirect: %q %s", loc, page)
			}
			return ""
		}, append(ours, "--no-callback", base)...)
		if code != 0 || !strings.Contains(errOut, "Press Enter") {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		signAs(t, tokenLines(out), "user=carol mode=3lo")
	})

	t.Run("denied", func(t *testing.T) {
		code, out, errOut := runDance(t, func(authURL string) string {
			decide(t, authURL, "dave", false)
			return "not-the-code"
		}, append(ours, base)...)
		if code != 1 || out != "" || !strings.Contains(errOut, "oauth_problem=permission_denied") {
			t.Errorf("exit %d\n%s\n%s", code, out, errOut)
		}
	})

	t.Run("wrong key", func(t *testing.T) {
		code, _, errOut := runDance(t, func(string) string { return "" },
			"--consumer-key", cliConsumer, "--key", proxyKeyFile(t), base)
		if code != 1 || !strings.Contains(errOut, "oauth_problem=signature_invalid") {
			t.Errorf("exit %d\n%s", code, errOut)
		}
	})

	t.Run("flags", func(t *testing.T) {
		for _, args := range [][]string{
			append(ours, "--no-callback", "--callback", "oob", base),
			append(ours, "--no-callback", "--verifier", "x", base),
			append(ours, "--callback", "ftp://x", base),
			append(ours, "not-a-url"),
		} {
			if code, _, errOut := runCommand(t, "dance", args...); code != 1 || errOut == "" {
				t.Errorf("%q: exit %d %s", args, code, errOut)
			}
		}
	})
}

package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/caddy-applink/caddy-applink/internal/consumer"
	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/signer"
)

func danceCommand() Command {
	return Command{
		Name:  "dance",
		Usage: "--consumer-key <key> --key <file> [--callback <url>|oob | --no-callback] [--verifier <code>] [--display-url <url>] [--remote-base-url <url>] <base_url>",
		Short: "Obtains a 3-legged OAuth access token from a terminal",
		Long: `
Does the 3-legged OAuth dance against a remote Atlassian application (or
this proxy's own provider) from a terminal, as the python jira library's
jirashell does, and prints the access token:

1. POST <base_url>/plugins/servlet/oauth/request-token, signed with our
   consumer key and private key (RSA-SHA1), with oauth_callback;
2. prints the authorize URL: open it in a browser, log in, allow access;
3. reads the verification code (oob), or the URL the browser was sent to
   (--callback), from standard input, or takes --verifier;
4. POST <base_url>/plugins/servlet/oauth/access-token, and prints
   oauth_token, oauth_token_secret, oauth_session_handle and the expiries,
   and the 'applink sign' command that uses them.

--consumer-key     our consumer key, as the remote knows it (required)
--key              our private key, PEM (required)
--callback         oauth_callback: oob (default: the approval page shows a
                   code) or an absolute URL the browser is sent to
--no-callback      OAuth 1.0: no callback and no verifier; press Enter after
                   approving (what jirashell does)
--verifier         the verification code, instead of reading standard input
--display-url      where browsers reach the remote (default: <base_url>)
--remote-base-url  the URL to sign against, if not <base_url>
--timeout          per request (default 30s)

Prompts go to standard error; the token lines (name=value) and the sign
command (a # comment) go to standard output.
`,
		CobraFunc: func(cmd *cobra.Command) {
			var o DanceOptions
			f := cmd.Flags()
			bindLinkFlags(cmd, &o.ConsumerKey, &o.KeyFile, &o.RemoteBaseURL, "URL to sign against (default: the base URL)",
				&o.Timeout, 30*time.Second, "Timeout of each request")
			f.StringVar(&o.Callback, "callback", "oob", "oauth_callback: oob or an absolute URL")
			f.BoolVar(&o.NoCallback, "no-callback", false, "OAuth 1.0: no callback, no verifier")
			f.StringVar(&o.Verifier, "verifier", "", "The verification code (default: read from standard input)")
			f.StringVar(&o.DisplayURL, "display-url", "", "Where browsers reach the remote (default: the base URL)")
			cmd.Args = cobra.ExactArgs(1)
			cmd.RunE = runE(func(cmd *cobra.Command, args []string) (int, error) {
				if o.NoCallback && cmd.Flags().Changed("callback") {
					return 1, errors.New("--callback and --no-callback exclude each other")
				}
				o.BaseURL = args[0]
				return Dance(cmd.Context(), o, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
			})
		},
	}
}

// DanceOptions are the flags of `applink dance`.
type DanceOptions struct {
	BaseURL       string
	ConsumerKey   string
	KeyFile       string
	Callback      string // "oob" (default) or a URL
	NoCallback    bool   // OAuth 1.0
	Verifier      string
	DisplayURL    string
	RemoteBaseURL string
	Timeout       time.Duration
}

// Dance runs the 3-legged dance and prints the access token.
func Dance(ctx context.Context, o DanceOptions, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	target, err := oauth1.ParseBaseURL(o.BaseURL)
	if err != nil {
		return 1, fmt.Errorf("base URL: %w", err)
	}
	callback := o.Callback
	switch {
	case o.NoCallback:
		callback = ""
		if o.Verifier != "" {
			return 1, errors.New("--verifier has no use with --no-callback (OAuth 1.0 has no verifier)")
		}
	case callback == "":
		callback = "oob"
	case callback != "oob":
		if u, err := url.Parse(callback); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return 1, fmt.Errorf("--callback must be oob or an absolute http(s) URL, not %q", callback)
		}
	}
	remote := o.RemoteBaseURL
	if remote == "" {
		remote = o.BaseURL
	}
	s, err := newSigner(o.ConsumerKey, o.KeyFile, remote)
	if err != nil {
		return 1, err
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	client := newClient(timeout)
	display := o.DisplayURL
	if display == "" {
		display = target.Origin() + target.ContextPath()
	}
	link := &consumer.Link{ID: "cli", Signer: s, DisplayURL: display, Do: func(req *http.Request) (*http.Response, error) {
		// Sent to <base_url>, signed for --remote-base-url.
		t, _ := url.Parse(target.Origin())
		req.URL.Scheme, req.URL.Host, req.Host = t.Scheme, t.Host, ""
		return client.Do(req)
	}}

	rt, err := link.FetchRequestToken(ctx, callback)
	if err != nil {
		return 1, explain("request token", err)
	}
	if callback != "" && !rt.CallbackConfirmed {
		fmt.Fprintln(stderr, "Warning: the remote did not confirm the callback (an OAuth 1.0 provider?).")
	}
	authURL := link.AuthorizeURL(rt.Token, "")
	fmt.Fprintf(stderr, "Open this URL in a browser, log in as the user this token will act for, and allow access:\n\n  %s\n\n", authURL)

	verifier := o.Verifier
	in := bufio.NewReader(stdin)
	switch {
	case callback == "":
		fmt.Fprint(stderr, "Press Enter once you have allowed access. ")
		if _, err := in.ReadString('\n'); err != nil && !errors.Is(err, io.EOF) {
			return 1, err
		}
	case verifier == "":
		if callback == "oob" {
			fmt.Fprint(stderr, "Then type the verification code shown: ")
		} else {
			fmt.Fprintf(stderr, "Your browser is then sent to %s?oauth_token=...&oauth_verifier=...\nPaste that address (or the oauth_verifier value): ", callback)
		}
		line, err := in.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return 1, err
		}
		if verifier, err = verifierFrom(line, rt.Token); err != nil {
			return 1, err
		}
	}
	if verifier == "denied" {
		return 1, errors.New("access was denied at the remote (oauth_verifier=denied)")
	}

	g, err := link.ExchangeRequestToken(ctx, &signer.Token{Token: rt.Token, Secret: rt.Secret}, verifier)
	if err != nil {
		return 1, explain("access token", err)
	}
	now := time.Now().UTC()
	fmt.Fprintf(stderr, "\nAccess token obtained.\n")
	fmt.Fprintf(stdout, "oauth_token=%s\n", g.Token)
	fmt.Fprintf(stdout, "oauth_token_secret=%s\n", g.Secret)
	fmt.Fprintf(stdout, "oauth_session_handle=%s\n", g.SessionHandle)
	expiry := func(name string, d time.Duration) {
		if d > 0 {
			fmt.Fprintf(stdout, "%s=%d # %s\n", name, int64(d/time.Second), now.Add(d).Format(time.RFC3339))
		} else {
			fmt.Fprintf(stdout, "%s= # not given\n", name)
		}
	}
	expiry("oauth_expires_in", g.ExpiresIn)
	expiry("oauth_authorization_expires_in", g.SessionIn)
	signCmd := []string{"applink", "sign", "--consumer-key", o.ConsumerKey, "--key", o.KeyFile,
		"--token", g.Token, "--token-secret", g.Secret}
	if o.RemoteBaseURL != "" {
		signCmd = append(signCmd, "--remote-base-url", o.RemoteBaseURL)
	}
	signCmd = append(signCmd, target.Origin()+target.ContextPath()+"/rest/api/2/myself")
	quoted := make([]string, len(signCmd))
	for i, a := range signCmd {
		quoted[i] = shellQuote(a)
	}
	fmt.Fprintf(stdout, "# %s\n", strings.Join(quoted, " "))
	return 0, nil
}

// verifierFrom reads the verifier from what the user typed: the code, or
// the callback URL the browser was sent to.
func verifierFrom(line, token string) (string, error) {
	line = strings.TrimSpace(line)
	if line == "" {
		return "", errors.New("no verification code given")
	}
	if u, err := url.Parse(line); err == nil && u.Scheme != "" && u.RawQuery != "" {
		q := u.Query()
		if t := q.Get("oauth_token"); t != "" && t != token {
			return "", errors.New("that address is for another request token")
		}
		if v := q.Get("oauth_verifier"); v != "" {
			return v, nil
		}
		return "", errors.New("that address has no oauth_verifier")
	}
	if strings.HasPrefix(line, "oauth_verifier=") {
		return strings.TrimPrefix(line, "oauth_verifier="), nil
	}
	return line, nil
}

// explain adds what an operator can do to a remote's refusal.
func explain(step string, err error) error {
	var rerr *consumer.RemoteError
	if errors.As(err, &rerr) && rerr.Problem != "" {
		return fmt.Errorf("%s: %w\n%s", step, err, shortDiagnosis(rerr.Problem))
	}
	return fmt.Errorf("%s: %w", step, err)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/caddy-applink/caddy-applink/internal/consumer"
	"github.com/caddy-applink/caddy-applink/internal/signer"
)

func signCommand() Command {
	return Command{
		Name:  "sign",
		Usage: "[-X <method>] [-H '<name>: <value>']... [-d <data>] [-i] --consumer-key <key> --key <file> [--as <user> | --token <token> --token-secret <secret>] [--remote-base-url <url>] [--print-base-string] <url>",
		Short: "Sends a request signed as an application link",
		Long: `
Sends one HTTP request signed with OAuth 1.0a RSA-SHA1 the way an Atlassian
application signs application-link requests, and prints the response.

  2-legged (2LO)           by default: the remote runs it as the link's
                           execute-as user (oauth_token="")
  2LO with impersonation   --as <user>: xoauth_requestor_id=<user> in the query
  3-legged (3LO)           --token <access token> [--token-secret <secret>]

-X, --request          method (default GET, or POST with -d)
-H, --header           extra header "Name: value" (repeatable)
-d, --data             request body; @file reads a file, @- standard input.
                       Content-Type defaults to application/x-www-form-urlencoded,
                       whose parameters are signed (POST), as Tomcat parses them
-i, --include          print the status line and the response headers
--consumer-key         our consumer key, as the remote knows it (required)
--key                  our private key, PEM (required)
--remote-base-url      the remote's Base URL, as its Tomcat reconstructs it
                       (default: scheme://host[:port] of <url>)
--print-base-string    print the signature base string on standard error
--timeout              request timeout (default 30s)

The body goes to standard output; without -i the status line goes to
standard error. Redirects are not followed. Exit status: 0 for a response
below 400, 1 otherwise.
`,
		CobraFunc: func(cmd *cobra.Command) {
			var o SignOptions
			f := cmd.Flags()
			bindLinkFlags(cmd, &o.ConsumerKey, &o.KeyFile, &o.RemoteBaseURL, "The remote's Base URL (default: scheme://host of the URL)",
				&o.Timeout, 30*time.Second, "Request timeout")
			f.StringVarP(&o.Method, "request", "X", "", "HTTP method")
			f.StringArrayVarP(&o.Headers, "header", "H", nil, "Extra header, \"Name: value\" (repeatable)")
			f.StringVarP(&o.Data, "data", "d", "", "Request body (@file, @- for stdin)")
			f.BoolVarP(&o.Include, "include", "i", false, "Print the status line and response headers")
			f.StringVar(&o.As, "as", "", "User to impersonate (2LO with impersonation)")
			f.StringVar(&o.Token, "token", "", "3LO access token")
			f.StringVar(&o.TokenSecret, "token-secret", "", "3LO access token secret (unused by RSA-SHA1)")
			f.BoolVar(&o.PrintBaseString, "print-base-string", false, "Print the signature base string on stderr")
			cmd.Args = cobra.ExactArgs(1)
			cmd.RunE = runE(func(cmd *cobra.Command, args []string) (int, error) {
				o.URL = args[0]
				o.HasData = cmd.Flags().Changed("data")
				return Sign(cmd.Context(), o, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
			})
		},
	}
}

// bindLinkFlags binds the flags of every command that signs as our side of
// a link: --consumer-key, --key, --remote-base-url and --timeout.
func bindLinkFlags(cmd *cobra.Command, consumerKey, keyFile, remoteBaseURL *string, remoteUsage string,
	timeout *time.Duration, timeoutDefault time.Duration, timeoutUsage string) {
	f := cmd.Flags()
	f.StringVar(consumerKey, "consumer-key", "", "Our consumer key")
	f.StringVar(keyFile, "key", "", "Our private key file (PEM)")
	f.StringVar(remoteBaseURL, "remote-base-url", "", remoteUsage)
	f.DurationVar(timeout, "timeout", timeoutDefault, timeoutUsage)
}

// SignOptions are the flags of `applink sign`.
type SignOptions struct {
	URL             string
	Method          string
	Headers         []string
	Data            string
	HasData         bool // -d was given (possibly empty)
	Include         bool
	ConsumerKey     string
	KeyFile         string
	As              string
	Token           string
	TokenSecret     string
	RemoteBaseURL   string
	PrintBaseString bool
	Timeout         time.Duration
}

// maxResponseBody bounds what sign and check read of a response.
const maxResponseBody = 64 << 20

// Sign sends one signed request and prints the response.
func Sign(ctx context.Context, o SignOptions, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return 1, fmt.Errorf("want an absolute http(s) URL, got %q", o.URL)
	}
	mode, user, token, err := signMode(o.As, o.Token, o.TokenSecret)
	if err != nil {
		return 1, err
	}
	remote := o.RemoteBaseURL
	if remote == "" {
		remote = originOf(o.URL)
	}
	s, err := newSigner(o.ConsumerKey, o.KeyFile, remote)
	if err != nil {
		return 1, err
	}

	var body io.Reader
	if o.HasData {
		data, err := readData(o.Data, stdin)
		if err != nil {
			return 1, err
		}
		body = strings.NewReader(data)
	}
	method := strings.ToUpper(o.Method)
	if method == "" {
		method = http.MethodGet
		if o.HasData {
			method = http.MethodPost
		}
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, o.URL, body)
	if err != nil {
		return 1, err
	}
	for _, h := range o.Headers {
		name, value, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return 1, fmt.Errorf("-H %q: want \"Name: value\"", h)
		}
		req.Header.Add(name, strings.TrimSpace(value))
	}
	if o.HasData && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}

	signed, err := s.SignRequest(req, mode, user, token)
	if err != nil {
		return 1, err
	}
	if o.PrintBaseString {
		fmt.Fprintln(stderr, signed.BaseString)
	}
	resp, err := newClient(timeout).Do(req)
	if err != nil {
		return 1, fmt.Errorf("%s %s: %w", method, o.URL, err)
	}
	defer resp.Body.Close()

	statusLine := resp.Proto + " " + resp.Status
	if o.Include {
		fmt.Fprintf(stdout, "%s\r\n", statusLine)
		writeHeaders(stdout, resp.Header)
		fmt.Fprint(stdout, "\r\n")
	} else {
		fmt.Fprintln(stderr, statusLine)
	}
	if _, err := io.Copy(stdout, io.LimitReader(resp.Body, maxResponseBody)); err != nil {
		return 1, fmt.Errorf("reading the response: %w", err)
	}
	if resp.StatusCode >= 400 {
		if rp, ok := consumer.ParseProblem(resp.Header.Values("WWW-Authenticate")); ok {
			label := rp.Problem
			if label == "" {
				label = "(none)"
			}
			cause := shortDiagnosis(rp.Problem)
			if resp.Header.Get(consumer.VerifierHeader) != "" {
				cause = "refused by the caddy-applink proxy at this URL, by its own consumer blocks (the product behind it was not asked)"
			}
			fmt.Fprintf(stderr, "oauth_problem %s: %s\nRun `applink check` against the remote's base URL for a full diagnosis.\n",
				label, cause)
		}
		return 1, nil
	}
	return 0, nil
}

// signMode picks the OAuth flavour from the identity flags.
func signMode(as, token, secret string) (signer.Mode, string, *signer.Token, error) {
	switch {
	case as != "" && token != "":
		return "", "", nil, errors.New("--as and --token exclude each other (impersonation or 3LO)")
	case secret != "" && token == "":
		return "", "", nil, errors.New("--token-secret needs --token")
	case as != "":
		return signer.ModeImpersonation, as, nil, nil
	case token != "":
		return signer.Mode3LO, "", &signer.Token{Token: token, Secret: secret}, nil
	}
	return signer.Mode2LO, "", nil, nil
}

func readData(d string, stdin io.Reader) (string, error) {
	name, ok := strings.CutPrefix(d, "@")
	if !ok {
		return d, nil
	}
	var b []byte
	var err error
	if name == "-" {
		b, err = readLimited(stdin, maxResponseBody)
	} else {
		b, err = os.ReadFile(name)
	}
	if err != nil {
		return "", fmt.Errorf("-d @%s: %w", name, err)
	}
	return string(b), nil
}

func writeHeaders(w io.Writer, h http.Header) {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range h[k] {
			fmt.Fprintf(w, "%s: %s\r\n", k, v)
		}
	}
}

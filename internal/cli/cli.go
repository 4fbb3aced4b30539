// Package cli holds the bodies of caddy-applink's subcommands (keygen,
// sign, check, dance, health): each is a thin cobra wrapper around a
// function that takes its options and output streams, so tests call them
// directly. The caddymodule package registers them with Caddy's command
// line.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/caddy-applink/caddy-applink/internal/rsakey"
	"github.com/caddy-applink/caddy-applink/internal/signer"
)

// Command is one subcommand, in the shape Caddy's command line takes
// (caddycmd.Command) without depending on it.
type Command struct {
	Name, Usage, Short, Long string
	CobraFunc                func(*cobra.Command)
}

// Execute runs c as the binary would, cobra's flag parsing included, with
// the given arguments and streams, and returns its exit status.
func Execute(ctx context.Context, c Command, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := &cobra.Command{Use: c.Name}
	c.CobraFunc(cmd)
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	cmd.SetIn(stdin)
	if err := cmd.ExecuteContext(ctx); err != nil {
		return 1
	}
	return 0
}

// Commands returns the subcommands.
func Commands() []Command {
	return []Command{keygenCommand(), signCommand(), checkCommand(), danceCommand(), healthCommand()}
}

// errFailed makes the binary exit with status 1 after the command has
// already said why.
var errFailed = errors.New("failed")

// runE adapts a command function to cobra: output goes to the command's
// streams, an error is printed once, and a non-zero status exits 1.
func runE(f func(cmd *cobra.Command, args []string) (int, error)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		cmd.SilenceUsage = true
		code, err := f(cmd, args)
		if err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "applink %s: %v\n", cmd.Name(), err)
			cmd.SilenceErrors = true
			return err
		}
		if code != 0 {
			cmd.SilenceErrors = true
			return errFailed
		}
		return nil
	}
}

// newSigner loads a private key and builds a signer for remoteBase.
func newSigner(consumerKey, keyFile, remoteBase string) (*signer.Signer, error) {
	if consumerKey == "" {
		return nil, errors.New("--consumer-key is required")
	}
	if keyFile == "" {
		return nil, errors.New("--key is required")
	}
	key, err := rsakey.LoadPrivate(keyFile)
	if err != nil {
		return nil, fmt.Errorf("--key: %w", err)
	}
	return signer.New(signer.Config{ConsumerKey: consumerKey, PrivateKey: key, RemoteBaseURL: remoteBase})
}

// newClient is an HTTP client that does not follow redirects: a signature
// is valid for one URL only, and the applinks wizard does not follow them
// either.
func newClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout:       timeout,
		Transport:     http.DefaultTransport.(*http.Transport).Clone(),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// originOf is scheme://host[:port] of an absolute URL.
func originOf(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	host, _, _ := strings.Cut(rest, "/")
	host, _, _ = strings.Cut(host, "?")
	host, _, _ = strings.Cut(host, "#")
	return scheme + "://" + host
}

// readLimited reads at most n bytes of r.
func readLimited(r io.Reader, n int64) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r, n))
}

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// DefaultAdminAddress is Caddy's default admin endpoint, as `applink run`
// listens on it when the config does not say otherwise (and CADDY_ADMIN
// is not set).
const DefaultAdminAddress = "localhost:2019"

// ReadyPath is the admin endpoint's readiness route (caddymodule's
// AdminAPI): 200 {"ready":true,...} when every store in use answers, 503
// {"ready":false,"stores":{name: error}} otherwise.
const ReadyPath = "/applink/ready"

func healthCommand() Command {
	return Command{
		Name:  "health",
		Usage: "[--address <addr>] [--timeout <d>]",
		Short: "Exits 0 when a running applink is ready: a container's health check",
		Long: `
Asks the admin endpoint of a running applink whether it is ready
(GET /applink/ready): every state store the running config uses (a state
file, Redis) answers. Exit status 0, with "ready" on standard output, when
it is; 1 otherwise, with one line on standard error that says why: the
admin endpoint cannot be reached, or which store does not answer.

--address  the admin endpoint (default: $CADDY_ADMIN, else localhost:2019):
           host:port, or unix/<path> for a socket
--timeout  for the whole check (default 5s)

It is the Docker image's HEALTHCHECK:

  applink health
  applink health --address localhost:2020
`,
		CobraFunc: func(cmd *cobra.Command) {
			var o HealthOptions
			f := cmd.Flags()
			f.StringVar(&o.Address, "address", "", "Admin endpoint address (default $CADDY_ADMIN, else "+DefaultAdminAddress+")")
			f.DurationVar(&o.Timeout, "timeout", 5*time.Second, "Timeout of the whole check")
			cmd.Args = cobra.NoArgs
			cmd.RunE = runE(func(cmd *cobra.Command, _ []string) (int, error) {
				return Health(cmd.Context(), o, cmd.OutOrStdout())
			})
		},
	}
}

// HealthOptions are the flags of `applink health`.
type HealthOptions struct {
	Address string        // admin endpoint; "" for $CADDY_ADMIN or DefaultAdminAddress
	Timeout time.Duration // 0 for 5s
}

// Health asks the admin endpoint whether the proxy is ready. It writes
// "ready" to out and returns 0 when it is; otherwise it returns 1 and an
// error whose text is the one-line reason.
func Health(ctx context.Context, o HealthOptions, out io.Writer) (int, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	addr := adminAddress(o.Address)
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	status, body, err := adminGet(ctx, addr, ReadyPath)
	if err != nil {
		return 1, fmt.Errorf("admin endpoint %s unreachable: %v", addr, err)
	}
	var answer struct {
		Ready  *bool             `json:"ready"`
		Stores map[string]string `json:"stores"`
	}
	if json.Unmarshal(body, &answer) != nil || answer.Ready == nil {
		return 1, fmt.Errorf("admin endpoint %s answered HTTP %d to %s, not a readiness report: %s", addr, status, ReadyPath, oneLine(body, 200))
	}
	if status == http.StatusOK && *answer.Ready {
		_, err := fmt.Fprintln(out, "ready")
		return 0, err
	}
	var failing []string
	for name, s := range answer.Stores {
		if s != "ok" {
			failing = append(failing, name+": "+s)
		}
	}
	sort.Strings(failing)
	if len(failing) == 0 {
		return 1, fmt.Errorf("not ready (HTTP %d)", status)
	}
	return 1, errors.New("not ready: " + oneLine([]byte(strings.Join(failing, "; ")), 500))
}

// adminAddress is the admin endpoint to ask: flag when given, else
// $CADDY_ADMIN (as Caddy's own default), else DefaultAdminAddress.
func adminAddress(flag string) string {
	for _, a := range []string{flag, os.Getenv("CADDY_ADMIN")} {
		if a != "" {
			return a
		}
	}
	return DefaultAdminAddress
}

// adminGet GETs path from the admin endpoint at addr (host:port, or
// unix/<path>[|mode] as Caddy writes a socket address) and returns the
// status and at most 64 KiB of the body.
func adminGet(ctx context.Context, addr, path string) (int, []byte, error) {
	network, dialAddr, host := "tcp", addr, addr
	if rest, ok := strings.CutPrefix(addr, "unix/"); ok {
		sock, _, _ := strings.Cut(rest, "|") // the optional socket file mode
		// Caddy wants a loopback Host on a socket.
		network, dialAddr, host = "unix", sock, "127.0.0.1"
	} else if strings.Contains(addr, "://") || strings.Contains(addr, "/") {
		return 0, nil, fmt.Errorf("want host:port or unix/<path>, not %q", addr)
	}
	var d net.Dialer
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, dialAddr)
		},
		DisableKeepAlives: true,
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+path, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		if uerr := (*url.Error)(nil); errors.As(err, &uerr) {
			err = uerr.Err // without Go's `Get "http://...":`
		}
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := readLimited(resp.Body, 64<<10)
	return resp.StatusCode, body, err
}

// oneLine is b on one line (newlines as spaces, trimmed), at most n bytes.
func oneLine(b []byte, n int) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > n {
		s = s[:n] + "..."
	}
	return s
}

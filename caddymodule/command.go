package caddymodule

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/caddy-applink/caddy-applink/internal/cli"
)

// The subcommands keygen, sign, check, dance and health, whose bodies live
// in internal/cli.
func init() {
	for _, c := range cli.Commands() {
		caddycmd.RegisterCommand(caddycmd.Command{Name: c.Name, Usage: c.Usage, Short: c.Short, Long: c.Long, CobraFunc: c.CobraFunc})
	}
}

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "tokens",
		Usage: "list|revoke [--user U] [--consumer C] [--token T] [--id ID] [--address ADDR] [--config FILE]",
		Short: "Lists or revokes the 3-legged OAuth tokens of a running applink",
		Long: `
Talks to the admin API of a running applink (GET /applink/tokens,
POST /applink/tokens/revoke).

  applink tokens list [--user U] [--consumer C] [--json]
  applink tokens revoke --token T | --id ID | --user U | --consumer C

Token values are never listed: the proxy does not store them. --id is the
token's SHA-256 as listed; --token takes the value a consumer holds.
The admin address is found like "caddy reload" finds it: --address, or the
config given with --config, or the default localhost:2019.`,
		CobraFunc: adminCommand(func(cmd *cobra.Command) {
			cmd.Flags().String("user", "", "Only this user's tokens")
			cmd.Flags().String("consumer", "", "Only this consumer's tokens")
			cmd.Flags().String("token", "", "revoke: the token value")
			cmd.Flags().String("id", "", "The token ID (as listed)")
		}, func(addr, action string, fs caddycmd.Flags) error {
			sel := revokeRequest{Token: fs.String("token"), ID: fs.String("id"), User: fs.String("user"), Consumer: fs.String("consumer")}
			return tokens(addr, action, sel, fs.Bool("json"), os.Stdout)
		}),
	})
}

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "remote-tokens",
		Usage: "list|forget [--remote URL] [--user U] [--json] [--address ADDR] [--config FILE]",
		Short: "Lists or forgets the tokens a running applink holds as a consumer of remote apps",
		Long: `
Talks to the admin API of a running applink (GET /applink/remote-tokens,
POST /applink/remote-tokens/forget). These are the 3-legged tokens the
applink transport obtained through the consumer-side dance, one per remote
and local user, and the dances still in progress ("pending").

  applink remote-tokens list [--remote URL] [--user U] [--json]
  applink remote-tokens forget --remote URL | --user U

Token values are never shown. Forgetting is local: the user must dance
again, and the remote honours the token until it is revoked there too.`,
		CobraFunc: adminCommand(func(cmd *cobra.Command) {
			cmd.Flags().String("remote", "", "Only this remote (its base URL)")
			cmd.Flags().String("user", "", "Only this local user")
		}, func(addr, action string, fs caddycmd.Flags) error {
			return remoteTokens(addr, action, forgetRequest{Remote: fs.String("remote"), User: fs.String("user")}, fs.Bool("json"), os.Stdout)
		}),
	})
}

// remoteTokens runs "applink remote-tokens list|forget" against the admin
// API at addr.
func remoteTokens(addr, action string, sel forgetRequest, asJSON bool, w io.Writer) error {
	switch action {
	case "list":
		path := "/applink/remote-tokens?" + query(map[string]string{"remote": sel.Remote, "user": sel.User})
		return listing(addr, path, asJSON, w, "REMOTE\tUSER\tSTATE\tCREATED\tEXPIRES\tSESSION ENDS", func(t remoteTokenInfo) []string {
			return []string{t.Remote, t.User, t.State, stamp(t.Created, minute), stamp(t.Expires, day), stamp(t.SessionEnds, day)}
		})
	case "forget":
		if sel == (forgetRequest{}) {
			return errors.New("forget needs --remote, --user or both")
		}
		return adminCount(addr, "/applink/remote-tokens/forget", sel, "forgotten", "forgot", w)
	}
	return fmt.Errorf("unknown action %q: want list or forget", action)
}

// adminCommand is the CobraFunc of a subcommand that runs an action, its
// one argument, against the admin API of a running applink: flags adds the
// subcommand's own flags, to which come --json and the flags that find the
// admin API, as "caddy reload" has them; run gets the admin address.
func adminCommand(flags func(*cobra.Command), run func(addr, action string, fs caddycmd.Flags) error) func(*cobra.Command) {
	return func(cmd *cobra.Command) {
		cmd.Args = cobra.ExactArgs(1)
		flags(cmd)
		cmd.Flags().Bool("json", false, "list: print JSON")
		cmd.Flags().String("address", "", "The admin API address")
		cmd.Flags().StringP("config", "c", "", "Config file, to find the admin address")
		cmd.Flags().StringP("adapter", "a", "", "Name of config adapter")
		cmd.RunE = func(cmd *cobra.Command, args []string) error {
			fs := caddycmd.Flags{FlagSet: cmd.Flags()}
			addr, err := adminAddress(fs)
			if err != nil {
				return err
			}
			return run(addr, args[0], fs)
		}
	}
}

// adminAddress finds the admin API as "caddy reload" does: --address, or
// the config given with --config, or the default localhost:2019.
func adminAddress(fs caddycmd.Flags) (string, error) {
	addr, err := caddycmd.DetermineAdminAPIAddress(fs.String("address"), nil, fs.String("config"), fs.String("adapter"))
	if err != nil {
		return "", fmt.Errorf("finding the admin address: %w", err)
	}
	return addr, nil
}

// listing writes the list at path of the admin API at addr to w: as the
// JSON it is with asJSON, else as a table of the columns header names (tab
// separated), a row of cells for each entry.
func listing[T any](addr, path string, asJSON bool, w io.Writer, header string, cells func(T) []string) error {
	body, err := adminGet(addr, path)
	if err != nil {
		return err
	}
	if asJSON {
		_, err := w.Write(body)
		return err
	}
	var list []T
	if err := json.Unmarshal(body, &list); err != nil {
		return fmt.Errorf("admin API answered %q: %w", body, err)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, e := range list {
		fmt.Fprintln(tw, strings.Join(cells(e), "\t"))
	}
	return tw.Flush()
}

// Layouts of the listings' times, in UTC.
const (
	minute = "2006-01-02 15:04"
	day    = "2006-01-02"
)

// stamp is t in UTC as layout, "-" for none.
func stamp(t time.Time, layout string) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(layout)
}

// adminCount posts sel to path of the admin API at addr and writes how many
// tokens the answer's field counts: "<done> N token(s)".
func adminCount(addr, path string, sel any, field, done string, w io.Writer) error {
	var out map[string]int
	if err := adminPost(addr, path, sel, &out); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%s %d token(s)\n", done, out[field])
	return err
}

// query is the params that are set, as a query string.
func query(params map[string]string) string {
	q := url.Values{}
	for k, v := range params {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q.Encode()
}

// adminGet fetches path from the admin API at addr.
func adminGet(addr, path string) ([]byte, error) {
	resp, err := caddycmd.AdminAPIRequest(addr, http.MethodGet, path, nil, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// adminPost posts req as JSON to path of the admin API at addr and decodes
// the answer into out.
func adminPost(addr, path string, req, out any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	resp, err := caddycmd.AdminAPIRequest(addr, http.MethodPost, path,
		http.Header{"Content-Type": {"application/json"}}, bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

// tokens runs "applink tokens list|revoke" against the admin API at addr.
func tokens(addr, action string, sel revokeRequest, asJSON bool, w io.Writer) error {
	switch action {
	case "list":
		path := "/applink/tokens?" + query(map[string]string{"user": sel.User, "consumer": sel.Consumer, "id": sel.ID})
		return listing(addr, path, asJSON, w, "ID\tKIND\tCONSUMER\tUSER\tCREATED\tLAST USED\tEXPIRES", func(t tokenInfo) []string {
			return []string{t.ID, t.Kind, t.Consumer, t.User, stamp(t.Created, minute), stamp(t.LastUsed, minute), t.Expires.UTC().Format(day)}
		})
	case "revoke":
		if sel == (revokeRequest{}) {
			return errors.New("revoke needs --token, --id, --user or --consumer")
		}
		return adminCount(addr, "/applink/tokens/revoke", sel, "revoked", "revoked", w)
	}
	return fmt.Errorf("unknown action %q: want list or revoke", action)
}

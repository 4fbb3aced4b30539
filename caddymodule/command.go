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
	"text/tabwriter"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/caddy-applink/caddy-applink/internal/cli"
)

// The subcommands keygen, sign, check and dance, whose bodies live in
// internal/cli.
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
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Args = cobra.ExactArgs(1)
			cmd.Flags().String("user", "", "Only this user's tokens")
			cmd.Flags().String("consumer", "", "Only this consumer's tokens")
			cmd.Flags().String("token", "", "revoke: the token value")
			cmd.Flags().String("id", "", "The token ID (as listed)")
			cmd.Flags().Bool("json", false, "list: print JSON")
			adminAddressFlags(cmd)
			cmd.RunE = func(cmd *cobra.Command, args []string) error {
				fs := caddycmd.Flags{FlagSet: cmd.Flags()}
				code, err := cmdTokens(fs, args[0])
				if err != nil {
					return err
				}
				if code != 0 {
					os.Exit(code)
				}
				return nil
			}
		},
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
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Args = cobra.ExactArgs(1)
			cmd.Flags().String("remote", "", "Only this remote (its base URL)")
			cmd.Flags().String("user", "", "Only this local user")
			cmd.Flags().Bool("json", false, "list: print JSON")
			adminAddressFlags(cmd)
			cmd.RunE = func(cmd *cobra.Command, args []string) error {
				fs := caddycmd.Flags{FlagSet: cmd.Flags()}
				addr, err := adminAddress(fs)
				if err != nil {
					return err
				}
				return remoteTokens(addr, args[0], forgetRequest{Remote: fs.String("remote"), User: fs.String("user")}, fs.Bool("json"), os.Stdout)
			}
		},
	})
}

// remoteTokens runs "applink remote-tokens list|forget" against the admin
// API at addr.
func remoteTokens(addr, action string, sel forgetRequest, asJSON bool, w io.Writer) error {
	switch action {
	case "list":
		q := url.Values{}
		if sel.Remote != "" {
			q.Set("remote", sel.Remote)
		}
		if sel.User != "" {
			q.Set("user", sel.User)
		}
		body, err := adminGet(addr, "/applink/remote-tokens?"+q.Encode())
		if err != nil {
			return err
		}
		if asJSON {
			_, err := w.Write(body)
			return err
		}
		var list []remoteTokenInfo
		if err := json.Unmarshal(body, &list); err != nil {
			return fmt.Errorf("admin API answered %q: %w", body, err)
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "REMOTE\tUSER\tSTATE\tCREATED\tEXPIRES\tSESSION ENDS")
		day := func(t time.Time) string {
			if t.IsZero() {
				return "-"
			}
			return t.UTC().Format("2006-01-02")
		}
		for _, t := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Remote, t.User, t.State,
				t.Created.UTC().Format("2006-01-02 15:04"), day(t.Expires), day(t.SessionEnds))
		}
		return tw.Flush()
	case "forget":
		if sel == (forgetRequest{}) {
			return errors.New("forget needs --remote, --user or both")
		}
		var out struct {
			Forgotten int `json:"forgotten"`
		}
		if err := adminPost(addr, "/applink/remote-tokens/forget", sel, &out); err != nil {
			return err
		}
		_, err := fmt.Fprintf(w, "forgot %d token(s)\n", out.Forgotten)
		return err
	}
	return fmt.Errorf("unknown action %q: want list or forget", action)
}

// adminAddressFlags adds the flags that find a running applink's admin
// API, as "caddy reload" has them.
func adminAddressFlags(cmd *cobra.Command) {
	cmd.Flags().String("address", "", "The admin API address")
	cmd.Flags().StringP("config", "c", "", "Config file, to find the admin address")
	cmd.Flags().StringP("adapter", "a", "", "Name of config adapter")
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

func cmdTokens(fs caddycmd.Flags, action string) (int, error) {
	addr, err := adminAddress(fs)
	if err != nil {
		return 1, err
	}
	switch action {
	case "list":
		q := url.Values{}
		for _, k := range []string{"user", "consumer", "id"} {
			if v := fs.String(k); v != "" {
				q.Set(k, v)
			}
		}
		body, err := adminGet(addr, "/applink/tokens?"+q.Encode())
		if err != nil {
			return 1, err
		}
		if fs.Bool("json") {
			_, _ = os.Stdout.Write(body)
			return 0, nil
		}
		var list []tokenInfo
		if err := json.Unmarshal(body, &list); err != nil {
			return 1, fmt.Errorf("admin API answered %q: %w", body, err)
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tKIND\tCONSUMER\tUSER\tCREATED\tLAST USED\tEXPIRES")
		for _, t := range list {
			last := "-"
			if !t.LastUsed.IsZero() {
				last = t.LastUsed.UTC().Format("2006-01-02 15:04")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Kind, t.Consumer, t.User,
				t.Created.UTC().Format("2006-01-02 15:04"), last, t.Expires.UTC().Format("2006-01-02"))
		}
		return 0, tw.Flush()
	case "revoke":
		req := revokeRequest{Token: fs.String("token"), ID: fs.String("id"), User: fs.String("user"), Consumer: fs.String("consumer")}
		if req == (revokeRequest{}) {
			return 1, errors.New("revoke needs --token, --id, --user or --consumer")
		}
		var out struct {
			Revoked int `json:"revoked"`
		}
		if err := adminPost(addr, "/applink/tokens/revoke", req, &out); err != nil {
			return 1, err
		}
		fmt.Printf("revoked %d token(s)\n", out.Revoked)
		return 0, nil
	}
	return 1, fmt.Errorf("unknown action %q: want list or revoke", action)
}

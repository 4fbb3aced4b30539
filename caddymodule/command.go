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

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

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
			cmd.Flags().String("address", "", "The admin API address")
			cmd.Flags().StringP("config", "c", "", "Config file, to find the admin address")
			cmd.Flags().StringP("adapter", "a", "", "Name of config adapter")
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

func cmdTokens(fs caddycmd.Flags, action string) (int, error) {
	addr, err := caddycmd.DetermineAdminAPIAddress(fs.String("address"), nil, fs.String("config"), fs.String("adapter"))
	if err != nil {
		return 1, fmt.Errorf("finding the admin address: %w", err)
	}
	switch action {
	case "list":
		q := url.Values{}
		for _, k := range []string{"user", "consumer", "id"} {
			if v := fs.String(k); v != "" {
				q.Set(k, v)
			}
		}
		resp, err := caddycmd.AdminAPIRequest(addr, http.MethodGet, "/applink/tokens?"+q.Encode(), nil, nil)
		if err != nil {
			return 1, err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if fs.Bool("json") {
			_, _ = os.Stdout.Write(body)
			return 0, nil
		}
		var list []TokenInfo
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
		req := RevokeRequest{Token: fs.String("token"), ID: fs.String("id"), User: fs.String("user"), Consumer: fs.String("consumer")}
		if req == (RevokeRequest{}) {
			return 1, errors.New("revoke needs --token, --id, --user or --consumer")
		}
		body, _ := json.Marshal(req)
		resp, err := caddycmd.AdminAPIRequest(addr, http.MethodPost, "/applink/tokens/revoke",
			http.Header{"Content-Type": {"application/json"}}, bytes.NewReader(body))
		if err != nil {
			return 1, err
		}
		defer resp.Body.Close()
		var out struct {
			Revoked int `json:"revoked"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			return 1, err
		}
		fmt.Printf("revoked %d token(s)\n", out.Revoked)
		return 0, nil
	}
	return 1, fmt.Errorf("unknown action %q: want list or revoke", action)
}

package main

import (
	"fmt"
	"regexp"
	"strings"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

const binaryName = "applink"

// longDescription is the root command's text (`applink help`).
const longDescription = `applink is Caddy (https://caddyserver.com) with the caddy-applink modules
compiled in. It verifies the OAuth 1.0a requests of Atlassian application
links in front of Jira, Confluence, Bamboo or Bitbucket Data Center, hands
the product one user, and signs what it sends to a remote product as a
linked application.

Every Caddy subcommand works as it does in Caddy (run, start, stop, reload,
adapt, validate, fmt, list-modules, version, ...), and applink adds its own:

	- 'applink keygen' makes the RSA key pair of a link;
	- 'applink sign' sends one signed request, 'applink check' diagnoses a
	  link in words, 'applink dance' runs the 3-legged dance from a terminal;
	- 'applink tokens' and 'applink remote-tokens' list, revoke or forget
	  the tokens of a running proxy;
	- 'applink health' exits 0 when a running proxy is ready.

To run the proxy in the foreground on a Caddyfile (recommended):

	$ applink run --config Caddyfile

then, after editing it, check it and apply it without a restart:

	$ applink validate --config Caddyfile
	$ applink reload --config Caddyfile

A running applink opens Caddy's admin endpoint (localhost:2019 unless the
config says otherwise): 'applink reload', 'applink stop', the token
commands and 'applink health' talk to it. Keep it on localhost or a
private interface.

The directives applink, transport applink, applink_dance and
applink_publish are described in caddy-applink's README and
docs/configuration.md. For everything else, Caddy's documentation applies,
with applink for caddy: https://caddyserver.com/docs/
`

// rootExamples are the root command's examples.
const rootExamples = `  $ applink run --config Caddyfile
  $ applink validate --config Caddyfile
  $ applink reload --config Caddyfile
  $ applink keygen --out keys/applink
  $ applink health
  $ applink stop`

// Caddy's footer of every help page, and applink's.
const (
	caddyDocsFooter = "Full documentation is available at:\nhttps://caddyserver.com/docs/command-line"
	docsFooter      = "Caddy's commands are documented at (read applink for caddy there):\nhttps://caddyserver.com/docs/command-line"
)

// onRoot runs f on the root command once Caddy has built it with every
// subcommand, before it runs: in the CobraFunc of a command registered
// after all the others (this package's init runs after those of the
// packages it imports, which register theirs), whose parent is found
// through a probe registered just before it. Caddy adds commands to the
// root in the order they are registered. The probe is removed; the last
// command is left, hidden, and answers as an unknown command would.
func onRoot(f func(root *cobra.Command)) {
	var probe *cobra.Command
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:      "applink-root-probe",
		Short:     "Finds the root command (hidden)",
		CobraFunc: func(c *cobra.Command) { c.Hidden, probe = true, c },
	})
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "applink-root-hook",
		Short: "Rewrites the help of the root command (hidden)",
		CobraFunc: func(c *cobra.Command) {
			c.Hidden = true
			c.Args = cobra.ArbitraryArgs
			c.RunE = func(c *cobra.Command, _ []string) error {
				return fmt.Errorf("unknown command %q for %q", c.Name(), c.Root().Name())
			}
			if probe == nil || probe.Parent() == nil {
				return // Caddy builds its commands otherwise: help says caddy
			}
			root := probe.Parent()
			root.RemoveCommand(probe)
			f(root)
		},
	})
}

// rebrand gives root applink's examples and footer, and makes every
// command's help name the binary applink where it says caddy.
func rebrand(root *cobra.Command) {
	root.Long = longDescription
	root.Example = rootExamples
	root.SetHelpTemplate(strings.Replace(root.HelpTemplate(), caddyDocsFooter, docsFooter, 1))
	names := map[string]bool{"help": true}
	for _, c := range root.Commands() {
		names[c.Name()] = true
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Long = renameCommand(c.Long, names)
		c.Example = renameCommand(c.Example, names)
		c.Short = renameCommand(c.Short, names)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	for _, c := range root.Commands() {
		walk(c)
	}
}

// caddyCommand is "caddy" where it names the binary: a word of its own (not
// part of a path, host or file name) followed by one of its commands.
var caddyCommand = regexp.MustCompile(`(^|[^\w./@-])caddy( +)([a-z][a-z0-9-]*)`)

// renameCommand rewrites "caddy <command>" as "applink <command>" in s,
// for the commands in names. "Caddy", the project, and links are kept.
func renameCommand(s string, names map[string]bool) string {
	return caddyCommand.ReplaceAllStringFunc(s, func(m string) string {
		sub := caddyCommand.FindStringSubmatch(m)
		if !names[sub[3]] {
			return m
		}
		return sub[1] + binaryName + sub[2] + sub[3]
	})
}

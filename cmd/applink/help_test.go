package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// caddyAsCommand is "caddy" used as the name of the binary: at the start
// of a line or of an example, or quoted, followed by a word.
var caddyAsCommand = regexp.MustCompile(`(^|\$ |> |PS> |['"\x60(]|\bso |\buse |\btype )caddy [a-z-]`)

// TestHelpSaysApplink runs the real binary's help as a user would: every
// usage line and example names applink, the root command has applink's own
// text and examples, Caddy's project name and links are kept, and no help
// page of any command (Caddy's and ours) tells to type "caddy ...".
func TestHelpSaysApplink(t *testing.T) {
	bin := buildBinary(t)
	help := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("applink %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	check := func(what, out string) {
		t.Helper()
		if !strings.Contains(out, "Usage:\n") {
			t.Errorf("%s: no usage:\n%s", what, out)
		}
		inUsage := false
		for _, line := range strings.Split(out, "\n") {
			trimmed := strings.TrimSpace(line)
			if caddyAsCommand.MatchString(trimmed) || strings.HasPrefix(trimmed, "caddy ") || strings.HasPrefix(trimmed, "$ caddy") {
				t.Errorf("%s: a line names the command caddy: %q", what, line)
			}
			switch {
			case line == "Usage:":
				inUsage = true
			case inUsage && trimmed == "":
				inUsage = false
			case inUsage && !strings.HasPrefix(trimmed, "applink"):
				t.Errorf("%s: a usage line does not start with applink: %q", what, line)
			}
		}
	}

	root := help("help")
	for _, args := range [][]string{{"--help"}, {"-h"}, {}} {
		if got := help(args...); got != root {
			t.Errorf("applink %v differs from applink help:\n%s", args, got)
		}
	}
	check("applink help", root)
	for _, want := range []string{
		"applink is Caddy (https://caddyserver.com) with the caddy-applink modules",
		"Examples:\n  $ applink run --config Caddyfile\n",
		"  $ applink health\n",
		"Usage:\n  applink [command]\n",
		"Use \"applink [command] --help\" for more information about a command.",
		"https://caddyserver.com/docs/command-line",
	} {
		if !strings.Contains(root, want) {
			t.Errorf("applink help lacks %q:\n%s", want, root)
		}
	}
	if strings.Contains(root, "applink-root") {
		t.Errorf("applink help lists the hidden commands:\n%s", root)
	}

	// Every command and subcommand listed, by `help X` and `X --help`.
	commands := listed(root)
	for _, want := range []string{"run", "reload", "validate", "adapt", "start", "storage", "keygen", "health", "tokens"} {
		if !commands[want] {
			t.Errorf("applink help does not list %s", want)
		}
	}
	for len(commands) > 0 {
		next := map[string]bool{}
		for c := range commands {
			args := strings.Fields(c)
			out := help(append([]string{"help"}, args...)...)
			check("applink help "+c, out)
			if c == "run" || c == "keygen" || c == "reload" {
				if flag := help(append(args, "--help")...); flag != out {
					t.Errorf("applink %s --help differs from applink help %s:\n%s", c, c, flag)
				}
			}
			for sub := range listed(out) {
				next[c+" "+sub] = true
			}
		}
		commands = next
	}

	// The texts that name the command keep naming the project Caddy and
	// its links.
	for args, want := range map[string][]string{
		"help run":        {"Usage:\n  applink run [--config <path>", "Starts the Caddy process"},
		"help reload":     {"Usage:\n  applink reload --config <path>", "Gives the running Caddy instance a new configuration"},
		"help start":      {"using 'applink run' instead"},
		"help storage":    {"$ applink storage export --config Caddyfile.old", "> applink storage import"},
		"help environ":    {`the same time you use "applink run"`},
		"help keygen":     {"Usage:\n  applink keygen --out <dir/name>"},
		"help tokens":     {`like "applink reload" finds it`},
		"help health":     {"Usage:\n  applink health [--address <addr>]", "  applink health --address localhost:2020"},
		"help completion": {"$ source <(applink completion bash)", "/etc/bash_completion.d/applink"},
	} {
		out := help(strings.Fields(args)...)
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("applink %s lacks %q:\n%s", args, w, out)
			}
		}
	}

	// The man pages too.
	dir := t.TempDir()
	help("manpage", "--directory", dir)
	pages, _ := filepath.Glob(filepath.Join(dir, "*.8"))
	if len(pages) < 20 {
		t.Fatalf("manpage wrote %d pages", len(pages))
	}
	for _, p := range pages {
		if !strings.HasPrefix(filepath.Base(p), "applink") {
			t.Errorf("man page %s", filepath.Base(p))
		}
		data, _ := os.ReadFile(p)
		for _, line := range strings.Split(string(data), "\n") {
			if caddyAsCommand.MatchString(strings.TrimSpace(line)) {
				t.Errorf("%s: %q", filepath.Base(p), line)
			}
		}
	}
}

// listed is the commands of a help page's "Available Commands".
func listed(help string) map[string]bool {
	out := map[string]bool{}
	_, rest, ok := strings.Cut(help, "\nAvailable Commands:\n")
	if !ok {
		return out
	}
	for _, line := range strings.Split(rest, "\n") {
		if !strings.HasPrefix(line, "  ") {
			break
		}
		if name := strings.Fields(line)[0]; name != "help" {
			out[name] = true
		}
	}
	return out
}

// TestRenameCommand: "caddy" becomes applink where it names the binary
// and one of its commands, nowhere else.
func TestRenameCommand(t *testing.T) {
	names := map[string]bool{"run": true, "storage": true, "reload": true}
	for in, want := range map[string]string{
		"using 'caddy run' instead":                        "using 'applink run' instead",
		"$ caddy storage export |\n> caddy storage import": "$ applink storage export |\n> applink storage import",
		`like "caddy reload" finds it`:                     `like "applink reload" finds it`,
		"caddy run":                                        "applink run",
		"Caddy run":                                        "Caddy run",
		"the caddy process":                                "the caddy process",
		"https://caddyserver.com/docs/caddy run":           "https://caddyserver.com/docs/caddy run",
		"github.com/caddyserver/caddy run":                 "github.com/caddyserver/caddy run",
		"xcaddy run":                                       "xcaddy run",
		"caddy.json run":                                   "caddy.json run",
		"caddy  run":                                       "applink  run",
	} {
		if got := renameCommand(in, names); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

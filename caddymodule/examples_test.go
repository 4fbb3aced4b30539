package caddymodule

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// productionValues are what a deployment sets for each variable the
// examples read: real hostnames, keys outside the repository.
var productionValues = map[string]string{
	"JIRA_SITE":               "jira.example.com",
	"JIRA_BASE_URL":           "https://jira.example.com",
	"JIRA_UPSTREAM":           "10.0.0.5:8080",
	"JIRA_CONSUMER_KEY":       "jira:6c5e1d0a",
	"JIRA_PUBLIC_KEY":         "/etc/applink/keys/jira.pub.pem",
	"BAMBOO_SITE":             "bamboo.example.com",
	"BAMBOO_BASE_URL":         "https://bamboo.example.com",
	"BAMBOO_UPSTREAM":         "10.0.0.6:8085",
	"BAMBOO_CONSUMER_KEY":     "bamboo:93f2",
	"BAMBOO_PUBLIC_KEY":       "/etc/applink/keys/bamboo.pub.pem",
	"CONFLUENCE_CONSUMER_KEY": "confluence:7c1e",
	"CONFLUENCE_PUBLIC_KEY":   "/etc/applink/keys/confluence.pub.pem",
	"GATEWAY_SITE":            "gateway.example.com",
	"GATEWAY_BASE_URL":        "https://gateway.example.com",
	"GATEWAY_CONSUMER_KEY":    "gateway:0f3a",
	"GATEWAY_PRIVATE_KEY":     "/etc/applink/keys/gateway.pem",
	"APPLINK_STATE_FILE":      "/var/lib/applink/state.db",
	"APPLINK_ADMIN":           "localhost:2019",
}

var envDefault = regexp.MustCompile(`\{\$([A-Z0-9_]+)(?::[^}]*)?\}`)

// TestExamplesAreProductionFiles adapts each example's Caddyfile as a
// deployment would run it, with every variable it reads set: each site is
// served with automatic HTTPS on its real hostname, no demo key or
// repository path is left, the server times out slow bodies, and every
// applink handler that allows 3LO can tell who approves.
func TestExamplesAreProductionFiles(t *testing.T) {
	files, err := filepath.Glob("../examples/*/Caddyfile")
	if err != nil || len(files) < 3 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, file := range files {
		t.Run(filepath.Base(filepath.Dir(file)), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range envDefault.FindAllStringSubmatch(string(src), -1) {
				v, ok := productionValues[m[1]]
				if !ok {
					t.Fatalf("%s reads %s, which this test does not set as a deployment would", file, m[1])
				}
				t.Setenv(m[1], v)
			}
			t.Setenv("RELEASE_BOT_SECRET", "s3cret-from-the-environment")
			out, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt(src, map[string]any{"filename": file})
			if err != nil {
				t.Fatalf("adapt: %v", err)
			}
			for _, w := range warnings {
				t.Errorf("adapt warning: %s", w.Message)
			}
			js := string(out)
			for _, bad := range []string{"examples/", "demo-", "localhost:80", "127.0.0.1:80"} {
				if strings.Contains(js, bad) {
					t.Errorf("the production config still holds %q", bad)
				}
			}
			var cfg struct {
				Apps struct {
					HTTP struct {
						Servers map[string]struct {
							Listen         []string         `json:"listen"`
							ReadTimeout    int64            `json:"read_timeout"`
							ReadHeader     int64            `json:"read_header_timeout"`
							AutomaticHTTPS *json.RawMessage `json:"automatic_https"`
							Routes         []struct {
								Match []struct {
									Host []string `json:"host"`
								} `json:"match"`
							} `json:"routes"`
						} `json:"servers"`
					} `json:"http"`
				} `json:"apps"`
			}
			if err := json.Unmarshal(out, &cfg); err != nil {
				t.Fatal(err)
			}
			if len(cfg.Apps.HTTP.Servers) == 0 {
				t.Fatal("no server")
			}
			for name, srv := range cfg.Apps.HTTP.Servers {
				if srv.AutomaticHTTPS != nil {
					t.Errorf("server %s: automatic_https is %s; want Caddy's default (on)", name, *srv.AutomaticHTTPS)
				}
				if len(srv.Listen) != 1 || srv.Listen[0] != ":443" {
					t.Errorf("server %s listens on %v, want :443", name, srv.Listen)
				}
				for _, r := range srv.Routes {
					for _, m := range r.Match {
						for _, h := range m.Host {
							if !strings.HasSuffix(h, ".example.com") {
								t.Errorf("server %s serves host %q, not the production hostname", name, h)
							}
						}
					}
				}
				if srv.ReadTimeout <= 0 || srv.ReadHeader <= 0 {
					t.Errorf("server %s: read timeout %d, read header timeout %d; want both set", name, srv.ReadTimeout, srv.ReadHeader)
				}
			}
			checkLoginWhere3LO(t, out)
		})
	}
}

// checkLoginWhere3LO walks the config for applink handlers: one with a
// consumer that allows 3LO (three_legged is on unless set false) must have
// login, unless it forwards OAuth to the product, which is then the 3LO
// provider.
func checkLoginWhere3LO(t *testing.T, out []byte) {
	t.Helper()
	var walk func(v any)
	found := 0
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if x["handler"] == "applink" {
				found++
				if x["forward_oauth"] == true {
					return // the product serves 3LO itself
				}
				threeLO := false
				for _, c := range x["consumers"].([]any) {
					if tl, ok := c.(map[string]any)["three_legged"]; !ok || tl != false {
						threeLO = true
					}
				}
				if _, ok := x["login"]; threeLO && !ok {
					t.Errorf("an applink handler allows 3LO but has no login: its approval page would answer 501")
				}
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	var v any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	walk(v)
	if found == 0 {
		t.Error("no applink handler in the example")
	}
}

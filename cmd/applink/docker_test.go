package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// This machine has no Docker engine (the tests do not need one): these
// tests read the Dockerfile and .dockerignore as Docker would, lay out the
// runtime image's files from the build context in a directory, and run
// the real binary's `validate` on them.

// instruction is one Dockerfile instruction: its keyword (upper case), its
// --flags and its arguments (JSON form decoded).
type instruction struct {
	cmd   string
	flags map[string]string
	args  []string
	raw   string
}

// parseDockerfile reads the instructions of the Dockerfile at p: comments
// and blank lines dropped, continuation lines joined.
func parseDockerfile(t *testing.T, p string) []instruction {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	var cur strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasPrefix(trimmed, "#") { // a comment inside a continued instruction
			continue
		}
		if s, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(trimmed)
		out = append(out, newInstruction(t, cur.String()))
		cur.Reset()
	}
	if cur.Len() != 0 {
		t.Fatalf("%s ends inside an instruction: %q", p, cur.String())
	}
	return out
}

func newInstruction(t *testing.T, raw string) instruction {
	t.Helper()
	cmd, rest, _ := strings.Cut(raw, " ")
	in := instruction{cmd: strings.ToUpper(cmd), flags: map[string]string{}, raw: raw}
	rest = strings.TrimSpace(rest)
	for strings.HasPrefix(rest, "--") {
		var flag string
		flag, rest, _ = strings.Cut(rest, " ")
		k, v, _ := strings.Cut(strings.TrimPrefix(flag, "--"), "=")
		in.flags[k] = v
		rest = strings.TrimSpace(rest)
	}
	if in.cmd == "HEALTHCHECK" { // HEALTHCHECK [flags] CMD ...
		if c, ok := strings.CutPrefix(rest, "CMD "); ok {
			in.args = append([]string{"CMD"}, jsonOrWords(t, strings.TrimSpace(c))...)
			return in
		}
	}
	if in.cmd == "RUN" {
		in.args = []string{rest}
		return in
	}
	in.args = jsonOrWords(t, rest)
	return in
}

func jsonOrWords(t *testing.T, s string) []string {
	t.Helper()
	if strings.HasPrefix(s, "[") {
		var args []string
		if err := json.Unmarshal([]byte(s), &args); err != nil {
			t.Fatalf("JSON form %q: %v", s, err)
		}
		return args
	}
	return strings.Fields(s)
}

// dockerignore is the patterns of a .dockerignore, in order, as Docker's
// patternmatcher reads them: a path is left out of the build context when
// the last pattern that matches it or one of its parent directories is not
// an exception (!).
type dockerignore []struct {
	re        *regexp.Regexp
	exception bool
}

func readDockerignore(t *testing.T, p string) dockerignore {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var d dockerignore
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		exc := strings.HasPrefix(line, "!")
		pat := strings.TrimPrefix(filepath.ToSlash(filepath.Clean(strings.TrimPrefix(strings.TrimPrefix(line, "!"), "/"))), "/")
		d = append(d, struct {
			re        *regexp.Regexp
			exception bool
		}{regexp.MustCompile("^" + globRegexp(pat) + "$"), exc})
	}
	return d
}

// globRegexp is Docker's translation of a pattern: ** any number of path
// segments, * and ? within one, [...] as is.
func globRegexp(pat string) string {
	var b strings.Builder
	for i := 0; i < len(pat); i++ {
		switch c := pat[i]; {
		case strings.HasPrefix(pat[i:], "**/"):
			b.WriteString("(.*/)?")
			i += 2
		case strings.HasPrefix(pat[i:], "**"):
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		case c == '[':
			end := strings.IndexByte(pat[i:], ']')
			b.WriteString(pat[i : i+end+1])
			i += end
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return b.String()
}

// excluded reports whether rel (slash-separated, relative to the context)
// is left out of the build context.
func (d dockerignore) excluded(rel string) bool {
	out := false
	for _, p := range d {
		for dir := rel; ; dir = path.Dir(dir) {
			if p.re.MatchString(dir) {
				out = !p.exception
				break
			}
			if !strings.Contains(dir, "/") {
				break
			}
		}
	}
	return out
}

// buildContext is every file of the repository (as it is on disk, so
// untracked files and local builds too) that `docker build .` sends.
func buildContext(t *testing.T, root string, ignore dockerignore) map[string]bool {
	t.Helper()
	files := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if e.IsDir() || rel == "." {
			return nil
		}
		if !ignore.excluded(rel) {
			files[rel] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func isPrivateKey(t *testing.T, p string) bool {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Contains(data, []byte("PRIVATE KEY-----"))
}

// TestDockerignore: the build context holds what `go build ./cmd/applink`
// and the runtime image read, and no private key, .git, binary or test
// data.
func TestDockerignore(t *testing.T) {
	root, _ := filepath.Abs("../..")
	ignore := readDockerignore(t, filepath.Join(root, ".dockerignore"))

	// The matcher reads patterns as Docker does.
	for rel, want := range map[string]bool{
		".git/HEAD": true, "applink": true, "dist/applink": true, "README.md": true,
		"examples/keys/demo-consumer.pem": true, "examples/keys/demo-consumer.pub.pem": false,
		"internal/oauth1/testdata/rsa4096-test-only.pem": true, "caddymodule/e2e/testdata/fuzz/FuzzX/.cache/y": true,
		"internal/cli/cli.go": false, "internal/cli/cli_test.go": true, "internal/pages/approve.html": false,
		"go.mod": false, "Caddyfile.example": false, "cmd/applink/applink.test": true,
	} {
		if got := ignore.excluded(rel); got != want {
			t.Errorf("%s: excluded %v, want %v", rel, got, want)
		}
	}

	ctx := buildContext(t, root, ignore)
	for rel := range ctx {
		if isPrivateKey(t, filepath.Join(root, rel)) {
			t.Errorf("the build context holds a private key: %s", rel)
		}
		if strings.HasPrefix(rel, ".git/") || strings.Contains(rel, "/testdata/") || strings.HasSuffix(rel, "_test.go") {
			t.Errorf("the build context holds %s", rel)
		}
	}

	// Every file the build reads: go.mod, go.sum, and the sources and
	// embedded files of every package of the module the binary imports.
	need := []string{"go.mod", "go.sum"}
	out, err := exec.Command("go", "list", "-deps", "-f",
		`{{if .Module}}{{if .Module.Main}}{{.Dir}}|{{join .GoFiles ","}},{{join .EmbedFiles ","}},{{join .SFiles ","}},{{join .HFiles ","}}{{end}}{{end}}`,
		"github.com/caddy-applink/caddy-applink/cmd/applink").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		dir, files, _ := strings.Cut(line, "|")
		rel, _ := filepath.Rel(root, dir)
		for _, f := range strings.Split(files, ",") {
			if f != "" {
				need = append(need, filepath.ToSlash(filepath.Join(rel, f)))
			}
		}
	}
	if len(need) < 20 {
		t.Fatalf("go list found only %v", need)
	}
	for _, f := range need {
		if !ctx[f] {
			t.Errorf("the build needs %s, which .dockerignore leaves out", f)
		}
	}
}

// TestDockerfile: the image copies no private key and nothing the context
// lacks, runs as a user, exposes 80 and 443 and the default config's port,
// has a HEALTHCHECK that is `applink health`, and its default config
// validates with only the files the image has.
func TestDockerfile(t *testing.T) {
	root, _ := filepath.Abs("../..")
	ins := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	ctx := buildContext(t, root, readDockerignore(t, filepath.Join(root, ".dockerignore")))

	// The stages; the last one is the image.
	args := map[string]string{} // global ARGs and their defaults
	var stages [][]instruction
	for _, in := range ins {
		switch {
		case in.cmd == "FROM":
			stages = append(stages, []instruction{in})
		case len(stages) == 0 && in.cmd == "ARG":
			k, v, _ := strings.Cut(in.args[0], "=")
			args[k] = v
		case len(stages) == 0:
			t.Errorf("%q before the first FROM", in.raw)
		default:
			stages[len(stages)-1] = append(stages[len(stages)-1], in)
		}
	}
	if len(stages) != 2 {
		t.Fatalf("want a build stage and the image, got %d stages", len(stages))
	}
	// Base images: a build argument each, whose default is a tag (pinned
	// by a digest given as the argument: docs/deployment.md#docker), or a
	// digest.
	for _, s := range stages {
		image := s[0].args[0]
		if name, ok := strings.CutPrefix(image, "${"); ok {
			name = strings.TrimSuffix(name, "}")
			def, ok := args[name]
			if !ok || def == "" {
				t.Errorf("FROM %s: no ARG %s with a default", image, name)
			}
			image = def
		} else if !strings.Contains(image, "@sha256:") {
			t.Errorf("FROM %s: neither a build argument nor pinned by digest", image)
		}
		if !regexp.MustCompile(`^[a-z0-9./-]+:[a-z0-9.-]+(@sha256:[0-9a-f]{64})?$`).MatchString(image) {
			t.Errorf("base image %q: want name:tag[@sha256:digest]", image)
		}
	}
	img := stages[1]

	// COPY from the context: each source is in the context and no private
	// key; lay the image's files out in a directory.
	imageRoot := t.TempDir()
	var user, workdir string
	var expose, healthcheck, cmd []string
	for _, in := range img {
		switch in.cmd {
		case "COPY", "ADD":
			if in.cmd == "ADD" {
				t.Errorf("%q: use COPY", in.raw)
			}
			if in.flags["from"] != "" {
				continue
			}
			srcs, dst := in.args[:len(in.args)-1], in.args[len(in.args)-1]
			for _, src := range srcs {
				var found []string
				for f := range ctx {
					if f == src || strings.HasPrefix(f, strings.TrimSuffix(src, "/")+"/") {
						found = append(found, f)
					}
				}
				if len(found) == 0 {
					t.Errorf("%q: %s is not in the build context", in.raw, src)
				}
				// Nor may it name a private key that only .dockerignore
				// keeps out.
				_ = filepath.WalkDir(filepath.Join(root, filepath.FromSlash(src)), func(p string, e fs.DirEntry, err error) error {
					if err == nil && !e.IsDir() && isPrivateKey(t, p) {
						t.Errorf("%q names a private key: %s", in.raw, p)
					}
					return nil
				})
				for _, f := range found {
					if isPrivateKey(t, filepath.Join(root, f)) {
						t.Errorf("%q copies a private key: %s", in.raw, f)
					}
					target := dst
					if strings.HasSuffix(dst, "/") || len(found) > 1 || f != src {
						target = path.Join(dst, strings.TrimPrefix(f, strings.TrimSuffix(src, "/")))
					}
					data, _ := os.ReadFile(filepath.Join(root, f))
					p := filepath.Join(imageRoot, filepath.FromSlash(target))
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(p, data, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
		case "USER":
			user = in.args[0]
		case "WORKDIR":
			workdir = in.args[0]
		case "EXPOSE":
			expose = append(expose, in.args...)
		case "HEALTHCHECK":
			healthcheck = in.args
		case "CMD":
			cmd = in.args
		}
	}
	if user == "" || user == "root" || user == "0" {
		t.Errorf("the image runs as %q", user)
	}
	// Ports: 80 (ACME's HTTP challenge) and 443, and what the default
	// config serves on other than loopback.
	wantPorts := []string{"80", "443"}
	example, err := os.ReadFile(filepath.Join(root, "Caddyfile.example"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?m)^https?://[^\s:]*:(\d+) \{\n(\s*bind 127\.0\.0\.1)?`).FindAllStringSubmatch(string(example), -1) {
		if m[2] == "" {
			wantPorts = append(wantPorts, m[1])
		}
	}
	for _, p := range wantPorts {
		if !slices.Contains(expose, p) && !slices.Contains(expose, p+"/tcp") {
			t.Errorf("EXPOSE %v lacks %s", expose, p)
		}
	}
	if len(healthcheck) < 3 || healthcheck[0] != "CMD" || filepath.Base(healthcheck[1]) != "applink" || healthcheck[2] != "health" {
		t.Errorf("HEALTHCHECK %v: want CMD [\"/usr/bin/applink\", \"health\", ...]", healthcheck)
	}

	// The default CMD's config, with the files it reads relative to the
	// WORKDIR, validates with what the image holds (and its own data dir).
	i := slices.Index(cmd, "--config")
	if len(cmd) == 0 || cmd[0] != "run" || i < 0 || i+1 >= len(cmd) {
		t.Fatalf("CMD %v: want run --config FILE", cmd)
	}
	cfg := filepath.Join(imageRoot, filepath.FromSlash(cmd[i+1]))
	if _, err := os.Stat(cfg); err != nil {
		t.Fatalf("the image has no %s (CMD's config)", cmd[i+1])
	}
	for _, m := range regexp.MustCompile(`\b\w+_file\s+(\S+)`).FindAllStringSubmatch(string(example), -1) {
		p := m[1]
		if !path.IsAbs(p) {
			p = path.Join(workdir, p)
		}
		if _, err := os.Stat(filepath.Join(imageRoot, filepath.FromSlash(p))); err != nil {
			t.Errorf("the default config reads %s, which the image lacks", p)
		}
	}
	bin := buildBinary(t)
	home := t.TempDir()
	validate := exec.Command(bin, append([]string{"validate"}, cmd[1:]...)...)
	validate.Args = slices.Replace(validate.Args, i+2, i+3, cfg)
	validate.Dir = filepath.Join(imageRoot, filepath.FromSlash(workdir))
	validate.Env = append(os.Environ(), "XDG_DATA_HOME="+home, "XDG_CONFIG_HOME="+home)
	if out, err := validate.CombinedOutput(); err != nil || !strings.Contains(string(out), "Valid configuration") {
		t.Errorf("%v in the image's layout: %v\n%s", validate.Args, err, out)
	}
}

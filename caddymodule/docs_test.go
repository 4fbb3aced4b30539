package caddymodule

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

// caddyfileBlock is a fenced Caddyfile in the documentation.
var caddyfileBlock = regexp.MustCompile("(?s)```caddyfile\n(.*?)```")

// TestDocumentedCaddyfilesAdapt adapts every ```caddyfile block of the
// README, docs/ and the examples' READMEs, as a user pasting it would. (Directive syntax and
// fragments of a site are fenced as ```caddy-d, as in Caddy's own docs.)
func TestDocumentedCaddyfilesAdapt(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "docs", "*.md"))
	examples, _ := filepath.Glob(filepath.Join("..", "examples", "*", "README.md"))
	files = append(append(files, examples...), filepath.Join("..", "README.md"))
	adapter := caddyconfig.GetAdapter("caddyfile")
	n := 0
	for _, f := range files {
		doc, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range caddyfileBlock.FindAllStringSubmatch(string(doc), -1) {
			block := m[1]
			n++
			if _, _, err := adapter.Adapt([]byte(block), map[string]any{"filename": f}); err != nil {
				t.Errorf("%s: a documented Caddyfile does not adapt: %v\n%s", f, err, block)
			}
		}
	}
	if n < 4 {
		t.Errorf("only %d Caddyfiles found in the documentation", n)
	}
}

package caddymodule

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// directiveOf names, for each Caddyfile unmarshaler, the section of
// docs/configuration.md that documents its directive.
var directiveOf = map[string]string{
	"Handler":        "applink",
	"Transport":      "transport applink",
	"DanceHandler":   "applink_dance",
	"PublishHandler": "applink_publish",
}

// TestReferenceDocumentsEverySubdirective fails when a Caddyfile parser
// accepts a subdirective (a case of a switch in the parsing code, or a key
// of a map of fields, as stringArg takes) that the configuration reference
// does not list, as the first cell of a table row, in the section of every
// directive that reaches that parser.
func TestReferenceDocumentsEverySubdirective(t *testing.T) {
	keywords, callers := parserKeywords(t)
	sections := referenceSections(t)
	// A helper parser's keywords belong to every directive whose parser
	// calls it, directly or through another helper.
	var directives func(fn string, seen map[string]bool) []string
	directives = func(fn string, seen map[string]bool) []string {
		if d, ok := directiveOf[strings.TrimSuffix(fn, ".UnmarshalCaddyfile")]; ok && strings.HasSuffix(fn, ".UnmarshalCaddyfile") {
			return []string{d}
		}
		if seen[fn] {
			return nil
		}
		seen[fn] = true
		var out []string
		for _, c := range callers[fn] {
			out = append(out, directives(c, seen)...)
		}
		return out
	}
	checked := 0
	for fn, kws := range keywords {
		ds := directives(fn, map[string]bool{})
		if len(ds) == 0 {
			t.Errorf("%s parses %v, but no directive's parser reaches it", fn, kws)
		}
		for _, d := range ds {
			rows, ok := sections[d]
			if !ok {
				t.Errorf("docs/configuration.md has no section ## `%s`", d)
				continue
			}
			for _, kw := range kws {
				checked++
				if !rows[kw] {
					t.Errorf("docs/configuration.md, ## `%s`: no table row for `%s`, which %s accepts", d, kw, fn)
				}
			}
		}
	}
	if checked < 50 {
		t.Errorf("only %d subdirectives found in the parsers: the scan has lost them", checked)
	}
}

// parserKeywords returns the string cases of every switch and the string
// keys of every map literal in the Caddyfile parsing files, by function,
// and for each function the functions of those files that call it.
func parserKeywords(t *testing.T) (map[string][]string, map[string][]string) {
	t.Helper()
	files, err := filepath.Glob("*caddyfile.go")
	if err != nil || len(files) < 4 {
		t.Fatalf("parsing files: %v %v", files, err)
	}
	keywords, callers := map[string][]string{}, map[string][]string{}
	fset := token.NewFileSet()
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range af.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			name := fd.Name.Name
			if fd.Recv != nil {
				recv := fd.Recv.List[0].Type
				if s, ok := recv.(*ast.StarExpr); ok {
					recv = s.X
				}
				name = recv.(*ast.Ident).Name + "." + name
			}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.SwitchStmt:
					for _, s := range n.Body.List {
						for _, e := range s.(*ast.CaseClause).List {
							if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
								kw, _ := strconv.Unquote(lit.Value)
								keywords[name] = append(keywords[name], kw)
							}
						}
					}
				case *ast.CompositeLit:
					if _, ok := n.Type.(*ast.MapType); !ok {
						break
					}
					for _, e := range n.Elts {
						if kv, ok := e.(*ast.KeyValueExpr); ok {
							if lit, ok := kv.Key.(*ast.BasicLit); ok && lit.Kind == token.STRING {
								kw, _ := strconv.Unquote(lit.Value)
								keywords[name] = append(keywords[name], kw)
							}
						}
					}
				case *ast.CallExpr:
					if id, ok := n.Fun.(*ast.Ident); ok {
						callers[id.Name] = append(callers[id.Name], name)
					}
				}
				return true
			})
		}
	}
	for _, kws := range keywords {
		sort.Strings(kws)
	}
	return keywords, callers
}

// referenceSections returns, for each "## `directive`" section of the
// reference, the names in the first cells of its table rows.
func referenceSections(t *testing.T) map[string]map[string]bool {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	heading := regexp.MustCompile("^## `([^`]+)`")
	row := regexp.MustCompile("^\\| `([^`]+)`")
	sections := map[string]map[string]bool{}
	var current map[string]bool
	for _, line := range strings.Split(string(doc), "\n") {
		if m := heading.FindStringSubmatch(line); m != nil {
			current = map[string]bool{}
			sections[m[1]] = current
		} else if strings.HasPrefix(line, "## ") {
			current = nil
		} else if m := row.FindStringSubmatch(line); m != nil && current != nil {
			current[m[1]] = true
		}
	}
	return sections
}

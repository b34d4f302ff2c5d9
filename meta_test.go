// SPDX-License-Identifier: MIT

package monami_test

import (
	"encoding/json"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// goFiles lists the repository's Go files, skipping testdata and results.
func goFiles(t *testing.T) []string {
	t.Helper()
	var fs []string
	err := filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "bin" || d.Name() == "results" || strings.HasPrefix(d.Name(), ".")) && p != "." {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") {
			fs = append(fs, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestGofmt(t *testing.T) {
	for _, f := range goFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out, err := format.Source(b)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if string(out) != string(b) {
			t.Errorf("%s is not gofmt-ed", f)
		}
	}
}

// TestPackageDocs: every package has exactly one package doc comment, in a
// non-test file.
func TestPackageDocs(t *testing.T) {
	docs := map[string][]string{}
	dirs := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range goFiles(t) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		dir := filepath.Dir(f)
		dirs[dir] = true
		af, err := parser.ParseFile(fset, f, nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if af.Doc != nil {
			docs[dir] = append(docs[dir], f)
		}
	}
	for dir := range dirs {
		switch n := len(docs[dir]); {
		case n == 0:
			t.Errorf("package %s has no package doc", dir)
		case n > 1:
			t.Errorf("package %s has %d package docs: %v", dir, n, docs[dir])
		}
	}
}

// allowed lists, per package (module-relative), the module packages it may
// import; "*" allows any. Packages not listed may import only leaves (paths).
var allowed = map[string][]string{
	"paths":               {},
	"paths/pathtest":      {"paths"},
	"paths/udpconn":       {"paths"},
	"paths/linkmon":       {"paths"},
	"paths/probe":         {"paths"},
	"tun":                 {},
	"tun/tuntest":         {},
	"configs":             {"paths"},
	"classifier":          {"paths", "configs"},
	"tunnel/frame":        {"paths"},
	"tunnel/replay":       {},
	"tunnel/session":      {"paths"},
	"tunnel":              {"paths", "paths/probe", "classifier", "tunnel/frame", "tunnel/replay", "tunnel/session"},
	"signaling/msg":       {"paths"},
	"signaling":           {"paths", "signaling/msg"},
	"signaling/control":   {},
	"paths/usage":         {"paths"},
	"testbed":             {"configs"},
	"cmd/internal/daemon": {"configs"},
	"cmd/internal/node":   {"*"},
	"cmd/monami-mr":       {"*"},
	"cmd/monami-ha":       {"*"},
	"cmd/monami-demo":     {"*"},
	"cmd/monamictl":       {"*"},
	"cmd/internal/e2e":    {"*"},
}

// TestDeps enforces the import direction of docs/internals.md: the data
// plane and the control plane never import each other, only cmd and the
// testbed import configs, and nothing but tests imports the fakes or bench.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, "monami"), "/")
		if rel == "" || strings.HasPrefix(rel, "bench") {
			continue // the repository tests and the harness may import anything
		}
		allow, listed := allowed[rel]
		if !listed {
			t.Errorf("package %s is not in the import allow-list of meta_test.go; add it deliberately", rel)
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, "monami/") {
				if imp == "log" {
					t.Errorf("%s imports log; use an injected *slog.Logger", rel)
				}
				if imp == "testing" && !strings.HasSuffix(rel, "test") {
					t.Errorf("%s imports testing outside a _test.go file", rel)
				}
				if strings.HasPrefix(imp, "github.com/quic-go/") && !strings.HasPrefix(rel, "signaling") && !strings.HasPrefix(rel, "cmd/") {
					t.Errorf("%s imports %s; only the control plane uses QUIC", rel, imp)
				}
				continue
			}
			dep := strings.TrimPrefix(imp, "monami/")
			ok := false
			for _, a := range allow {
				if a == "*" || a == dep {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s must not import %s", rel, dep)
			}
		}
	}
}

package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// allowed lists, for each package, the qscope packages it may import
// directly; docs/architecture.md draws the same graph. A package missing
// here fails the test: a new package needs its place in the diagram.
var allowed = map[string][]string{
	"":                  {"cli"},
	"cli":               {"*"},
	"demo":              {"qmp"},
	"demo/internal/gen": {},
	"discover":          {"qmp", "qmp/virt", "policy"},
	"e2e":               {"*"},
	"internal/private":  {},
	"internal/qemutest": {},
	"journal":           {"qmp", "policy", "discover", "internal/private"},
	"keymap":            {},
	"model":             {"ui", "keymap", "model/console", "discover", "qmp", "qmp/virt", "journal", "policy"},
	"model/console":     {"ui", "keymap", "discover", "qmp", "qmp/schema", "qmp/virt", "policy", "journal", "internal/private"},
	"policy":            {},
	"qmp":               {},
	"qmp/goqemu":        {"qmp"},
	"qmp/qmptest":       {},
	"qmp/schema":        {"qmp", "internal/private"},
	"qmp/virt":          {"qmp", "policy"},
	"qmp/virt/virttest": {"qmp", "qmp/virt", "policy"},
	"ui":                {"keymap", "discover", "qmp", "qmp/schema"},
}

// noCharm are the packages that must stay usable without the UI stack.
var noCharm = []string{"qmp", "qmp/goqemu", "qmp/qmptest", "qmp/schema", "qmp/virt", "discover", "policy", "journal", "demo", "internal/private"}

const module = "github.com/qscope/qscope"

func TestPackageDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	seen := 0
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(strings.TrimPrefix(fields[0], module), "/")
		rules, ok := allowed[pkg]
		if !ok {
			t.Errorf("package %q has no place in the dependency rules (deps_test.go, docs/architecture.md)", pkg)
			continue
		}
		seen++
		for _, imp := range fields[1:] {
			if slices.Contains(noCharm, pkg) && (strings.HasPrefix(imp, "charm.land/") || strings.HasPrefix(imp, "github.com/charmbracelet/")) {
				t.Errorf("%s imports %s: it must not depend on the UI stack", pkg, imp)
			}
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			dep := strings.TrimPrefix(imp, module+"/")
			if !slices.Contains(rules, "*") && !slices.Contains(rules, dep) {
				t.Errorf("%s imports %s, which the architecture does not allow", pkg, dep)
			}
		}
	}
	if seen < 10 {
		t.Fatalf("only %d packages listed:\n%s", seen, out)
	}
}

package model

import (
	"os/exec"
	"strings"
	"testing"
)

// TestEngineImportsNoUI checks that the QMP engine and discovery stay
// usable on their own: none of their dependencies may be the Charm stack
// or qscope's UI packages.
func TestEngineImportsNoUI(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go command not on PATH")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/qscope/qscope/qmp/...", "github.com/qscope/qscope/discover/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 5 {
		t.Fatalf("go list gave only %v", deps)
	}
	forbidden := []string{"charm.land/", "github.com/charmbracelet/", "github.com/qscope/qscope/ui", "github.com/qscope/qscope/model", "github.com/qscope/qscope/keymap", "github.com/qscope/qscope/cli"}
	for _, d := range deps {
		for _, f := range forbidden {
			if strings.HasPrefix(d, f) {
				t.Errorf("qmp or discover depends on %s", d)
			}
		}
	}
}

package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/qscope/qscope/internal/qemutest"
)

func TestHistoryCommand(t *testing.T) {
	b := qemutest.Binaries(t)[0]
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	name := uniqueName("cli-hist")
	other := uniqueName("cli-hist-other")
	startSmall(t, b, qemutest.Options{Name: name})
	startSmall(t, b, qemutest.Options{Name: other})
	ctx := context.Background()
	for _, args := range [][]string{{name, "stop"}, {name, "cont"}, {other, "stop"}, {name, "query-status"}} {
		if code, _, errs := runCLI(t, ctx, append([]string{"--connect", "none", "qmp"}, args...)...); code != 0 {
			t.Fatalf("qmp %v: exit %d %s", args, code, errs)
		}
	}
	code, out, errs := runCLI(t, ctx, "history", name)
	if code != 0 {
		t.Fatalf("history: exit %d %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "TIME") || !strings.Contains(lines[1], " stop ") || !strings.Contains(lines[2], " cont ") || strings.Contains(out, other) {
		t.Errorf("history %s:\n%s", name, out)
	}
	if !strings.Contains(lines[1], "ok") || !strings.Contains(lines[1], "socket") {
		t.Errorf("row %q", lines[1])
	}

	code, out, _ = runCLI(t, ctx, "history", "--json")
	if code != 0 {
		t.Fatalf("history --json: exit %d", code)
	}
	var cmds []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r struct {
			Command string `json:"command"`
			Guest   struct {
				Name string `json:"name"`
			} `json:"guest"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		cmds = append(cmds, r.Guest.Name+":"+r.Command)
	}
	if strings.Join(cmds, ",") != name+":stop,"+name+":cont,"+other+":stop" {
		t.Errorf("history --json: %v", cmds)
	}
	if code, out, _ := runCLI(t, ctx, "history", "nobody-here"); code != 0 || strings.Count(out, "\n") != 1 {
		t.Errorf("history of an unknown guest: exit %d %q", code, out)
	}
}

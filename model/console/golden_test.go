package console

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/vt"

	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/ui"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// screenOf renders a view into a terminal emulator of w×h and returns the
// rebuilt screen's text.
func screenOf(t *testing.T, view string, w, h int) string {
	t.Helper()
	e := vt.NewEmulator(w, h)
	defer e.Close()
	if _, err := e.WriteString(strings.ReplaceAll(view, "\n", "\r\n")); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(e.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

// TestGolden renders the console at 80x24 and 120x40 with fixed data (a
// reply, an error, an HMP exchange, and the completion pop-up open) and
// compares it with testdata (go test ./model/console -run TestGolden
// -update rewrites them).
func TestGolden(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, sz := range [][2]int{{80, 24}, {120, 40}} {
		rec := newRecorder()
		rec.reply["query-status"] = `{"running":true,"singlestep":false,"status":"running"}`
		m := testModel(t, rec, Config{
			Guest: discover.Guest{Name: "vm1", Owner: discover.OwnerProcess},
			Theme: ui.NewTheme(true, true),
			Now:   func() time.Time { return at },
		})
		m.SetSize(sz[0], sz[1])
		m, _ = typeText(m, "query-status")
		m, cmd := press(m, "enter")
		m, _ = run(t, m, cmd)
		m, _ = typeText(m, "query-status foo=1")
		m, _ = press(m, "enter")
		m.input.SetValue("")
		m, _ = typeText(m, "q")
		got := screenOf(t, m.View(), sz[0], sz[1])
		name := fmt.Sprintf("console-%dx%d", sz[0], sz[1])
		p := filepath.Join("testdata", name+".golden")
		if *update {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("reading golden file (run with -update to create it): %v", err)
		}
		if string(want) != got {
			t.Errorf("%s differs from %s (run with -update after checking):\n--- got ---\n%s\n--- want ---\n%s", name, p, got, want)
		}
	}
}

package model

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/vt"
	"github.com/qscope/qscope/discover"
	"go.uber.org/goleak"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return epoch }

func testGuest(name string, pid int, st discover.State) discover.Guest {
	return discover.Guest{
		Name: name, PID: pid, StartTicks: uint64(pid) * 10, State: st, Owner: discover.OwnerProcess,
		Monitor: "/run/qscope-test/" + name + ".qmp", Version: "7.2.22",
		Started: epoch.Add(-time.Duration(pid) * time.Minute), CPUPercent: float64(pid%97) / 3,
		RSS: uint64(pid%13+1) << 24, VCPUs: 1 + pid%4, Threads: 5,
	}
}

func newTest(t testing.TB, cfg Config) *Model {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = fixedNow
	}
	cfg.NoColor = true
	return New(cfg)
}

func added(gs ...discover.Guest) changesMsg {
	var ch []discover.Change
	for _, g := range gs {
		ch = append(ch, discover.Change{Kind: discover.Added, Guest: g})
	}
	return changesMsg{changes: ch}
}

func removed(gs ...discover.Guest) changesMsg {
	var ch []discover.Change
	for _, g := range gs {
		ch = append(ch, discover.Change{Kind: discover.Removed, Guest: g})
	}
	return changesMsg{changes: ch}
}

func press(m *Model, keys ...string) tea.Cmd {
	var last tea.Cmd
	for _, k := range keys {
		_, last = m.Update(keyMsg(k))
	}
	return last
}

func keyMsg(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(k)
	if len(r) != 1 {
		panic("unknown key " + k)
	}
	msg := tea.KeyPressMsg{Code: r[0], Text: k}
	if r[0] >= 'A' && r[0] <= 'Z' {
		msg.Code = r[0] + ('a' - 'A')
		msg.ShiftedCode = r[0]
		msg.Mod = tea.ModShift
	}
	return msg
}

func typeText(m *Model, s string) {
	for _, r := range s {
		if r == ' ' {
			press(m, "space")
			continue
		}
		press(m, string(r))
	}
}

// screen renders the model into a terminal emulator and returns the
// rebuilt screen's text.
func screen(t testing.TB, m *Model) string {
	t.Helper()
	v := m.View()
	e := vt.NewEmulator(m.w, m.h)
	defer e.Close()
	if _, err := e.WriteString(strings.ReplaceAll(v.Content, "\n", "\r\n")); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(e.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden")
	if *update {
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

func manyGuests(n int) []discover.Guest {
	gs := make([]discover.Guest, n)
	for i := range gs {
		st := discover.StateRunning
		switch i % 7 {
		case 3:
			st = discover.StatePaused
		case 5:
			st = discover.StateBusy
		}
		gs[i] = testGuest("vm-"+strconv.Itoa(i), 1000+i, st)
	}
	return gs
}

func sizeMsg(w, h int) tea.WindowSizeMsg { return tea.WindowSizeMsg{Width: w, Height: h} }

func isQuit(cmd tea.Cmd) bool {
	_, ok := cmd().(tea.QuitMsg)
	return ok
}

func diff(prev, next []discover.Guest) []discover.Change { return discover.Diff(prev, next) }

package ui

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"charm.land/bubbles/v2/key"
	"github.com/charmbracelet/x/ansi"
	"github.com/qscope/qscope/discover"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFitAndWidth(t *testing.T) {
	for _, tc := range []struct {
		in   string
		w    int
		want string
	}{
		{"abc", 5, "abc  "},
		{"abcdef", 4, "abc…"},
		{"日本語", 4, "日… "},
		{"\x1b[1mbold\x1b[m", 6, "\x1b[1mbold\x1b[m  "},
	} {
		got := Fit(tc.in, tc.w)
		if ansi.StringWidth(got) != tc.w {
			t.Errorf("Fit(%q, %d) is %d cells wide", tc.in, tc.w, ansi.StringWidth(got))
		}
		if ansi.Strip(got) != ansi.Strip(tc.want) {
			t.Errorf("Fit(%q, %d) = %q, want %q", tc.in, tc.w, got, tc.want)
		}
		if Width(tc.in) != ansi.StringWidth(tc.in) {
			t.Errorf("Width(%q) = %d, ansi says %d", tc.in, Width(tc.in), ansi.StringWidth(tc.in))
		}
	}
}

func TestPaintMatchesStyle(t *testing.T) {
	th := NewTheme(true, false)
	for _, st := range []string{"running", "stopped", "busy"} {
		s := th.State(discoverState(st))
		if got, want := th.statePaint(discoverState(st)).Render("word"), s.Render("word"); got != want {
			t.Errorf("paint of %s: %q, style renders %q", st, got, want)
		}
	}
	if PaintOf(NewTheme(true, true).Dim).Render("x") == "" {
		t.Error("paint lost the text")
	}
}

func TestOverlayKeepsTheBase(t *testing.T) {
	base := strings.Join([]string{"aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc"}, "\n")
	got := Overlay(base, "XX\nYY", 10, 3)
	want := "aaaaXXaaaa\nbbbbYYbbbb\ncccccccccc"
	if got != want {
		t.Errorf("Overlay:\n%s\nwant:\n%s", got, want)
	}
}

func TestKindOf(t *testing.T) {
	for name, want := range map[string]EventKind{
		"STOP": KindLifecycle, "GUEST_PANICKED": KindError, "JOB_STATUS_CHANGE": KindJob,
		"BLOCK_JOB_READY": KindJob, "DEVICE_DELETED": KindDevice, "MIGRATION_PASS": KindMigration, "RTC_CHANGE": KindOther,
	} {
		if got := KindOf(name); got != want {
			t.Errorf("KindOf(%s) = %v, want %v", name, got, want)
		}
	}
}

func discoverState(s string) discover.State { return discover.State(s) }

type groupsKeyMap [][]key.Binding

func (g groupsKeyMap) ShortHelp() []key.Binding  { return g[0] }
func (g groupsKeyMap) FullHelp() [][]key.Binding { return g }

// The full help wraps its groups onto further rows instead of cutting
// off those that do not fit beside the others.
func TestFullHelpWrapsGroups(t *testing.T) {
	var km groupsKeyMap
	var descs []string
	for g := range 5 {
		var grp []key.Binding
		for i := range 3 {
			d := fmt.Sprintf("action %d of group %d", i, g)
			descs = append(descs, d)
			grp = append(grp, key.NewBinding(key.WithKeys(fmt.Sprintf("f%d", g*3+i+1)), key.WithHelp(fmt.Sprintf("f%d", g*3+i+1), d)))
		}
		km = append(km, grp)
	}
	th := NewTheme(true, true)
	for _, w := range []int{30, 60, 200} {
		out := FullHelp(th, km, w)
		for _, d := range descs {
			if !strings.Contains(out, d) {
				t.Errorf("width %d: %q missing:\n%s", w, d, out)
			}
		}
		for _, l := range strings.Split(out, "\n") {
			if ansi.StringWidth(l) > w {
				t.Errorf("width %d: line %q is %d wide", w, l, ansi.StringWidth(l))
			}
		}
	}
	if out := FullHelp(th, km, 200); strings.Count(out, "\n") != 2 {
		t.Errorf("wide enough for one row, got:\n%s", out)
	}
}

// A narrow table (the list beside an open guest, a small terminal) drops
// whole columns, least useful first, and keeps NAME and STATE; no row is
// cut in the middle of a column.
func TestTableDropsColumnsToFit(t *testing.T) {
	th := NewTheme(true, true)
	gs := []discover.Guest{{Name: "demo-build", Owner: discover.OwnerProcess, PID: 646, State: discover.StateRunning, CPUPercent: 1}}
	for _, tc := range []struct {
		w       int
		want    []string
		dropped []string
	}{
		{80, []string{"NAME", "OWNER", "PID", "STATE", "CPU%", "MEM", "UPTIME"}, nil},
		{56, []string{"NAME", "OWNER", "PID", "STATE", "CPU%", "MEM"}, []string{"UPTIME"}},
		{42, []string{"NAME", "OWNER", "STATE", "CPU%"}, []string{"PID", "MEM", "UPTIME"}},
		{30, []string{"NAME", "STATE", "CPU%"}, []string{"OWNER"}},
		{28, []string{"NAME", "STATE"}, []string{"OWNER", "CPU%"}},
		{20, []string{"NAME", "STATE"}, []string{"OWNER"}},
	} {
		out := GuestTable(th, Table{Guests: gs, Selected: 0}, tc.w, 3)
		lines := strings.Split(out, "\n")
		header, row := strings.Fields(ansi.Strip(lines[0])), ansi.Strip(lines[1])
		for _, c := range tc.want {
			if !slices.ContainsFunc(header, func(h string) bool { return strings.TrimRight(h, "↓↑") == c }) {
				t.Errorf("width %d: header %v lacks %s", tc.w, header, c)
			}
		}
		for _, c := range tc.dropped {
			if slices.Contains(header, c) {
				t.Errorf("width %d: header %v still has %s", tc.w, header, c)
			}
		}
		for _, l := range lines {
			if Width(l) != tc.w {
				t.Errorf("width %d: line is %d cells: %q", tc.w, Width(l), l)
			}
		}
		if tc.w >= 28 && (!strings.Contains(row, "demo-build") || strings.Contains(row, "…")) {
			t.Errorf("width %d: row cut: %q", tc.w, row)
		}
	}
}

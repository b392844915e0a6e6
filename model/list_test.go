package model

import (
	"slices"
	"testing"

	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/ui"
)

func names(m *Model) []string {
	var out []string
	for _, g := range m.list.rows {
		out = append(out, g.Name)
	}
	return out
}

func selectedName(m *Model) string {
	g, ok := m.list.selected()
	if !ok {
		return ""
	}
	return g.Name
}

func TestSelectionFollowsTheGuestNotTheIndex(t *testing.T) {
	m := newTest(t, Config{})
	a, b, c, d := testGuest("alpha", 10, "running"), testGuest("bravo", 11, "running"), testGuest("charlie", 12, "running"), testGuest("delta", 13, "running")
	m.Update(added(b, c, d))
	press(m, "down") // charlie
	if got := selectedName(m); got != "charlie" {
		t.Fatalf("selected %q, want charlie", got)
	}
	// A guest sorting before it appears: the index shifts, the selection
	// must not.
	m.Update(added(a))
	if got := selectedName(m); got != "charlie" {
		t.Errorf("after alpha appeared, selected %q, want charlie (rows %v)", got, names(m))
	}
	if m.list.selIdx != 2 {
		t.Errorf("selIdx = %d, want 2", m.list.selIdx)
	}
	// Another vanishes: still charlie.
	m.Update(removed(b))
	if got := selectedName(m); got != "charlie" {
		t.Errorf("after bravo vanished, selected %q, want charlie", got)
	}
	// The selected one vanishes: the row that takes its place is chosen.
	m.Update(removed(c))
	if got := selectedName(m); got != "delta" {
		t.Errorf("after charlie vanished, selected %q, want delta", got)
	}
}

func TestScrollPositionKeptAcrossUpdates(t *testing.T) {
	m := newTest(t, Config{})
	m.Update(sizeMsg(80, 24))
	gs := manyGuests(60)
	m.Update(added(gs...))
	rows := m.list.height
	for range rows + 5 {
		press(m, "down")
	}
	off, sel := m.list.offset, selectedName(m)
	if off == 0 {
		t.Fatalf("offset still 0 after moving %d rows down in a %d-row window", rows+5, rows)
	}
	// An update that changes figures but not the order keeps both.
	upd := changesMsg{}
	for _, g := range gs {
		g.CPUPercent += 3
		upd.changes = append(upd.changes, discover.Change{Kind: discover.Updated, Guest: g})
	}
	m.Update(upd)
	if m.list.offset != off || selectedName(m) != sel {
		t.Errorf("after an update: offset %d sel %q, want %d %q", m.list.offset, selectedName(m), off, sel)
	}
	// A guest far below the window appears: the window does not move.
	m.Update(added(testGuest("zz-last", 5000, "running")))
	if m.list.offset != off || selectedName(m) != sel {
		t.Errorf("after an addition below: offset %d sel %q, want %d %q", m.list.offset, selectedName(m), off, sel)
	}
}

func TestNaturalNameOrder(t *testing.T) {
	m := newTest(t, Config{})
	m.Update(added(testGuest("vm-10", 1, "running"), testGuest("vm-2", 2, "running"), testGuest("vm-1", 3, "running"), testGuest("Vm-3", 4, "running")))
	if got, want := names(m), []string{"vm-1", "vm-2", "Vm-3", "vm-10"}; !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

func TestSortCycleAndReverse(t *testing.T) {
	m := newTest(t, Config{})
	a := testGuest("a", 300, "running")
	a.CPUPercent = 5
	b := testGuest("b", 100, "paused")
	b.CPUPercent = 50
	c := testGuest("c", 200, "busy")
	c.CPUPercent = 20
	m.Update(added(a, b, c))
	press(m, "s") // OWNER: all equal, by name
	if m.list.sortBy != ui.ColOwner {
		t.Fatalf("sort column %v after one s, want OWNER", m.list.sortBy)
	}
	press(m, "s") // PID
	if got, want := names(m), []string{"b", "c", "a"}; !slices.Equal(got, want) {
		t.Errorf("by pid %v, want %v", got, want)
	}
	press(m, "S")
	if got, want := names(m), []string{"a", "c", "b"}; !slices.Equal(got, want) {
		t.Errorf("by pid reversed %v, want %v", got, want)
	}
	press(m, "S", "s", "s") // STATE, then CPU%
	if m.list.sortBy != ui.ColCPU {
		t.Fatalf("sort column %v, want CPU%%", m.list.sortBy)
	}
	if got, want := names(m), []string{"b", "c", "a"}; !slices.Equal(got, want) {
		t.Errorf("by cpu %v, want busiest first %v", got, want)
	}
	press(m, "s", "s") // MEM, then UPTIME
	if m.list.sortBy != ui.ColUptime {
		t.Fatalf("sort column %v, want UPTIME", m.list.sortBy)
	}
	if got, want := names(m), []string{"a", "c", "b"}; !slices.Equal(got, want) {
		t.Errorf("by uptime %v, want longest first %v", got, want)
	}
	for range len(ui.SortColumns) - 6 {
		press(m, "s")
	}
	if m.list.sortBy != ui.ColName {
		t.Errorf("sort column %v after a full cycle, want NAME", m.list.sortBy)
	}
}

func TestFuzzyFilterOverNameOwnerState(t *testing.T) {
	m := newTest(t, Config{})
	web := testGuest("web-frontend", 1, "running")
	db := testGuest("database", 2, "paused")
	lv := testGuest("mail", 3, "running")
	lv.Owner = discover.OwnerLibvirt
	demo := testGuest("demo-build", 4, "running")
	m.Update(added(web, db, lv, demo))
	press(m, "/")
	typeText(m, "wbfr")
	if got := names(m); !slices.Equal(got, []string{"web-frontend"}) {
		t.Errorf("filter wbfr: %v", got)
	}
	// Letters from several fields do not add up to a match: "dup" is not
	// d-u of "demo-build" and p of "process".
	press(m, "backspace", "backspace", "backspace", "backspace")
	typeText(m, "dup")
	if got := names(m); len(got) != 0 {
		t.Errorf("filter dup: %v, want none", got)
	}
	press(m, "backspace", "backspace", "backspace")
	typeText(m, "paus")
	if got := names(m); !slices.Equal(got, []string{"database"}) {
		t.Errorf("filter paus (a state): %v", got)
	}
	press(m, "esc")
	typeText(m, "/libvirt")
	press(m, "enter")
	if got := names(m); !slices.Equal(got, []string{"mail"}) {
		t.Errorf("filter libvirt (an owner): %v", got)
	}
	// While the filter is kept, q quits again and esc clears the filter.
	if m.list.typing {
		t.Fatal("still typing after enter")
	}
	press(m, "esc")
	if len(m.list.rows) != 4 {
		t.Errorf("esc left %d rows, want 4", len(m.list.rows))
	}
}

func TestQuitKeys(t *testing.T) {
	m := newTest(t, Config{})
	m.Update(added(testGuest("a", 1, "running")))
	press(m, "/")
	if cmd := press(m, "q"); cmd != nil {
		t.Error("q while typing the filter returned a command")
	}
	if m.list.filter != "q" {
		t.Errorf("typing q into the filter gave %q", m.list.filter)
	}
	if cmd := press(m, "ctrl+c"); cmd == nil || !isQuit(cmd) {
		t.Error("ctrl+c while typing does not quit")
	}
	press(m, "esc")
	if cmd := press(m, "q"); cmd == nil || !isQuit(cmd) {
		t.Error("q in the list does not quit")
	}
}

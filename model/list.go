package model

import (
	"cmp"
	"slices"

	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/ui"
	"github.com/sahilm/fuzzy"
)

// listState is the guest list: guests by key, the visible rows (filtered
// and sorted), and the selection held by key so it survives guests
// appearing, vanishing and re-sorting.
type listState struct {
	guests  map[string]discover.Guest
	rows    []discover.Guest
	selKey  string
	selIdx  int // index of selKey in rows, -1 when empty
	offset  int
	sortBy  ui.Column
	reverse bool
	filter  string
	typing  bool
	height  int // visible rows, from the last layout
}

func newList() listState {
	return listState{guests: map[string]discover.Guest{}, selIdx: -1, sortBy: ui.ColName}
}

// apply merges a batch of discovery changes.
func (l *listState) apply(changes []discover.Change) {
	for _, c := range changes {
		k := c.Guest.Key()
		switch c.Kind {
		case discover.Removed:
			delete(l.guests, k)
		default:
			l.guests[k] = c.Guest
		}
	}
	l.rebuild()
}

// filterSource is one field of the guests, for the fuzzy filter: the
// filter matches a guest when it matches its name, its owner or its state
// alone — never letters picked from several fields ("dup" is not d-u from
// "demo-build" and p from "process").
type filterSource struct {
	guests []*discover.Guest
	field  func(*discover.Guest) string
}

func (f filterSource) String(i int) string { return f.field(f.guests[i]) }
func (f filterSource) Len() int            { return len(f.guests) }

var filterFields = []func(*discover.Guest) string{
	func(g *discover.Guest) string { return g.Name },
	func(g *discover.Guest) string { return string(g.Owner) },
	func(g *discover.Guest) string { return string(g.State) },
}

// rebuild recomputes the visible rows and restores the selection by key;
// when the selected guest is gone, the row that took its place is
// selected. The scroll offset is kept unless the selection left the
// window.
func (l *listState) rebuild() {
	all := make([]*discover.Guest, 0, len(l.guests))
	for k := range l.guests {
		g := l.guests[k]
		all = append(all, &g)
	}
	if l.filter != "" {
		hit := make([]bool, len(all))
		for _, f := range filterFields {
			for _, m := range fuzzy.FindFromNoSort(l.filter, filterSource{all, f}) {
				hit[m.Index] = true
			}
		}
		kept := make([]*discover.Guest, 0, len(all))
		for i, g := range all {
			if hit[i] {
				kept = append(kept, g)
			}
		}
		all = kept
	}
	slices.SortFunc(all, l.compare)
	l.rows = l.rows[:0]
	for _, g := range all {
		l.rows = append(l.rows, *g)
	}
	prev := l.selIdx
	l.selIdx = -1
	for i := range l.rows {
		if l.rows[i].Key() == l.selKey {
			l.selIdx = i
			break
		}
	}
	if l.selIdx < 0 && len(l.rows) > 0 {
		l.selIdx = max(0, min(prev, len(l.rows)-1))
		l.selKey = l.rows[l.selIdx].Key()
	}
	if len(l.rows) == 0 {
		l.selKey = ""
	}
	l.clampOffset()
}

func (l *listState) compare(a, b *discover.Guest) int {
	var c int
	switch l.sortBy {
	case ui.ColOwner:
		c = cmp.Compare(a.Owner, b.Owner)
	case ui.ColPID:
		c = cmp.Compare(a.PID, b.PID)
	case ui.ColState:
		c = cmp.Compare(a.State, b.State)
	case ui.ColCPU:
		c = -cmp.Compare(a.CPUPercent, b.CPUPercent) // busiest first
	case ui.ColMem:
		c = -cmp.Compare(a.RSS, b.RSS)
	case ui.ColUptime:
		c = cmp.Compare(a.Started.UnixNano(), b.Started.UnixNano()) // started first: longest up first
	}
	if c == 0 {
		c = discover.CompareNames(a.Name, b.Name)
	}
	if c == 0 {
		c = cmp.Compare(a.Key(), b.Key())
	}
	if l.reverse {
		return -c
	}
	return c
}

func (l *listState) clampOffset() {
	h := max(1, l.height)
	if l.selIdx >= 0 {
		if l.selIdx < l.offset {
			l.offset = l.selIdx
		}
		if l.selIdx >= l.offset+h {
			l.offset = l.selIdx - h + 1
		}
	}
	l.offset = max(0, min(l.offset, len(l.rows)-h))
}

func (l *listState) move(delta int) {
	if len(l.rows) == 0 {
		return
	}
	i := max(0, min(l.selIdx+delta, len(l.rows)-1))
	l.selIdx = i
	l.selKey = l.rows[i].Key()
	l.clampOffset()
}

func (l *listState) selected() (discover.Guest, bool) {
	if l.selIdx < 0 || l.selIdx >= len(l.rows) {
		return discover.Guest{}, false
	}
	return l.rows[l.selIdx], true
}

func (l *listState) cycleSort() {
	i := slices.Index(ui.SortColumns, l.sortBy)
	l.sortBy = ui.SortColumns[(i+1)%len(ui.SortColumns)]
	l.rebuild()
}

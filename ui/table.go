package ui

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/qscope/qscope/discover"
)

// Column is a column of the guest list.
type Column int

const (
	ColName Column = iota
	ColOwner
	ColPID
	ColState
	ColCPU
	ColMem
	ColUptime
	ColVCPUs
	ColMonitor
	ColVersion
	numColumns
)

// SortColumns are the columns the list can be sorted by, in the order
// the sort key cycles through them.
var SortColumns = []Column{ColName, ColOwner, ColPID, ColState, ColCPU, ColMem, ColUptime}

func (c Column) String() string {
	switch c {
	case ColName:
		return "NAME"
	case ColOwner:
		return "OWNER"
	case ColPID:
		return "PID"
	case ColState:
		return "STATE"
	case ColCPU:
		return "CPU%"
	case ColMem:
		return "MEM"
	case ColUptime:
		return "UPTIME"
	case ColVCPUs:
		return "VCPUS"
	case ColMonitor:
		return "MONITOR"
	case ColVersion:
		return "QEMU"
	}
	return "?"
}

type colSpec struct {
	c     Column
	w     int
	right bool
}

// WideListWidth is the pane width from which the list shows the extra
// columns (vCPUs, monitor, QEMU version).
const WideListWidth = 110

func columns(w, nameW int) ([]colSpec, int) {
	cols := []colSpec{
		{ColName, nameW, false}, {ColOwner, 7, false}, {ColPID, 7, true}, {ColState, 12, false},
		{ColCPU, 5, true}, {ColMem, 6, true}, {ColUptime, 6, true},
	}
	if w >= WideListWidth {
		cols = append(cols, colSpec{ColVCPUs, 5, true}, colSpec{ColVersion, 7, false}, colSpec{ColMonitor, 24, false})
	}
	used := func() int {
		n := 0
		for _, c := range cols {
			n += c.w + 1
		}
		return n
	}
	// Too narrow (a terminal under 80 columns, or the list beside an open
	// guest): shrink long names a little, then drop the columns that
	// matter least, then shrink the name further. NAME and STATE stay.
	if over := used() - w; over > 0 {
		cols[0].w = max(min(nameW, 16), cols[0].w-over)
	}
	for _, drop := range []Column{ColUptime, ColMem, ColPID, ColOwner, ColCPU} {
		if used() <= w {
			break
		}
		cols = slices.DeleteFunc(cols, func(c colSpec) bool { return c.c == drop })
	}
	if over := used() - w; over > 0 {
		cols[0].w = max(6, cols[0].w-over)
	}
	return cols, max(0, w-used())
}

// Table is what the guest list shows.
type Table struct {
	Guests   []discover.Guest // visible rows, filtered and sorted
	Selected int              // index into Guests, -1 for none
	Offset   int              // first visible row
	SortBy   Column
	Reverse  bool
	Focused  bool
	Now      time.Time
	// Empty is shown when Guests is empty.
	Empty string
}

// TableRows is how many guests a table of height h shows.
func TableRows(h int) int { return max(0, h-1) }

// GuestTable renders the guest list, w cells wide and h lines high: a
// header, then one row per guest. A state is written out in words and
// coloured; guests whose monitor could not be asked carry their reason
// in the last column.
func GuestTable(t *Theme, d Table, w, h int) string {
	if h <= 0 || w <= 0 {
		return ""
	}
	nameW := 6
	for i := range d.Guests {
		nameW = max(nameW, len(d.Guests[i].Name))
	}
	cols, reasonW := columns(w, min(nameW, 28))
	var b strings.Builder
	// Header.
	var hb strings.Builder
	for _, c := range cols {
		name := c.c.String()
		if c.c == d.SortBy {
			if d.Reverse {
				name += "↑"
			} else {
				name += "↓"
			}
		}
		if c.right {
			hb.WriteString(FitRight(name, c.w))
		} else {
			hb.WriteString(Fit(name, c.w))
		}
		hb.WriteByte(' ')
	}
	if reasonW >= 6 {
		hb.WriteString(Fit("REASON", reasonW))
	}
	b.WriteString(t.Header.Render(Fit(hb.String(), w)))

	rows := TableRows(h)
	if len(d.Guests) == 0 {
		b.WriteByte('\n')
		b.WriteString(Block("  "+d.Empty, w, rows))
		return b.String()
	}
	for i := 0; i < rows; i++ {
		b.WriteByte('\n')
		idx := d.Offset + i
		if idx < 0 || idx >= len(d.Guests) {
			b.WriteString(strings.Repeat(" ", w))
			continue
		}
		b.WriteString(guestRow(t, d, idx, cols, reasonW, w))
	}
	return b.String()
}

func guestRow(t *Theme, d Table, idx int, cols []colSpec, reasonW, w int) string {
	g := &d.Guests[idx]
	selected := idx == d.Selected
	var b strings.Builder
	b.Grow(w + 32)
	used := 0
	for _, c := range cols {
		var v string
		switch c.c {
		case ColName:
			v = g.Name
			if v == "" {
				v = "pid " + strconv.Itoa(g.PID)
			}
		case ColOwner:
			v = string(g.Owner)
		case ColPID:
			if g.PID > 0 {
				v = strconv.Itoa(g.PID)
			} else {
				v = "-"
			}
		case ColState:
			v = string(g.State)
			if v == "" {
				v = string(discover.StateUnknown)
			}
		case ColCPU:
			if g.PID > 0 {
				v = Percent(g.CPUPercent)
			} else {
				v = "-"
			}
		case ColMem:
			if g.RSS > 0 {
				v = Bytes(g.RSS)
			} else {
				v = "-"
			}
		case ColUptime:
			v = Duration(g.Uptime(d.Now))
		case ColVCPUs:
			if g.VCPUs > 0 {
				v = strconv.Itoa(g.VCPUs)
			} else {
				v = "-"
			}
		case ColMonitor:
			v = g.Monitor
			if v == "" {
				v = "-"
			}
		case ColVersion:
			v = g.Version
			if v == "" {
				v = "-"
			}
		}
		v = Sanitize(v) // guest-controlled text, before it is styled
		if c.right {
			v = FitRight(v, c.w)
		} else {
			v = Fit(v, c.w)
		}
		if c.c == ColState && !selected {
			v = t.statePaint(g.State).Render(v)
		}
		b.WriteString(v)
		b.WriteByte(' ')
		used += c.w + 1
	}
	if reasonW >= 6 {
		b.WriteString(Fit(Sanitize(g.Reason), reasonW))
		used += reasonW
	}
	if used < w {
		b.WriteString(strings.Repeat(" ", w-used))
	}
	line := b.String()
	if used > w {
		line = Fit(line, w)
	}
	if selected {
		if d.Focused {
			return t.pSelected.Render(line)
		}
		return t.pSelectedBlur.Render(line)
	}
	return line
}

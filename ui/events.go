package ui

import (
	"strconv"
	"strings"
	"time"
)

// Event is one event line: when, what, and its data in one compact line.
type Event struct {
	Time    time.Time
	Name    string
	Summary string
}

// EventsData is what the events pane shows. Window holds only the rows
// that fit, so the view costs the same with ten or ten thousand events.
type EventsData struct {
	Window   []Event
	Selected int // index into Window, -1 for none
	First    int // position of Window[0] among Shown, counted from 0
	Shown    int // events passing the filter
	Total    int // events buffered
	Dropped  uint64
	Follow   bool
	Paused   bool
	Pending  int // arrived while paused
	Filter   string
	Typing   bool // the filter is being edited
	Stream   string
	Focused  bool
}

// EventsRows is how many events a pane of height h lists.
func EventsRows(h int) int { return max(0, h-1) }

// Events renders the events pane: a status line, then one line per event.
func Events(t *Theme, d EventsData, w, h int) string {
	if h <= 0 || w <= 0 {
		return ""
	}
	var head strings.Builder
	head.WriteString(t.Header.Render("EVENTS "))
	head.WriteString(strconv.Itoa(d.Shown))
	if d.Shown != d.Total {
		head.WriteString("/" + strconv.Itoa(d.Total))
	}
	switch {
	case d.Paused:
		head.WriteString("  " + t.Warn.Render("‖ paused"))
		if d.Pending > 0 {
			head.WriteString(" (" + strconv.Itoa(d.Pending) + " new)")
		}
	case d.Follow:
		head.WriteString("  " + t.OK.Render("▼ following"))
	default:
		head.WriteString("  " + t.Dim.Render("not following"))
	}
	if d.Dropped > 0 {
		head.WriteString("  " + t.Warn.Render(strconv.FormatUint(d.Dropped, 10)+" dropped"))
	}
	if d.Typing {
		head.WriteString("  /" + Sanitize(d.Filter) + "█")
	} else if d.Filter != "" {
		head.WriteString("  " + t.Label.Render("filter: ") + Sanitize(d.Filter))
	}
	if d.Stream != "" {
		head.WriteString("  " + t.Dim.Render(Sanitize(d.Stream)))
	}
	lines := make([]string, 0, h)
	lines = append(lines, Fit(head.String(), w))
	if len(d.Window) == 0 {
		msg := "no events yet: they appear here as QEMU sends them"
		if d.Total > 0 {
			msg = "no event matches the filter"
		}
		lines = append(lines, "  "+t.Dim.Render(msg))
		return Lines(lines, w, h)
	}
	nameW := 22
	rest := w - 12 - 1 - nameW - 1
	for i, ev := range d.Window {
		if i >= EventsRows(h) {
			break
		}
		ts := ev.Time.Format("15:04:05.000")
		ev.Name, ev.Summary = Sanitize(ev.Name), Sanitize(ev.Summary) // the guest's words
		name := Fit(ev.Name, nameW)
		if rest < 8 { // too narrow for the data: time and name only
			line := Fit(ts+" "+ev.Name, w)
			if i == d.Selected {
				line = t.pSelected.Render(line)
			}
			lines = append(lines, line)
			continue
		}
		sum := Fit(ev.Summary, rest)
		if i == d.Selected {
			line := ts + " " + name + " " + sum
			if d.Focused {
				lines = append(lines, t.pSelected.Render(line))
			} else {
				lines = append(lines, t.pSelectedBlur.Render(line))
			}
			continue
		}
		lines = append(lines, t.pTime.Render(ts)+" "+t.pKinds[KindOf(ev.Name)].Render(name)+" "+t.pDim.Render(sum))
	}
	return Stack(lines, w, h)
}

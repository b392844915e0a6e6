package model

import (
	"fmt"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/ui"
)

func (m *Model) split() bool { return m.w >= SplitWidth }

func (m *Model) bodyHeight() int { return max(1, m.h-3) }

// leftWidth is the list's share of a split screen: most of it while the
// list has the focus, a narrow column (names and states) while an open
// guest's pane has it, so that events, details and the console get the
// room.
func (m *Model) leftWidth() int {
	if !m.split() {
		return m.w
	}
	if m.view != viewList {
		return m.w * 35 / 100
	}
	return m.w * 55 / 100
}

func (m *Model) rightSize() (int, int) {
	if m.split() {
		return m.w - m.leftWidth() - 1, m.bodyHeight()
	}
	return m.w, m.bodyHeight()
}

// layout passes the current sizes to the panes.
func (m *Model) layout() {
	bh := m.bodyHeight()
	m.list.height = ui.TableRows(bh)
	m.list.clampOffset()
	m.events.rows = ui.EventsRows(bh)
	if m.console != nil {
		w, h := m.rightSize()
		m.console.SetSize(w, h)
	}
}

// View renders the screen. The frame is cached: it is rebuilt only when
// an Update changed something, so idle messages cost nothing.
func (m *Model) View() tea.View {
	if m.dirty || m.frame == "" {
		m.frame = m.render()
		m.dirty = false
	}
	v := tea.NewView(m.frame)
	v.AltScreen = true
	v.WindowTitle = "qscope"
	return v
}

// Render returns the screen as a string (for tests and benchmarks).
func (m *Model) Render() string { return m.render() }

func (m *Model) render() string {
	t := m.theme
	w, bh := m.w, m.bodyHeight()
	if w <= 0 || m.h <= 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(m.header())
	b.WriteByte('\n')
	if m.split() {
		lw := m.leftWidth()
		rw, _ := m.rightSize()
		left := strings.Split(m.tableView(lw, bh, m.view == viewList), "\n")
		right := strings.Split(m.rightView(rw, bh), "\n")
		sep := t.Border.Render("│")
		blankL, blankR := strings.Repeat(" ", lw), strings.Repeat(" ", rw)
		for i := 0; i < bh; i++ {
			if i > 0 {
				b.WriteByte('\n')
			}
			l, r := "", ""
			if i < len(left) {
				l = left[i]
			}
			if i < len(right) {
				r = right[i]
			}
			if l == "" {
				l = blankL
			}
			if r == "" {
				r = blankR
			} else if m.view == viewConsole {
				r = ui.Fit(r, rw) // the console's lines are not measured
			}
			b.WriteString(l)
			b.WriteString(sep)
			b.WriteString(r)
		}
	} else {
		switch m.view {
		case viewList:
			b.WriteString(m.tableView(w, bh, true))
		case viewConsole:
			b.WriteString(ui.Block(m.guestView(w, bh), w, bh))
		default:
			b.WriteString(m.guestView(w, bh))
		}
	}
	b.WriteByte('\n')
	b.WriteString(m.statusLine())
	b.WriteByte('\n')
	b.WriteString(m.helpLine())
	screen := b.String()
	switch {
	case m.confirm != nil:
		screen = ui.Overlay(screen, m.confirmView(), m.w, m.h)
	case m.overlay != overlayNone:
		screen = ui.Overlay(screen, m.overlayView(), m.w, m.h)
	}
	return screen
}

func (m *Model) header() string {
	right := strconv.Itoa(len(m.list.guests)) + " guests"
	if len(m.list.rows) != len(m.list.guests) {
		right = strconv.Itoa(len(m.list.rows)) + "/" + right
	}
	if m.list.filter != "" && !m.list.typing {
		right = "filter: " + m.list.filter + " · " + right
	}
	if m.cfg.ReadOnly {
		right += " · read-only"
	}
	return ui.Tabs(m.theme, "qscope", tabNames, int(m.view), right, m.w)
}

func (m *Model) tableView(w, h int, focused bool) string {
	empty := "no guests found — run `qscope demo` to start three demo guests"
	switch {
	case m.watchErr != "" && len(m.list.guests) == 0:
		empty = m.watchErr
	case !m.scanned:
		empty = "looking for QEMU processes…"
	case len(m.list.guests) > 0:
		empty = "no guest matches the filter"
	case m.demoBusy:
		empty = "starting demo guests…"
	case m.cfg.StartDemo != nil:
		empty = "no guests found — press D to start three demo guests (or run `qscope demo`)"
	}
	return ui.GuestTable(m.theme, ui.Table{
		Guests: m.list.rows, Selected: m.list.selIdx, Offset: m.list.offset,
		SortBy: m.list.sortBy, Reverse: m.list.reverse, Focused: focused, Now: m.now, Empty: empty,
	}, w, h)
}

// rightView is the right-hand pane of a split screen: the open guest,
// or what discovery knows of the selected one.
func (m *Model) rightView(w, h int) string {
	if m.view != viewList {
		return m.guestView(w, h)
	}
	g, ok := m.list.selected()
	if !ok {
		return ""
	}
	if m.sess != nil && m.sess.key == g.Key() {
		return ui.Details(m.theme, m.detailsData(), w, h)
	}
	return ui.Summary(m.theme, g, m.now, "enter: details · e: events · c: console", w, h)
}

func (m *Model) guestView(w, h int) string {
	switch m.view {
	case viewDetails:
		d := m.detailsData()
		return ui.Details(m.theme, d, w, h)
	case viewEvents:
		return ui.Events(m.theme, m.events.data(ui.EventsRows(h), true), w, h)
	case viewConsole:
		if m.console != nil {
			return m.console.View()
		}
		return m.consolePlaceholder(w, h)
	}
	return ""
}

func (m *Model) consolePlaceholder(w, h int) string {
	t := m.theme
	lines := []string{t.Section.Render("Console")}
	s := m.sess
	switch {
	case s == nil:
	case s.state == sessDialing:
		lines = append(lines, t.Loading.Render("connecting to "+ui.Sanitize(s.guest.Name)+"'s monitor…"))
	case s.state != sessOpen:
		lines = append(lines, t.Error.Render(ui.Sanitize(s.why)))
	}
	return ui.Lines(lines, w, h)
}

func (m *Model) statusLine() string {
	t := m.theme
	if m.list.typing {
		return ui.Fit(ui.Input(t, "filter guests: /", m.list.filter)+"  "+t.Dim.Render("enter keeps it · esc clears"), m.w)
	}
	if m.events.typing {
		return ui.Fit(ui.Input(t, "filter events: /", m.events.filter)+"  "+t.Dim.Render("enter keeps it · esc clears"), m.w)
	}
	var parts []string
	tone := ui.ToneNormal
	if s := m.sess; s != nil && (s.state == sessOpen || s.state == sessDialing) {
		if s.guest.Owner == discover.OwnerLibvirt {
			// libvirtd holds the monitor; qscope only talks to libvirtd.
			parts = append(parts, "connected to "+s.guest.Name+" through libvirt — esc closes")
		} else {
			parts = append(parts, "holding "+s.guest.Name+"'s monitor — esc releases it")
		}
		tone = ui.ToneWarn
	}
	if m.msg != "" {
		parts = append(parts, m.msg)
		if m.msgError {
			tone = ui.ToneError
		}
	}
	if m.watchErr != "" && len(m.list.guests) > 0 {
		parts = append(parts, m.watchErr)
		tone = ui.ToneError
	}
	if len(parts) == 0 {
		return ui.StatusBar(t, "", ui.ToneNormal, m.w)
	}
	return ui.StatusBar(t, strings.Join(parts, " · "), tone, m.w)
}

func (m *Model) confirmView() string {
	t := m.theme
	c := m.confirm
	title := strings.ToUpper(c.act.String()[:1]) + c.act.String()[1:] + " " + c.guest.Name + "?"
	body := append([]string{""}, c.act.explain(c.guest)...)
	body = append(body, "")
	if c.needsName() {
		body = append(body, "Type the guest's name to confirm:", ui.Input(t, "> ", c.input))
		if c.err != "" {
			body = append(body, t.Error.Render(c.err))
		}
		body = append(body, "", t.Dim.Render("enter confirms · esc cancels"))
	} else {
		body = append(body, t.Dim.Render("y/enter confirms · n/esc cancels"))
	}
	return ui.Modal(t, title, body, min(m.w, 76), m.h)
}

func (m *Model) overlayView() string {
	t := m.theme
	maxH := max(3, m.h-6)
	lines := m.overlayLines
	off := min(m.overlayOffset, max(0, len(lines)-1))
	lines = lines[off:]
	if len(lines) > maxH {
		lines = lines[:maxH]
	}
	body := append([]string{""}, lines...)
	body = append(body, "", t.Dim.Render("esc closes · ↑/↓ scroll"))
	return ui.Modal(t, m.overlayTitle, body, m.w-4, m.h)
}

// helpLine is the short help of the focused context, cached per context
// and width (it changes only with them and the theme).
func (m *Model) helpLine() string {
	k := m.contextKeys()
	name := fmt.Sprintf("%T/%d/%v", k, m.w, m.cfg.ReadOnly)
	if _, ok := k.(consoleKeys); ok {
		return ui.HelpLine(m.theme, k, m.w)
	}
	if s, ok := m.helpCache[name]; ok {
		return s
	}
	if m.helpCache == nil {
		m.helpCache = map[string]string{}
	}
	s := ui.HelpLine(m.theme, k, m.w)
	m.helpCache[name] = s
	return s
}

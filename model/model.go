package model

import (
	"context"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/keymap"
	"github.com/qscope/qscope/model/console"
	"github.com/qscope/qscope/qmp"
	"github.com/qscope/qscope/ui"
)

// ConsolePane is the console as the root model embeds it: a pane on the
// open guest's monitor.
type ConsolePane interface {
	Update(tea.Msg) tea.Cmd
	View() string
	SetSize(w, h int)
	help.KeyMap
}

// ConsoleFactory builds the console pane for an open guest. ctx ends
// when the guest is closed.
type ConsoleFactory func(ctx context.Context, mon qmp.Monitor, g discover.Guest) (ConsolePane, tea.Cmd)

type view int

const (
	viewList view = iota
	viewDetails
	viewEvents
	viewConsole
)

var tabNames = []string{"Guests", "Details", "Events", "Console"}

// SplitWidth is the terminal width from which the list and the open
// guest are shown side by side.
const SplitWidth = 120

type overlayKind int

const (
	overlayNone overlayKind = iota
	overlayHelp
	overlayJSON
)

// Model is qscope's root model: it routes messages to the panes, owns
// the layout, the focus and the pop-ups, and holds the session on the
// open guest's monitor. Update never blocks: every I/O runs in a tea.Cmd.
type Model struct {
	cfg   Config
	keys  keymap.KeyMap
	theme *ui.Theme

	w, h int
	now  time.Time

	list    listState
	view    view
	sess    *session
	nextSID uint64
	details detailsState
	events  eventsState
	console ConsolePane
	confirm *confirmState

	overlay       overlayKind
	overlayTitle  string
	overlayLines  []string
	overlayOffset int

	msg      string
	msgError bool
	watchErr string
	scanned  bool // the first discovery batch arrived

	tickGen  uint64
	demoStop func()
	demoBusy bool

	// Render cache: View re-renders only when Update changed something.
	dirty bool
	frame string
	// helpCache holds rendered help lines by context and width.
	helpCache map[string]string
}

// New returns the root model.
func New(cfg Config) *Model {
	cfg.defaults()
	m := &Model{
		cfg:   cfg,
		keys:  keymap.New(cfg.ReadOnly),
		theme: ui.NewTheme(true, cfg.NoColor),
		w:     80, h: 24,
		now:   cfg.Now(),
		list:  newList(),
		dirty: true,
	}
	m.details.reset(nil)
	m.events.reset(cfg.EventBuffer)
	if cfg.Notice != "" {
		m.flash(cfg.Notice, true)
	}
	if cfg.Source == nil {
		m.watchErr = "no discovery source"
	}
	return m
}

// Init starts discovery and asks the terminal for its background colour.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{tea.RequestBackgroundColor}
	if m.cfg.Source != nil {
		src, ctx := m.cfg.Source, m.cfg.Context
		cmds = append(cmds, func() tea.Msg {
			ch, err := src.Watch(ctx)
			return watchStartedMsg{ch: ch, err: err}
		})
	}
	return tea.Batch(cmds...)
}

// Close releases the monitor still held, synchronously; call it after
// the program has ended.
func (m *Model) Close() {
	if m.sess != nil {
		s := m.sess
		m.sess = nil
		s.cancel()
		if s.sub != nil {
			s.sub.Close()
		}
		if s.mon != nil {
			_ = s.mon.Close()
		}
	}
	if m.demoStop != nil {
		m.demoStop()
		m.demoStop = nil
	}
}

func waitChanges(ch <-chan Batch) tea.Cmd {
	return func() tea.Msg {
		b, ok := <-ch
		if !ok {
			return changesMsg{ch: ch, closed: true}
		}
		msg := changesMsg{changes: b.Changes, err: b.Err, ch: ch}
		// Coalesce whatever else is already queued.
		for {
			select {
			case more, ok := <-ch:
				if !ok {
					msg.closed = true
					return msg
				}
				msg.changes = append(msg.changes, more.Changes...)
				msg.err = more.Err
			default:
				return msg
			}
		}
	}
}

func (m *Model) flash(s string, isErr bool) {
	m.msg, m.msgError = s, isErr
}

// Update handles one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	prev := m.dirty
	m.dirty = true
	cmd, changed := m.update(msg)
	if !changed {
		m.dirty = prev
	}
	return m, cmd
}

func (m *Model) update(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
		m.helpCache = nil
		m.layout()
		return nil, true
	case tea.BackgroundColorMsg:
		m.theme = ui.NewTheme(msg.IsDark(), m.cfg.NoColor)
		m.helpCache = nil
		if t, ok := m.console.(interface{ SetTheme(*ui.Theme) }); ok {
			t.SetTheme(m.theme)
		}
		return nil, true
	case console.CloseMsg:
		if m.view == viewConsole {
			return m.back(), true
		}
		return nil, false
	case tea.KeyPressMsg:
		return m.key(msg), true
	case watchStartedMsg:
		if msg.err != nil {
			m.watchErr = "discovery failed: " + msg.err.Error()
			return nil, true
		}
		return waitChanges(msg.ch), false
	case changesMsg:
		// An empty batch changes nothing on screen, unless it is the first
		// scan or it brings or clears an error.
		changed := len(msg.changes) > 0 || !m.scanned || msg.closed || (msg.err != nil) != (m.watchErr != "")
		return m.changes(msg), changed
	case sessionOpenedMsg:
		return m.opened(msg)
	case eventsMsg:
		s := m.sess
		if s == nil || msg.sid != s.id {
			return nil, false
		}
		next := streamCmd(s.ctx, s.id, s.mon, s.sub)
		if len(msg.events) == 0 {
			return next, false
		}
		m.events.dropped = msg.dropped
		m.events.add(msg.events)
		if m.applyEventsToState(msg.events) {
			// The run state changed: ask QEMU for the status section again.
			next = tea.Batch(next, sectionCmd(s.ctx, s.id, m.details.seq, 0, s.mon, s.guest, m.cfg.CallTimeout, m.cfg.ProcRoot))
		}
		return next, true
	case sessionEndedMsg:
		s := m.sess
		if s == nil || msg.sid != s.id || s.state != sessOpen {
			return nil, false
		}
		s.state = sessClosed
		s.err = msg.err
		s.why = describeEnd(s, msg.err)
		m.events.stream = s.why
		m.flash(s.guest.Name+": "+s.why, true)
		return closeCmd(s.mon, s.sub), true
	case sectionMsg:
		return nil, m.applySection(msg)
	case vcpuSampleMsg:
		if m.sess == nil || msg.sid != m.sess.id || msg.seq != m.details.seq {
			return nil, false
		}
		m.pushSample(msg.sample)
		return nil, true
	case tickMsg:
		return m.tick(msg)
	case actionDoneMsg:
		if msg.err != nil {
			m.flash(msg.act.String()+" "+msg.name+" failed: "+msg.err.Error(), true)
		} else {
			m.flash(msg.act.String()+" "+msg.name+": done", false)
		}
		return nil, true
	case demoStartedMsg:
		m.demoBusy = false
		if msg.err != nil {
			m.flash("demo: "+msg.err.Error(), true)
		} else {
			m.demoStop = msg.stop
			m.flash("demo guests started; they stop when qscope exits", false)
		}
		return nil, true
	}
	// Anything else belongs to the console, if one is open.
	if m.console != nil {
		return m.console.Update(msg), true
	}
	return nil, false
}

func (m *Model) changes(msg changesMsg) tea.Cmd {
	m.now = m.cfg.Now()
	m.scanned = true
	if msg.err != nil {
		m.watchErr = "discovery: " + msg.err.Error()
	} else if !msg.closed {
		m.watchErr = ""
	}
	if s := m.sess; s != nil && s.state == sessOpen {
		// Discovery's probe cannot reach a monitor qscope itself holds:
		// keep what the session knows instead of "busy".
		for i := range msg.changes {
			c := &msg.changes[i]
			if c.Kind != discover.Removed && c.Guest.Key() == s.key && c.Guest.State == discover.StateBusy {
				c.Guest.State = s.guest.State
				c.Guest.Reason = "qscope holds its monitor"
			}
		}
	}
	m.list.apply(msg.changes)
	if s := m.sess; s != nil {
		for _, c := range msg.changes {
			if c.Guest.Key() != s.key {
				continue
			}
			if c.Kind == discover.Removed {
				s.gone = true
				s.guest.State = "exited"
				s.guest.Reason = "the QEMU process is gone"
				if s.state == sessClosed {
					s.why = describeEnd(s, s.err)
					m.events.stream = s.why
					m.flash(s.guest.Name+": "+s.why, true)
				}
				if s.state == sessDialing || s.state == sessFailed {
					s.why = "guest exited"
				}
			} else {
				s.guest = c.Guest
			}
		}
	}
	if msg.closed {
		if m.watchErr == "" {
			m.watchErr = "discovery stopped"
		}
		return nil
	}
	return waitChanges(msg.ch)
}

// applyEventsToState keeps the open guest's state current from its
// lifecycle events, between two discovery scans.
func (m *Model) applyEventsToState(evs []qmp.Event) (lifecycle bool) {
	s := m.sess
	for _, ev := range evs {
		switch ev.Name {
		case "STOP":
			s.guest.State = discover.StatePaused
		case "RESUME":
			s.guest.State = discover.StateRunning
		}
		if ui.KindOf(ev.Name) == ui.KindLifecycle || ev.Name == "GUEST_PANICKED" {
			lifecycle = true
		}
	}
	return lifecycle
}

func (m *Model) opened(msg sessionOpenedMsg) (tea.Cmd, bool) {
	s := m.sess
	if s == nil || msg.sid != s.id {
		// A dial that finished after its guest was closed: release it.
		return closeCmd(msg.mon, msg.sub), false
	}
	if msg.err != nil {
		s.state = sessFailed
		s.err = msg.err
		s.why = describeDialError(s.guest, msg.err)
		for i := range m.details.secs {
			m.details.secs[i] = ui.Section{Title: sections[i].title, State: ui.SectionIdle, Err: "no monitor"}
		}
		m.events.stream = s.why
		if s.pending != nil {
			m.flash(s.pending.act.String()+" "+s.guest.Name+": "+s.why, true)
			s.pending = nil
		}
		return nil, true
	}
	s.state = sessOpen
	s.mon, s.sub = msg.mon, msg.sub
	m.events.stream = "streaming"
	cmds := []tea.Cmd{streamCmd(s.ctx, s.id, s.mon, s.sub), m.refreshDetails()}
	if m.view == viewDetails {
		cmds = append(cmds, m.startTicks())
	}
	if m.view == viewConsole {
		cmds = append(cmds, m.openConsole())
	}
	if p := s.pending; p != nil {
		s.pending = nil
		cmds = append(cmds, m.execAction(p.act))
	}
	return tea.Batch(cmds...), true
}

func (m *Model) startTicks() tea.Cmd {
	m.tickGen++
	return tickCmd(m.tickGen, m.cfg.Interval)
}

func (m *Model) tick(msg tickMsg) (tea.Cmd, bool) {
	if msg.gen != m.tickGen {
		return nil, false
	}
	s := m.sess
	if s == nil || s.state != sessOpen || m.view != viewDetails {
		return nil, false
	}
	cmds := []tea.Cmd{tickCmd(m.tickGen, m.cfg.Interval)}
	if ts := tids(m.details.threads); len(ts) > 0 {
		cmds = append(cmds, sampleCmd(s.ctx, s.id, m.details.seq, m.cfg.ProcRoot, s.guest.PID, ts))
	}
	return tea.Batch(cmds...), false
}

func (m *Model) openConsole() tea.Cmd {
	s := m.sess
	if m.console != nil || s == nil || s.state != sessOpen {
		return nil
	}
	f := m.cfg.NewConsole
	if f == nil {
		f = m.defaultConsole
	}
	c, cmd := f(s.ctx, s.mon, s.guest)
	m.console = c
	m.layout()
	return cmd
}

// setView switches the visible pane, starting what it needs.
func (m *Model) setView(v view) tea.Cmd {
	if v == m.view {
		return nil
	}
	m.view = v
	m.layout()
	switch v {
	case viewDetails:
		if m.sess != nil && m.sess.state == sessOpen {
			return m.startTicks()
		}
	case viewConsole:
		return m.openConsole()
	}
	return nil
}

// openSelected opens the selected guest in view v.
func (m *Model) openSelected(v view) tea.Cmd {
	g, ok := m.list.selected()
	if !ok {
		return nil
	}
	m.msg = ""
	cmd := m.open(g)
	return tea.Batch(cmd, m.setView(v))
}

// consoleIdle says whether the console's line is empty with no pop-up or
// prompt open, so that a key which cannot start a line is free for the
// root.
func (m *Model) consoleIdle() bool {
	c, ok := m.console.(interface {
		Value() string
		WantsEsc() bool
	})
	return ok && c.Value() == "" && !c.WantsEsc()
}

// back leaves the guest's views and releases its monitor.
func (m *Model) back() tea.Cmd {
	name, libvirt := "", false
	if m.sess != nil {
		name, libvirt = m.sess.guest.Name, m.sess.guest.Owner == discover.OwnerLibvirt
	}
	cmd := m.release()
	m.view = viewList
	m.layout()
	switch {
	case name != "" && libvirt:
		m.flash("closed the libvirt connection to "+name, false)
	case name != "":
		m.flash("released "+name+"'s monitor", false)
	}
	return cmd
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	if key.Matches(msg, k.List.ForceQuit) {
		return tea.Quit
	}
	if m.confirm != nil {
		return m.confirmKey(msg)
	}
	if m.overlay != overlayNone {
		return m.overlayKey(msg)
	}
	if m.list.typing {
		m.listFilterKey(msg)
		return nil
	}
	if m.events.typing {
		m.eventsFilterKey(msg)
		return nil
	}
	if m.view == viewConsole {
		if key.Matches(msg, k.Console.Back) {
			if w, ok := m.console.(interface{ WantsEsc() bool }); !ok || !w.WantsEsc() {
				return m.back()
			}
		}
		if key.Matches(msg, k.Console.Help) && m.consoleIdle() {
			// ? cannot start a QMP or HMP line: on an empty line it is help.
			m.showHelp()
			return nil
		}
		if key.Matches(msg, k.Console.Next) {
			// The console takes every other key as text; shift+tab is how
			// its pane is left for the guest's others without releasing
			// the monitor.
			return m.setView(m.view%3 + 1)
		}
		if m.console != nil {
			return m.console.Update(msg)
		}
		return nil
	}
	if key.Matches(msg, k.List.Quit) {
		return tea.Quit
	}
	if key.Matches(msg, k.List.Help) {
		m.showHelp()
		return nil
	}
	switch m.view {
	case viewList:
		return m.listKey(msg)
	case viewDetails:
		return m.detailsKey(msg)
	case viewEvents:
		return m.eventsKey(msg)
	}
	return nil
}

// allActions are the action keys as they are without --readonly: in
// read-only mode they are disabled in the key map (neither shown nor
// run), and still recognised so that pressing one says why nothing
// happens.
var allActions = keymap.New(false).List.Actions

func (m *Model) actionKey(msg tea.KeyPressMsg, a keymap.Actions, g discover.Guest, ok bool) bool {
	if m.cfg.ReadOnly {
		a = allActions
	}
	var act action
	switch {
	case key.Matches(msg, a.Pause):
		act = actPause
	case key.Matches(msg, a.Reset):
		act = actReset
	case key.Matches(msg, a.Powerdown):
		act = actPowerdown
	case key.Matches(msg, a.QuitGuest):
		act = actQuit
	case key.Matches(msg, a.Kill):
		act = actKill
	default:
		return false
	}
	if ok {
		m.askAction(act, g)
	}
	return true
}

func (m *Model) listKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys.List
	page := max(1, m.list.height-1)
	switch {
	case key.Matches(msg, k.Up):
		m.list.move(-1)
	case key.Matches(msg, k.Down):
		m.list.move(1)
	case key.Matches(msg, k.PageUp):
		m.list.move(-page)
	case key.Matches(msg, k.PageDown):
		m.list.move(page)
	case key.Matches(msg, k.Top):
		m.list.move(-len(m.list.rows))
	case key.Matches(msg, k.Bottom):
		m.list.move(len(m.list.rows))
	case key.Matches(msg, k.Open), key.Matches(msg, k.Details):
		return m.openSelected(viewDetails)
	case key.Matches(msg, k.Events):
		return m.openSelected(viewEvents)
	case key.Matches(msg, k.Console):
		return m.openSelected(viewConsole)
	case key.Matches(msg, k.Filter):
		m.list.typing = true
	case key.Matches(msg, k.Sort):
		m.list.cycleSort()
	case key.Matches(msg, k.Reverse):
		m.list.reverse = !m.list.reverse
		m.list.rebuild()
	case key.Matches(msg, k.Clear):
		if m.list.filter != "" {
			m.list.filter = ""
			m.list.rebuild()
		} else if m.sess != nil {
			return m.back()
		}
	case key.Matches(msg, k.Demo):
		return m.startDemo()
	default:
		g, ok := m.list.selected()
		m.actionKey(msg, k.Actions, g, ok)
	}
	return nil
}

// demoOffered says whether D would start the demo guests now: the host
// has no guests and no demo runs or is starting.
func (m *Model) demoOffered() bool {
	return m.cfg.StartDemo != nil && len(m.list.guests) == 0 && !m.demoBusy && m.demoStop == nil
}

func (m *Model) startDemo() tea.Cmd {
	if !m.demoOffered() {
		return nil
	}
	m.demoBusy = true
	m.flash("starting demo guests…", false)
	start, ctx := m.cfg.StartDemo, m.cfg.Context
	return func() tea.Msg {
		stop, err := start(ctx)
		return demoStartedMsg{stop: stop, err: err}
	}
}

func (m *Model) guestViewKey(msg tea.KeyPressMsg, v keymap.Views, a keymap.Actions) (tea.Cmd, bool) {
	switch {
	case key.Matches(msg, v.Back):
		return m.back(), true
	case key.Matches(msg, v.Details):
		return m.setView(viewDetails), true
	case key.Matches(msg, v.Events):
		return m.setView(viewEvents), true
	case key.Matches(msg, v.Console):
		return m.setView(viewConsole), true
	case key.Matches(msg, v.Next):
		return m.setView(m.view%3 + 1), true
	}
	if m.sess != nil && m.actionKey(msg, a, m.sess.guest, true) {
		return nil, true
	}
	return nil, false
}

func (m *Model) detailsKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys.Details
	if cmd, ok := m.guestViewKey(msg, k.Views, k.Actions); ok {
		return cmd
	}
	page := max(1, m.bodyHeight()-2)
	switch {
	case key.Matches(msg, k.Up):
		m.details.offset = max(0, m.details.offset-1)
	case key.Matches(msg, k.Down):
		m.details.offset++
	case key.Matches(msg, k.PageUp):
		m.details.offset = max(0, m.details.offset-page)
	case key.Matches(msg, k.PageDown):
		m.details.offset += page
	case key.Matches(msg, k.Top):
		m.details.offset = 0
	case key.Matches(msg, k.Bottom):
		m.details.offset = 1 << 20
	case key.Matches(msg, k.Refresh):
		s := m.sess
		if s == nil {
			return nil
		}
		if s.state == sessFailed || s.state == sessClosed {
			g := s.guest
			if cur, ok := m.list.guests[s.key]; ok {
				g = cur
			}
			m.release()
			return tea.Batch(m.open(g), m.startTicksIfDetails())
		}
		return m.refreshDetails()
	}
	m.clampDetails()
	return nil
}

func (m *Model) startTicksIfDetails() tea.Cmd {
	if m.view == viewDetails {
		m.tickGen++
		return tickCmd(m.tickGen, m.cfg.Interval)
	}
	return nil
}

func (m *Model) clampDetails() {
	w, h := m.rightSize()
	n := len(ui.DetailsLines(m.theme, m.detailsData(), w))
	m.details.offset = max(0, min(m.details.offset, n-h))
}

func (m *Model) eventsKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys.Events
	if e := &m.events; e.filter != "" && key.Matches(msg, k.Views.Back) {
		// As in the list: esc clears a kept filter before it leaves.
		e.filter = ""
		e.refilter()
		return nil
	}
	if cmd, ok := m.guestViewKey(msg, k.Views, k.Actions); ok {
		return cmd
	}
	e := &m.events
	page := max(1, e.rows-1)
	switch {
	case key.Matches(msg, k.Up):
		e.move(-1)
	case key.Matches(msg, k.Down):
		e.move(1)
	case key.Matches(msg, k.PageUp):
		e.move(-page)
	case key.Matches(msg, k.PageDown):
		e.move(page)
	case key.Matches(msg, k.Top):
		e.topmost()
	case key.Matches(msg, k.Bottom):
		e.bottom()
	case key.Matches(msg, k.Follow):
		if e.follow {
			if ent := e.selected(); ent != nil {
				e.sel = ent.seq
				e.top = ent.seq
			}
			e.follow = false
		} else {
			e.follow = true
		}
	case key.Matches(msg, k.Pause):
		if e.paused {
			e.paused = false
		} else {
			if ent := e.selected(); ent != nil {
				e.sel = ent.seq
			}
			e.paused = true
			e.frozen = e.ring.next
		}
	case key.Matches(msg, k.Show):
		if ent := e.selected(); ent != nil {
			m.overlay = overlayJSON
			m.overlayTitle = ent.ev.Name + " at " + ent.ev.Time.Format("15:04:05.000000")
			m.overlayLines = prettyEvent(ent)
			m.overlayOffset = 0
		}
	case key.Matches(msg, k.Filter):
		e.typing = true
	case key.Matches(msg, k.Clear):
		size := len(e.ring.buf)
		stream, rows := e.stream, e.rows
		e.reset(size)
		e.stream, e.rows = stream, rows
	}
	return nil
}

// editLine applies a key to a one-line input. It reports whether the
// value changed.
func editLine(s *string, msg tea.KeyPressMsg) bool {
	switch msg.String() {
	case "backspace":
		if r := []rune(*s); len(r) > 0 {
			*s = string(r[:len(r)-1])
			return true
		}
		return false
	case "ctrl+u":
		*s = ""
		return true
	case "ctrl+w":
		t := strings.TrimRight(*s, " ")
		if i := strings.LastIndexByte(t, ' '); i >= 0 {
			*s = t[:i+1]
		} else {
			*s = ""
		}
		return true
	case "space":
		*s += " "
		return true
	}
	if msg.Text != "" && msg.Mod&^tea.ModShift == 0 {
		*s += msg.Text
		return true
	}
	return false
}

func (m *Model) listFilterKey(msg tea.KeyPressMsg) {
	k := m.keys.Input
	switch {
	case key.Matches(msg, k.Accept):
		m.list.typing = false
	case key.Matches(msg, k.Cancel):
		m.list.typing = false
		m.list.filter = ""
		m.list.rebuild()
	default:
		if editLine(&m.list.filter, msg) {
			m.list.rebuild()
		}
	}
}

func (m *Model) eventsFilterKey(msg tea.KeyPressMsg) {
	k := m.keys.Input
	e := &m.events
	switch {
	case key.Matches(msg, k.Accept):
		e.typing = false
	case key.Matches(msg, k.Cancel):
		e.typing = false
		e.filter = ""
		e.refilter()
	default:
		if editLine(&e.filter, msg) {
			e.refilter()
		}
	}
}

func (m *Model) confirmKey(msg tea.KeyPressMsg) tea.Cmd {
	c := m.confirm
	k := m.keys.Confirm
	switch {
	case key.Matches(msg, k.Cancel):
		m.confirm = nil
		m.flash(c.act.String()+" cancelled", false)
		return nil
	case key.Matches(msg, k.Accept) || (!c.needsName() && msg.String() == "y"):
		if c.needsName() && c.input != c.guest.Name {
			c.err = "type the guest's name exactly to confirm"
			return nil
		}
		m.confirm = nil
		return m.runAction(c.act, c.guest)
	case !c.needsName() && msg.String() == "n":
		m.confirm = nil
		m.flash(c.act.String()+" cancelled", false)
		return nil
	}
	if c.needsName() {
		if editLine(&c.input, msg) {
			c.err = ""
		}
	}
	return nil
}

func (m *Model) showHelp() {
	keys := m.contextKeys()
	if l, ok := keys.(keymap.List); ok {
		// D is listed only when it would do something.
		l.Demo.SetEnabled(m.demoOffered())
		keys = l
	}
	m.overlay = overlayHelp
	m.overlayTitle = "Keys — " + tabNames[m.view]
	m.overlayLines = strings.Split(ui.FullHelp(m.theme, keys, max(20, m.w-8)), "\n")
	m.overlayOffset = 0
}

func (m *Model) overlayKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys.Overlay
	switch {
	case key.Matches(msg, k.Close), key.Matches(msg, k.Help):
		m.overlay = overlayNone
	case key.Matches(msg, k.Quit):
		return tea.Quit
	case key.Matches(msg, k.Up):
		m.overlayOffset = max(0, m.overlayOffset-1)
	case key.Matches(msg, k.Down):
		m.overlayOffset = min(m.overlayOffset+1, max(0, len(m.overlayLines)-1))
	case key.Matches(msg, k.PageDown):
		m.overlayOffset = min(m.overlayOffset+10, max(0, len(m.overlayLines)-1))
	case key.Matches(msg, k.PageUp):
		m.overlayOffset = max(0, m.overlayOffset-10)
	case key.Matches(msg, k.Top):
		m.overlayOffset = 0
	}
	return nil
}

// contextKeys is the key map of what has the focus now.
func (m *Model) contextKeys() help.KeyMap {
	switch {
	case m.confirm != nil:
		return m.keys.Confirm
	case m.overlay != overlayNone:
		return m.keys.Overlay
	case m.list.typing, m.events.typing:
		return m.keys.Input
	}
	switch m.view {
	case viewDetails:
		return m.keys.Details
	case viewEvents:
		return m.keys.Events
	case viewConsole:
		if m.console != nil {
			return consoleKeys{m.keys.Console, m.console}
		}
		return m.keys.Console
	}
	return m.keys.List
}

// consoleKeys joins the root's console keys with the console's own.
type consoleKeys struct {
	root keymap.Console
	c    help.KeyMap
}

func (k consoleKeys) ShortHelp() []key.Binding {
	return append(append([]key.Binding{}, k.root.ShortHelp()...), k.c.ShortHelp()...)
}

func (k consoleKeys) FullHelp() [][]key.Binding {
	return append(k.root.FullHelp(), k.c.FullHelp()...)
}

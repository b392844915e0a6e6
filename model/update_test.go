package model

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/qmp"
	"github.com/qscope/qscope/ui"
)

func failingConnect(err error) func(context.Context, discover.Guest) (qmp.Monitor, error) {
	return func(context.Context, discover.Guest) (qmp.Monitor, error) { return nil, err }
}

func TestStaleResultsDropped(t *testing.T) {
	m := newTest(t, Config{Connect: failingConnect(qmp.ErrBusy)})
	g1, g2 := testGuest("one", 1, "running"), testGuest("two", 2, "running")
	m.Update(added(g1, g2))
	press(m, "enter")
	first := m.sess.id
	press(m, "esc", "down", "enter")
	if m.sess == nil || m.sess.guest.Name != "two" || m.sess.id == first {
		t.Fatalf("session %+v, want a new one on two", m.sess)
	}
	// A section result of the first session arrives late: dropped.
	m.details.secs[0].State = ui.SectionLoading
	m.Update(sectionMsg{sid: first, seq: m.details.seq, idx: 0, rows: []ui.Row{{Label: "x", Value: "stale"}}})
	if m.details.secs[0].State != ui.SectionLoading {
		t.Error("a result of a closed session was applied")
	}
	// One of the current session but an older refresh: dropped too.
	m.Update(sectionMsg{sid: m.sess.id, seq: m.details.seq - 1, idx: 0})
	if m.details.secs[0].State != ui.SectionLoading {
		t.Error("a result of an older refresh was applied")
	}
	m.Update(sectionMsg{sid: m.sess.id, seq: m.details.seq, idx: 0, rows: []ui.Row{{Label: "run state", Value: "running"}}})
	if m.details.secs[0].State != ui.SectionLoaded {
		t.Error("the current result was not applied")
	}
	// Events of the old session are dropped and not re-armed.
	_, cmd := m.Update(eventsMsg{sid: first, events: []qmp.Event{{Name: "STOP"}}})
	if cmd != nil || m.events.ring.n != 0 {
		t.Errorf("events of a closed session: cmd %v, %d buffered", cmd != nil, m.events.ring.n)
	}
}

// closeRecorder is a monitor that only records Close: it stands for a
// dial that completed after its guest was closed.
type closeRecorder struct {
	qmp.Monitor
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestLateDialIsReleased(t *testing.T) {
	m := newTest(t, Config{Connect: failingConnect(qmp.ErrBusy)})
	m.Update(added(testGuest("one", 1, "running")))
	press(m, "enter")
	sid := m.sess.id
	press(m, "esc")
	if m.sess != nil {
		t.Fatal("esc kept the session")
	}
	mon := &closeRecorder{}
	_, cmd := m.Update(sessionOpenedMsg{sid: sid, mon: mon})
	if cmd == nil {
		t.Fatal("a late dial returned no command to close it")
	}
	cmd()
	if !mon.closed {
		t.Error("the late monitor was not closed")
	}
}

func TestBusyAndStoppedExplained(t *testing.T) {
	m := newTest(t, Config{Connect: failingConnect(qmp.ErrBusy)})
	busy := testGuest("busy", 1, "running")
	stopped := testGuest("stopped", 2, discover.StateStopped)
	m.Update(added(busy, stopped))
	press(m, "enter")
	m.Update(sessionOpenedMsg{sid: m.sess.id, err: qmp.ErrBusy})
	if !strings.Contains(m.sess.why, "busy") || !strings.Contains(screen(t, m), "busy: another client holds") {
		t.Errorf("busy monitor explained as %q", m.sess.why)
	}
	press(m, "esc", "down", "enter")
	m.Update(sessionOpenedMsg{sid: m.sess.id, err: context.DeadlineExceeded})
	if !strings.Contains(m.sess.why, "SIGSTOP") {
		t.Errorf("stopped guest explained as %q", m.sess.why)
	}
}

func TestGuestExitWhileOpen(t *testing.T) {
	m := newTest(t, Config{})
	g := testGuest("doomed", 7, "running")
	m.Update(added(g))
	press(m, "enter")
	m.sess.state = sessOpen // as if the dial had succeeded
	m.Update(sessionEndedMsg{sid: m.sess.id, err: errors.New("disconnected: EOF")})
	m.Update(removed(g))
	if m.sess.why != "monitor closed: guest exited" {
		t.Errorf("pane says %q", m.sess.why)
	}
	if s := screen(t, m); !strings.Contains(s, "monitor closed: guest exited") {
		t.Errorf("screen does not say the guest exited:\n%s", s)
	}
	// Keys still work.
	press(m, "e")
	if m.view != viewEvents {
		t.Error("e did not switch to events after the guest exited")
	}
	press(m, "esc")
	if m.sess != nil || m.view != viewList {
		t.Error("esc did not go back to the list")
	}
}

func TestTickGenerations(t *testing.T) {
	m := newTest(t, Config{})
	m.Update(added(testGuest("a", 1, "running")))
	press(m, "enter")
	m.sess.state = sessOpen
	old := m.tickGen
	m.startTicks()
	if _, cmd := m.Update(tickMsg{gen: old}); cmd != nil {
		t.Error("a tick of an old generation re-armed itself")
	}
	if _, cmd := m.Update(tickMsg{gen: m.tickGen}); cmd == nil {
		t.Error("the current tick did not re-arm itself")
	}
	press(m, "esc")
	if _, cmd := m.Update(tickMsg{gen: m.tickGen}); cmd != nil {
		t.Error("a tick re-armed itself after the guest was closed")
	}
}

func TestNoRenderWhenNothingChanged(t *testing.T) {
	m := newTest(t, Config{})
	m.Update(sizeMsg(80, 24))
	m.Update(added(testGuest("a", 1, "running")))
	m.View()
	if m.dirty {
		t.Fatal("dirty after View")
	}
	m.Update(tickMsg{gen: 999})
	m.Update(eventsMsg{sid: 12345})
	if m.dirty {
		t.Error("stale tick and events made the frame dirty")
	}
	m.Update(added(testGuest("b", 2, "running")))
	if !m.dirty {
		t.Error("a new guest did not make the frame dirty")
	}
}

func TestReadOnlyRefusesActions(t *testing.T) {
	m := newTest(t, Config{ReadOnly: true, Kill: func(context.Context, discover.Guest) error { return nil }})
	m.Update(sizeMsg(80, 24))
	m.Update(added(testGuest("a", 1, "running")))
	for _, k := range []string{"p", "R", "P", "Q", "K"} {
		press(m, k)
		if m.confirm != nil {
			t.Errorf("read-only: %s opened a confirmation", k)
			m.confirm = nil
		}
		if !m.msgError || !strings.HasPrefix(m.msg, "read-only: ") || !strings.HasSuffix(m.msg, " refused") {
			t.Errorf("read-only: %s pressed, status line says %q (want why nothing happens)", k, m.msg)
		}
		m.msg = ""
	}
	if s := screen(t, m); strings.Contains(s, "pause/resume") || !strings.Contains(s, "read-only") {
		t.Errorf("read-only screen shows actions or lacks the marker:\n%s", s)
	}
	// Even a confirmation forged past the keys is refused.
	if cmd := m.runAction(actReset, m.list.rows[0]); cmd != nil {
		t.Error("runAction ran in read-only mode")
	}
}

func TestDestructiveActionNeedsTheName(t *testing.T) {
	var killed []string
	m := newTest(t, Config{Kill: func(_ context.Context, g discover.Guest) error { killed = append(killed, g.Name); return nil }})
	m.Update(sizeMsg(80, 24))
	m.Update(added(testGuest("victim", 4242, "running")))
	press(m, "K")
	if m.confirm == nil || m.confirm.act != actKill {
		t.Fatal("K did not ask for confirmation")
	}
	if s := screen(t, m); !strings.Contains(s, "Type the guest's name") {
		t.Errorf("modal does not ask for the name:\n%s", s)
	}
	typeText(m, "victi")
	if cmd := press(m, "enter"); cmd != nil || m.confirm == nil {
		t.Fatal("a wrong name confirmed the kill")
	}
	if !strings.Contains(m.confirm.err, "exactly") {
		t.Errorf("wrong name error %q", m.confirm.err)
	}
	// q is typed, not quitting.
	press(m, "q")
	if m.confirm.input != "victiq" {
		t.Errorf("input %q", m.confirm.input)
	}
	press(m, "backspace", "m")
	cmd := press(m, "enter")
	if m.confirm != nil || cmd == nil {
		t.Fatal("the right name did not confirm")
	}
	msg := cmd().(actionDoneMsg)
	if msg.err != nil || len(killed) != 1 || killed[0] != "victim" {
		t.Errorf("kill: %v, killed %v", msg.err, killed)
	}
	m.Update(msg)
	if !strings.Contains(m.msg, "kill victim: done") {
		t.Errorf("status %q", m.msg)
	}
}

func TestKillRefusedForLibvirtGuests(t *testing.T) {
	m := newTest(t, Config{Kill: func(context.Context, discover.Guest) error { t.Error("kill called"); return nil }})
	g := testGuest("managed", 5, "running")
	g.Owner = discover.OwnerLibvirt
	m.Update(added(g))
	press(m, "K")
	if m.confirm != nil || !strings.Contains(m.msg, "through libvirt") {
		t.Errorf("libvirt kill: confirm %v, msg %q", m.confirm != nil, m.msg)
	}
	// The whole reason fits an 80-column status line.
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	if s := screen(t, m); !strings.Contains(s, m.msg) {
		t.Errorf("the refusal %q is cut at 80 columns:\n%s", m.msg, s)
	}
}

func TestPauseConfirmsWithY(t *testing.T) {
	m := newTest(t, Config{Connect: failingConnect(qmp.ErrBusy)})
	m.Update(added(testGuest("p", 5, "paused")))
	press(m, "p")
	if m.confirm == nil || m.confirm.act != actResume {
		t.Fatalf("p on a paused guest: %+v, want a resume confirmation", m.confirm)
	}
	press(m, "n")
	if m.confirm != nil {
		t.Fatal("n did not cancel")
	}
	press(m, "p", "y")
	if m.sess == nil || m.sess.pending == nil || m.sess.pending.act != actResume {
		t.Fatalf("y did not open the monitor with a pending resume: %+v", m.sess)
	}
	m.Update(sessionOpenedMsg{sid: m.sess.id, err: qmp.ErrBusy})
	if !strings.Contains(m.msg, "resume p: busy") {
		t.Errorf("a failed open with a pending action says %q", m.msg)
	}
}

func TestEventsRingIsBounded(t *testing.T) {
	m := newTest(t, Config{EventBuffer: 100})
	m.Update(added(testGuest("a", 1, "running")))
	press(m, "e")
	m.sess.state = sessOpen
	var evs []qmp.Event
	for i := range 250 {
		name := "STOP"
		if i%2 == 1 {
			name = "RESUME"
		}
		evs = append(evs, qmp.Event{Name: name, Data: json.RawMessage(`{"i":` + strconv.Itoa(i) + `}`), Timestamp: qmp.Timestamp{Seconds: epoch.Unix() + int64(i)}})
	}
	m.Update(eventsMsg{sid: m.sess.id, events: evs})
	e := &m.events
	if e.ring.n != 100 || len(e.shown) != 100 {
		t.Fatalf("ring holds %d, shown %d, want 100", e.ring.n, len(e.shown))
	}
	if ent := e.ring.get(e.ring.first()); !strings.Contains(ent.ev.Summary, `"i":150`) {
		t.Errorf("oldest kept is %s, want i=150", ent.ev.Summary)
	}
	// Following: the newest is selected.
	if ent := e.selected(); !strings.Contains(ent.ev.Summary, `"i":249`) {
		t.Errorf("following selects %s", ent.ev.Summary)
	}
	// Filter by name.
	press(m, "/")
	typeText(m, "resu")
	press(m, "enter")
	if len(e.shown) != 50 {
		t.Errorf("filter resu shows %d, want 50", len(e.shown))
	}
	// esc clears a kept filter first, and only then leaves the pane.
	press(m, "esc")
	if e.filter != "" || len(e.shown) != 100 || m.view != viewEvents || m.sess == nil {
		t.Errorf("esc with a filter: filter %q, %d shown, view %v", e.filter, len(e.shown), m.view)
	}
	press(m, "/")
	typeText(m, "resu")
	press(m, "enter")
	// Pause freezes the view while events keep arriving.
	press(m, "space")
	m.Update(eventsMsg{sid: m.sess.id, events: []qmp.Event{{Name: "RESUME", Data: json.RawMessage(`{"i":999}`)}}})
	d := e.data(10, true)
	if !d.Paused || d.Pending != 1 || strings.Contains(d.Window[len(d.Window)-1].Summary, "999") {
		t.Errorf("paused view: paused %v pending %d last %q", d.Paused, d.Pending, d.Window[len(d.Window)-1].Summary)
	}
	press(m, "space")
	d = e.data(10, true)
	if !strings.Contains(d.Window[len(d.Window)-1].Summary, "999") {
		t.Errorf("after resuming the view, last is %q", d.Window[len(d.Window)-1].Summary)
	}
	// Moving up stops following; the full JSON opens on enter.
	press(m, "up", "up")
	if e.follow {
		t.Error("still following after moving up")
	}
	press(m, "enter")
	full := strings.Join(m.overlayLines, "\n")
	if m.overlay != overlayJSON || !strings.Contains(full, `"i": 247`) {
		t.Errorf("JSON pop-up: %v %q", m.overlay, m.overlayLines)
	}
	// As QEMU sent it: the timestamp in seconds and microseconds.
	if !strings.Contains(full, `"seconds": `+strconv.FormatInt(epoch.Unix()+247, 10)) || !strings.Contains(full, `"microseconds": 0`) {
		t.Errorf("JSON pop-up timestamp is not QEMU's: %s", full)
	}
	press(m, "esc")
	if m.overlay != overlayNone || m.sess == nil {
		t.Error("esc closed more than the pop-up")
	}
}

func TestHelpShowsTheContextKeys(t *testing.T) {
	m := newTest(t, Config{})
	m.Update(sizeMsg(120, 40))
	m.Update(added(testGuest("a", 1, "running")))
	press(m, "e")
	press(m, "?")
	s := screen(t, m)
	for _, want := range []string{"follow", "pause view", "show JSON"} {
		if !strings.Contains(s, want) {
			t.Errorf("events help lacks %q:\n%s", want, s)
		}
	}
	press(m, "?")
	if m.overlay != overlayNone {
		t.Error("? did not close the help")
	}
}

func TestNoColorHasNoColourSequences(t *testing.T) {
	m := newTest(t, Config{})
	m.Update(sizeMsg(120, 40))
	m.Update(added(manyGuests(20)...))
	v := m.View().Content
	for _, seq := range []string{"\x1b[3", "\x1b[4", "\x1b[9", "38;", "48;"} {
		if strings.Contains(v, seq) {
			t.Errorf("NO_COLOR output contains %q", seq)
		}
	}
	c := New(Config{Now: fixedNow})
	c.Update(sizeMsg(120, 40))
	c.Update(added(manyGuests(20)...))
	if !strings.Contains(c.View().Content, "\x1b[") {
		t.Error("colour output has no styling at all")
	}
}

var _ tea.Model = (*Model)(nil)

func TestLibvirtTaintsShown(t *testing.T) {
	m := newTest(t, Config{Connect: failingConnect(qmp.ErrBusy)})
	m.Update(sizeMsg(80, 24))
	g := testGuest("managed", 9, "running")
	g.Owner, g.Domain, g.Taints = discover.OwnerLibvirt, "managed-dom", []string{"custom-monitor"}
	m.Update(added(g))
	press(m, "enter")
	s := screen(t, m)
	for _, want := range []string{"libvirt", "managed-dom", "custom-monitor"} {
		if !strings.Contains(s, want) {
			t.Errorf("libvirt guest details lack %q:\n%s", want, s)
		}
	}
}

func TestDemoOfferedOnAnEmptyHost(t *testing.T) {
	stopped := false
	m := newTest(t, Config{StartDemo: func(context.Context) (func(), error) { return func() { stopped = true }, nil }})
	m.Update(sizeMsg(80, 24))
	m.Update(changesMsg{})
	if s := screen(t, m); !strings.Contains(s, "press D to start three demo guests") {
		t.Fatalf("empty host without the demo offer:\n%s", s)
	}
	press(m, "?")
	if s := screen(t, m); !strings.Contains(s, "start demo guests") {
		t.Errorf("help on an empty host does not list D:\n%s", s)
	}
	press(m, "esc")
	cmd := press(m, "D")
	if cmd == nil {
		t.Fatal("D started nothing")
	}
	m.Update(cmd())
	if !strings.Contains(m.msg, "demo guests started") {
		t.Errorf("status %q", m.msg)
	}
	m.Close()
	if !stopped {
		t.Error("the demo guests were not stopped when the UI closed")
	}
	// With guests present D does nothing.
	m2 := newTest(t, Config{StartDemo: func(context.Context) (func(), error) { t.Error("demo started with guests present"); return nil, nil }})
	m2.Update(sizeMsg(80, 24))
	m2.Update(added(testGuest("a", 1, "running")))
	if cmd := press(m2, "D"); cmd != nil {
		cmd()
	}
	press(m2, "?")
	if s := screen(t, m2); strings.Contains(s, "demo") || !strings.Contains(s, "sort column") {
		t.Errorf("help lists D while guests are present:\n%s", s)
	}
}

func TestOwnHeldMonitorIsNotBusy(t *testing.T) {
	m := newTest(t, Config{})
	g := testGuest("held", 3, "running")
	m.Update(added(g))
	press(m, "enter")
	m.sess.state = sessOpen
	busy := g
	busy.State, busy.Reason = discover.StateBusy, "monitor held by another client"
	m.Update(changesMsg{changes: []discover.Change{{Kind: discover.Updated, Guest: busy}}})
	if got := m.list.rows[0]; got.State != discover.StateRunning || !strings.Contains(got.Reason, "qscope holds") {
		t.Errorf("own session shown as %s (%s)", got.State, got.Reason)
	}
	if m.sess.guest.State != discover.StateRunning {
		t.Errorf("session state became %s", m.sess.guest.State)
	}
	press(m, "esc")
	m.Update(changesMsg{changes: []discover.Change{{Kind: discover.Updated, Guest: busy}}})
	if m.list.rows[0].State != discover.StateBusy {
		t.Error("busy hidden after the session was released")
	}
}

func TestEmptyDiscoveryBatchDoesNotRedraw(t *testing.T) {
	m := newTest(t, Config{})
	m.Update(sizeMsg(80, 24))
	m.Update(changesMsg{})
	m.View()
	m.Update(changesMsg{})
	if m.dirty {
		t.Error("an empty batch made the frame dirty")
	}
	m.Update(changesMsg{err: errors.New("scan failed")})
	if !m.dirty || !strings.Contains(screen(t, m), "scan failed") {
		t.Error("a discovery error was not drawn")
	}
}

// stubConsole records the keys it gets.
type stubConsole struct {
	keys  []string
	value string // the input line
	modal bool   // a pop-up or prompt is open
}

func (c *stubConsole) Value() string  { return c.value }
func (c *stubConsole) WantsEsc() bool { return c.modal }

func (c *stubConsole) Update(msg tea.Msg) tea.Cmd {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		c.keys = append(c.keys, k.String())
	}
	return nil
}
func (c *stubConsole) View() string              { return "stub console" }
func (c *stubConsole) SetSize(w, h int)          {}
func (c *stubConsole) ShortHelp() []key.Binding  { return nil }
func (c *stubConsole) FullHelp() [][]key.Binding { return nil }

// The console takes printable keys and tab as input; shift+tab leaves it
// for the guest's other panes and keeps the monitor (esc would release it).
func TestShiftTabLeavesTheConsoleKeepingTheMonitor(t *testing.T) {
	made := 0
	stub := &stubConsole{}
	m := newTest(t, Config{NewConsole: func(ctx context.Context, mon qmp.Monitor, g discover.Guest) (ConsolePane, tea.Cmd) {
		made++
		return stub, nil
	}})
	m.Update(sizeMsg(80, 24))
	m.Update(added(testGuest("a", 1, "running")))
	press(m, "enter")
	m.sess.state = sessOpen
	sess := m.sess
	press(m, "c")
	if m.view != viewConsole || made != 1 {
		t.Fatalf("c: view %v, consoles made %d", m.view, made)
	}
	press(m, "e", "tab")
	if m.view != viewConsole || len(stub.keys) != 2 {
		t.Fatalf("e and tab should go to the console: view %v, console got %v", m.view, stub.keys)
	}
	press(m, "shift+tab")
	if m.view != viewDetails {
		t.Errorf("shift+tab in the console: view %v, want details", m.view)
	}
	if m.sess != sess || len(stub.keys) != 2 {
		t.Errorf("shift+tab released the monitor or reached the console: session kept %v, console keys %v", m.sess == sess, stub.keys)
	}
	if s := screen(t, m); !strings.Contains(s, "holding a's monitor") {
		t.Errorf("status line lost the held monitor:\n%s", s)
	}
	press(m, "c")
	if m.view != viewConsole || made != 1 {
		t.Errorf("back to the console: view %v, consoles made %d (want the same console)", m.view, made)
	}
}

// ? cannot start a console line: on an empty line it opens the help (the
// console's keys are otherwise only in the short help line, cut at 80
// columns); anywhere else it is text for the console.
func TestQuestionMarkInTheConsole(t *testing.T) {
	stub := &stubConsole{}
	m := newTest(t, Config{NewConsole: func(ctx context.Context, mon qmp.Monitor, g discover.Guest) (ConsolePane, tea.Cmd) {
		return stub, nil
	}})
	m.Update(sizeMsg(80, 24))
	m.Update(added(testGuest("a", 1, "running")))
	press(m, "enter")
	m.sess.state = sessOpen
	press(m, "c")
	press(m, "?")
	if m.overlay != overlayHelp || len(stub.keys) != 0 {
		t.Fatalf("? on an empty line: overlay %v, console got %v", m.overlay, stub.keys)
	}
	if s := screen(t, m); !strings.Contains(s, "shift+tab") || !strings.Contains(s, "Keys — Console") {
		t.Errorf("console help:\n%s", s)
	}
	press(m, "esc")
	if m.overlay != overlayNone || m.view != viewConsole || m.sess == nil {
		t.Fatalf("esc did not just close the help: overlay %v view %v", m.overlay, m.view)
	}
	stub.value = "query"
	press(m, "?")
	stub.value, stub.modal = "", true
	press(m, "?")
	if m.overlay != overlayNone || len(stub.keys) != 2 {
		t.Errorf("? while typing or in a prompt should go to the console: overlay %v, console got %v", m.overlay, stub.keys)
	}
}

// An action on a guest whose monitor cannot be reached is refused at once,
// saying why, instead of asking for confirmation and then failing; kill
// stays available.
func TestActionOnUnreachableGuestRefusedAtOnce(t *testing.T) {
	m := newTest(t, Config{Connect: failingConnect(qmp.ErrBusy), Kill: func(context.Context, discover.Guest) error { return nil }})
	nm := testGuest("nomon", 7, discover.StateNoMonitor)
	m.Update(added(nm))
	press(m, "p")
	if m.confirm != nil || !strings.Contains(m.msg, "no QMP monitor") {
		t.Errorf("pause on a guest without a monitor: confirm %+v, message %q", m.confirm, m.msg)
	}
	press(m, "K")
	if m.confirm == nil || m.confirm.act != actKill {
		t.Errorf("kill on a guest without a monitor: %+v, want its confirmation", m.confirm)
	}
}

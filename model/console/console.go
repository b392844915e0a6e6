package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/sahilm/fuzzy"

	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/policy"
	"github.com/qscope/qscope/qmp"
	"github.com/qscope/qscope/qmp/schema"
	"github.com/qscope/qscope/qmp/virt"
	"github.com/qscope/qscope/ui"
)

// Config is what the console needs from the outside. Its functions are
// called only from tea.Cmds.
type Config struct {
	// Context bounds every command the console starts; nil means
	// context.Background().
	Context context.Context
	// Monitor is the guest's monitor (already wrapped by the journal for
	// state-changing commands). It can also be given later with
	// SetMonitor.
	Monitor qmp.Monitor
	// Guest identifies the guest: its Name is what the user types to
	// confirm a destructive command ("yes" when it has none).
	Guest discover.Guest
	// Theme is the styles; nil builds a dark one.
	Theme *ui.Theme
	// ReadOnly refuses every command that is not read-only.
	ReadOnly bool
	// Classify says how much a command changes the guest; nil means
	// policy.Classify.
	Classify Classifier
	// Force opens a monitor that sends commands libvirt tracks (libvirt
	// guests only). Nil means forcing is not offered.
	Force func(ctx context.Context) (qmp.Monitor, error)
	// Schema loads the schema; nil means a Loader with the per-user cache.
	Schema *schema.Loader
	// HistoryPath is the history file; "" means DefaultHistoryPath(), "-"
	// keeps no history on disk.
	HistoryPath string
	// Timeout bounds each command sent (default 60s) and each schema or
	// completion fetch (a tenth of it, at least 5s).
	Timeout time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Keys are the console's keys; zero means DefaultKeyMap().
	Keys *KeyMap
}

// CloseMsg is sent by the console when the user asks to leave it (esc
// with nothing to close). The root may ignore it.
type CloseMsg struct{}

type mode int

const (
	modeInput mode = iota
	modeConfirm
	modeSearch
)

type pending struct {
	ex    Exchange
	class policy.Class
	force bool
	why   string
}

// Model is the console pane.
type Model struct {
	cfg   Config
	keys  KeyMap
	theme *ui.Theme

	mon   qmp.Monitor
	guest discover.Guest
	gen   uint64

	schema    *schema.Schema
	schemaErr error
	reloading bool // the schema is being loaded again after a failure
	loadTook  time.Duration
	live      schema.Live
	propsAsk  map[string]bool
	typesAsk  bool
	hmpCmds   []schema.HMPCommand
	hmpAsked  bool

	input   line
	vp      viewport.Model
	width   int
	height  int
	hmp     bool
	mode    mode
	confirm *pending

	comp    schema.Completion
	popup   bool
	typing  bool // the user is editing: completions arriving late open the pop-up
	sel     int
	lastVal string

	history  []HistoryEntry
	histIdx  int // len(history) when not walking it
	histSave string
	search   []HistoryEntry // matches in search mode, best first
	searchQ  line

	seq      uint64
	inflight uint64
	cancel   context.CancelFunc
	waiting  string

	exchanges []Exchange
	status    string
	statusErr bool
}

// MaxExchanges is how many exchanges the output keeps.
const MaxExchanges = 200

// New builds the console. Init starts loading the schema (when a monitor
// is set) and the history.
func New(cfg Config) Model {
	if cfg.Context == nil {
		cfg.Context = context.Background()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.Classify == nil {
		cfg.Classify = policy.Classify
	}
	if cfg.Schema == nil {
		cfg.Schema = &schema.Loader{}
	}
	if cfg.HistoryPath == "" {
		if p, err := DefaultHistoryPath(); err == nil {
			cfg.HistoryPath = p
		} else {
			cfg.HistoryPath = "-"
		}
	}
	m := Model{cfg: cfg, mon: cfg.Monitor, guest: cfg.Guest, propsAsk: map[string]bool{}}
	if cfg.Keys != nil {
		m.keys = *cfg.Keys
	} else {
		m.keys = DefaultKeyMap()
	}
	m.theme = cfg.Theme
	if m.theme == nil {
		m.theme = ui.NewTheme(true, false)
	}
	m.input.Prompt = "qmp> "
	m.input.Placeholder = "command key=value …   (! for HMP, tab completes)"
	m.searchQ.Prompt = "history search: "
	m.vp = viewport.New()
	m.vp.SoftWrap = true
	m.applyTheme()
	m.SetSize(80, 24)
	if m.mon != nil {
		m.gen = 1
	}
	return m
}

func (m *Model) fetchTimeout() time.Duration {
	t := m.cfg.Timeout / 10
	if t < 5*time.Second {
		t = 5 * time.Second
	}
	return t
}

// Init loads the history and, when a monitor is set, the schema.
func (m Model) Init() tea.Cmd {
	var cmds []tea.Cmd
	if m.cfg.HistoryPath != "-" {
		cmds = append(cmds, loadHistoryCmd(m.cfg.HistoryPath))
	}
	if m.mon != nil {
		cmds = append(cmds, loadSchemaCmd(m.cfg.Context, m.gen, m.cfg.Schema, m.mon, m.guest.PID, m.fetchTimeout(), m.cfg.Now))
	}
	return tea.Batch(cmds...)
}

// SetMonitor gives the console a (new) monitor and guest: results of the
// previous monitor are dropped from then on, and the schema is loaded
// again (from the cache when the QEMU version is known).
func (m *Model) SetMonitor(mon qmp.Monitor, g discover.Guest) tea.Cmd {
	m.gen++
	if m.cancel != nil {
		m.cancel()
		m.cancel = nil
	}
	m.mon, m.guest = mon, g
	m.inflight, m.waiting = 0, ""
	m.schema, m.schemaErr, m.reloading = nil, nil, false
	m.live = schema.Live{}
	m.propsAsk, m.typesAsk = map[string]bool{}, false
	m.hmpCmds, m.hmpAsked = nil, false
	m.confirm, m.mode = nil, modeInput
	m.setPrompt()
	if mon == nil {
		return nil
	}
	return loadSchemaCmd(m.cfg.Context, m.gen, m.cfg.Schema, mon, m.guest.PID, m.fetchTimeout(), m.cfg.Now)
}

// SetTheme changes the styles (on a background change).
func (m *Model) SetTheme(t *ui.Theme) {
	if t != nil {
		m.theme = t
		m.applyTheme()
		m.refresh()
	}
}

func (m *Model) applyTheme() {
	for _, l := range []*line{&m.input, &m.searchQ} {
		l.promptStyle = m.theme.Title
		l.placeholderStyle = m.theme.Dim
		l.textStyle = m.theme.Input
		l.cursorStyle = lipgloss.NewStyle().Reverse(true)
	}
}

// SetSize sets the pane's size.
func (m *Model) SetSize(w, h int) {
	if w < 20 {
		w = 20
	}
	if h < 6 {
		h = 6
	}
	m.width, m.height = w, h
	m.vp.SetWidth(w)
	m.vp.SetHeight(h - 3)
	m.setPrompt()
	m.searchQ.SetWidth(w - len(m.searchQ.Prompt) - 1)
	m.refresh()
}

// Schema returns the loaded schema, or nil.
func (m Model) Schema() *schema.Schema { return m.schema }

// Value returns the input line.
func (m Model) Value() string { return m.input.Value() }

// Exchanges returns the exchanges shown, oldest first.
func (m Model) Exchanges() []Exchange { return m.exchanges }

// Status returns the status line's text and whether it is an error.
func (m Model) Status() (string, bool) { return m.status, m.statusErr }

// Candidates returns the completion pop-up's candidates (none when it is
// closed) and the selected index.
func (m Model) Candidates() ([]schema.Candidate, int) {
	if !m.popup {
		return nil, 0
	}
	return m.comp.Candidates, m.sel
}

// Busy reports whether a command is waiting for its reply.
func (m Model) Busy() bool { return m.inflight != 0 }

// WantsEsc reports whether esc means something inside the console right
// now (closing the pop-up, the confirmation or search prompt, or giving
// up on a reply): the root should pass esc on instead of leaving.
func (m Model) WantsEsc() bool {
	return m.popup || m.mode != modeInput || m.inflight != 0
}

// Keys returns the console's key map (a help.KeyMap).
func (m Model) Keys() KeyMap { return m.keys }

// ShortHelp implements help.KeyMap.
func (m Model) ShortHelp() []key.Binding { return m.keys.ShortHelp() }

// FullHelp implements help.KeyMap.
func (m Model) FullHelp() [][]key.Binding { return m.keys.FullHelp() }

func (m *Model) setPrompt() {
	switch {
	case m.mode == modeConfirm:
		m.input.Prompt = "confirm> "
		m.input.Placeholder = m.confirmHint(m.width - len(m.input.Prompt) - 1)
	case m.hmp:
		m.input.Prompt = "hmp> "
		m.input.Placeholder = "HMP command (tab completes, ctrl+t for QMP)"
	default:
		m.input.Prompt = "qmp> "
		m.input.Placeholder = "command key=value …   (! for HMP, tab completes)"
	}
	m.input.SetWidth(m.width - len(m.input.Prompt) - 1)
}

// confirmHint is the confirmation prompt's placeholder, in at most room
// columns when it can be: a prompt to force a command past libvirt says
// so first, and drops the rest to fit.
func (m Model) confirmHint(room int) string {
	w := ui.Sanitize(m.confirmWord())
	hints := []string{"type " + w + " and enter, esc cancels"}
	if m.confirm != nil && m.confirm.force {
		c := ui.Sanitize(what(m.confirm.ex))
		hints = []string{
			"type " + w + " to force " + c + " past libvirt · esc cancels",
			"type " + w + " to force " + c + " past libvirt",
			"type " + w + " to force it past libvirt",
		}
	}
	for _, h := range hints {
		if lipgloss.Width(h) <= room {
			return h
		}
	}
	return hints[len(hints)-1]
}

func (m Model) confirmWord() string {
	if m.guest.Name != "" {
		return m.guest.Name
	}
	return "yes"
}

func (m *Model) setStatus(s string, isErr bool) { m.status, m.statusErr = s, isErr }

// Update handles messages.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	switch msg := msg.(type) {
	case schemaMsg:
		if msg.gen != m.gen {
			return m, nil
		}
		m.schema, m.schemaErr, m.loadTook = msg.s, msg.err, msg.took
		reloaded := m.reloading
		m.reloading = false
		if msg.err != nil {
			m.setStatus("no schema (enter tries again): "+msg.err.Error(), true)
			return m, nil
		}
		st := fmt.Sprintf("schema of QEMU %s (%s, %d commands) in %s", msg.s.Version, msg.s.Source, len(msg.s.CommandNames()), round(msg.took))
		if reloaded && strings.TrimSpace(m.input.Value()) != "" && m.mode == modeInput {
			st += "; enter sends the line"
		}
		m.setStatus(st, false)
		m.updateCompletion(false)
		return m, fetchLiveCmd(m.cfg.Context, m.gen, m.mon, m.fetchTimeout())
	case liveMsg:
		if msg.gen != m.gen {
			return m, nil
		}
		props, types := m.live.DeviceProps, m.live.DeviceTypes
		m.live = msg.live
		m.live.DeviceProps, m.live.DeviceTypes = props, types
		m.updateCompletion(false)
		return m, nil
	case typesMsg:
		if msg.gen != m.gen {
			return m, nil
		}
		if msg.err != nil {
			m.setStatus("listing device types: "+msg.err.Error(), true)
			return m, nil
		}
		m.live.DeviceTypes = msg.types
		m.updateCompletion(m.typing)
		return m, m.askProps(m.input.Value())
	case propsMsg:
		if msg.gen != m.gen || msg.err != nil {
			return m, nil
		}
		if m.live.DeviceProps == nil {
			m.live.DeviceProps = map[string][]schema.DeviceProp{}
		}
		m.live.DeviceProps[msg.driver] = msg.props
		m.updateCompletion(m.typing)
		return m, nil
	case hmpHelpMsg:
		if msg.gen != m.gen {
			return m, nil
		}
		if msg.err != nil {
			m.setStatus("reading HMP help: "+msg.err.Error(), true)
			return m, nil
		}
		m.hmpCmds = msg.cmds
		m.updateCompletion(m.typing)
		return m, nil
	case resultMsg:
		return m.result(msg)
	case historyMsg:
		// Entries sent before the file was read stay the newest.
		m.history = append(ofKind(msg.entries, historyKind(m.guest)), m.history...)
		m.histIdx = len(m.history)
		if msg.err != nil {
			m.setStatus(msg.err.Error(), true)
		}
		return m, nil
	case historySavedMsg:
		if msg.err != nil {
			m.setStatus(msg.err.Error(), true)
		}
		return m, nil
	case tea.KeyPressMsg:
		return m.key(msg)
	case tea.PasteMsg:
		if m.mode == modeSearch {
			m.searchQ.update(msg)
			m.runSearch()
			return m, nil
		}
		m.input.update(msg)
		return m, m.afterEdit()
	}
	return m, nil
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= 10*time.Microsecond:
		return d.Round(time.Microsecond)
	}
	return d
}

func (m Model) key(msg tea.KeyPressMsg) (Model, tea.Cmd) {
	k := m.keys
	switch m.mode {
	case modeConfirm:
		return m.confirmKey(msg)
	case modeSearch:
		return m.searchKey(msg)
	}
	switch {
	case key.Matches(msg, k.Cancel):
		switch {
		case m.popup:
			m.popup, m.typing = false, false
		case m.inflight != 0:
			m.abandon()
		default:
			return m, func() tea.Msg { return CloseMsg{} }
		}
		return m, nil
	case key.Matches(msg, k.Send):
		return m.submit()
	case key.Matches(msg, k.Complete):
		return m, m.complete()
	case key.Matches(msg, k.Prev):
		if m.popup && len(m.comp.Candidates) > 0 {
			m.sel = (m.sel - 1 + len(m.comp.Candidates)) % len(m.comp.Candidates)
			return m, nil
		}
		m.walkHistory(-1)
		return m, nil
	case key.Matches(msg, k.Next):
		if m.popup && len(m.comp.Candidates) > 0 {
			m.sel = (m.sel + 1) % len(m.comp.Candidates)
			return m, nil
		}
		m.walkHistory(1)
		return m, nil
	case key.Matches(msg, k.Search):
		m.mode = modeSearch
		m.popup = false
		m.searchQ.SetValue("")
		m.runSearch()
		return m, nil
	case key.Matches(msg, k.HMP):
		m.hmp = !m.hmp
		m.setPrompt()
		m.updateCompletion(false)
		return m, m.askHMPHelp()
	case key.Matches(msg, k.CopyJSON):
		return m, m.copy(false)
	case key.Matches(msg, k.CopyCLI):
		return m, m.copy(true)
	case key.Matches(msg, k.PageUp):
		m.vp.PageUp()
		return m, nil
	case key.Matches(msg, k.PageDown):
		m.vp.PageDown()
		return m, nil
	case key.Matches(msg, k.Clear):
		m.exchanges = nil
		m.refresh()
		return m, nil
	}
	m.input.update(msg)
	return m, m.afterEdit()
}

// afterEdit refreshes the completion after the line changed, and asks
// for what completion needs (HMP help, a device's properties).
func (m *Model) afterEdit() tea.Cmd {
	v := m.input.Value()
	if v == m.lastVal {
		return nil
	}
	m.lastVal = v
	m.histIdx = len(m.history)
	m.typing = strings.TrimSpace(v) != ""
	m.updateCompletion(m.typing)
	var cmds []tea.Cmd
	if m.isHMP(v) {
		cmds = append(cmds, m.askHMPHelp())
	}
	cmds = append(cmds, m.askProps(v))
	return tea.Batch(cmds...)
}

func (m *Model) isHMP(line string) bool {
	return m.hmp || strings.HasPrefix(strings.TrimLeft(line, " "), "!")
}

func (m *Model) askHMPHelp() tea.Cmd {
	if m.hmpAsked || m.mon == nil || (!m.hmp && !strings.HasPrefix(strings.TrimSpace(m.input.Value()), "!")) {
		return nil
	}
	m.hmpAsked = true
	return fetchHMPHelpCmd(m.cfg.Context, m.gen, m.mon, m.fetchTimeout())
}

// askProps fetches device-list-properties for a device_add line's driver
// once it names a known device type.
func (m *Model) askProps(line string) tea.Cmd {
	if m.mon == nil || m.isHMP(line) {
		return nil
	}
	f := strings.Fields(line)
	if len(f) < 1 || f[0] != "device_add" || (len(f) == 1 && !strings.HasSuffix(line, " ")) {
		return nil
	}
	if !m.typesAsk {
		m.typesAsk = true
		return fetchTypesCmd(m.cfg.Context, m.gen, m.mon, m.fetchTimeout())
	}
	for _, a := range f[1:] {
		drv, ok := strings.CutPrefix(a, "driver=")
		if !ok || m.propsAsk[drv] {
			continue
		}
		for _, t := range m.live.DeviceTypes {
			if t == drv {
				m.propsAsk[drv] = true
				return fetchPropsCmd(m.cfg.Context, m.gen, m.mon, m.fetchTimeout(), drv)
			}
		}
	}
	return nil
}

// updateCompletion recomputes the candidates for the line; open shows the
// pop-up.
func (m *Model) updateCompletion(open bool) {
	line := m.input.Value()
	cursor := len(string([]rune(line)[:min(m.input.Position(), len([]rune(line)))]))
	var c schema.Completion
	switch {
	case m.isHMP(line):
		off := 0
		if !m.hmp {
			off = strings.Index(line, "!") + 1
		}
		if cursor >= off {
			c = schema.CompleteHMP(line[off:], cursor-off, m.hmpCmds)
			c.Start += off
			c.End += off
		}
	case m.schema != nil:
		c = m.schema.Complete(line, cursor, &m.live)
	}
	m.comp = c
	m.sel = 0
	if open {
		m.popup = true
	}
	if len(c.Candidates) == 0 || (len(c.Candidates) == 1 && line[c.Start:c.End] == strings.TrimRight(c.Candidates[0].Insert, " ")) {
		m.popup = false
	}
}

// complete accepts the selected candidate; with the pop-up closed, it
// opens it (or accepts the only candidate).
func (m *Model) complete() tea.Cmd {
	if !m.popup {
		m.updateCompletion(true)
		if !m.popup || len(m.comp.Candidates) != 1 {
			return nil
		}
	}
	if len(m.comp.Candidates) == 0 {
		return nil
	}
	c := m.comp.Candidates[m.sel]
	line := m.input.Value()
	nl := line[:m.comp.Start] + c.Insert + line[m.comp.End:]
	// No doubled space when the rest of the line starts with one.
	if strings.HasSuffix(c.Insert, " ") && strings.HasPrefix(line[m.comp.End:], " ") {
		nl = line[:m.comp.Start] + c.Insert + line[m.comp.End+1:]
	}
	m.input.SetValue(nl)
	m.input.SetCursor(len([]rune(line[:m.comp.Start] + c.Insert)))
	m.lastVal = nl
	// Open the pop-up again only where something follows what was
	// accepted: an argument after a command or a value, a value after
	// "key=", a member after "key.". A command without arguments is done.
	next := strings.HasSuffix(c.Insert, " ") || strings.HasSuffix(c.Insert, "=") || strings.HasSuffix(c.Insert, ".")
	m.updateCompletion(next)
	if !next {
		m.popup = false
	}
	return m.askProps(nl)
}

func (m *Model) walkHistory(dir int) {
	if len(m.history) == 0 {
		return
	}
	if m.histIdx == len(m.history) {
		m.histSave = m.input.Value()
	}
	i := m.histIdx + dir
	if i < 0 || i > len(m.history) {
		return
	}
	m.histIdx = i
	line := m.histSave
	if i < len(m.history) {
		line = m.history[i].Line
		if m.history[i].HMP && !m.hmp {
			line = "!" + line
		}
	}
	m.input.SetValue(line)
	m.input.CursorEnd()
	m.lastVal = line
	m.popup, m.typing = false, false
}

// runSearch fuzzy-matches the search query against the history, newest
// first among equals.
func (m *Model) runSearch() {
	q := m.searchQ.Value()
	seen := map[string]bool{}
	var lines []string
	var entries []HistoryEntry
	for i := len(m.history) - 1; i >= 0; i-- {
		e := m.history[i]
		if seen[e.Line] {
			continue
		}
		seen[e.Line] = true
		lines = append(lines, e.Line)
		entries = append(entries, e)
	}
	m.sel = 0
	if q == "" {
		m.search = entries
		return
	}
	m.search = m.search[:0]
	for _, r := range fuzzy.Find(q, lines) {
		m.search = append(m.search, entries[r.Index])
	}
}

func (m Model) searchKey(msg tea.KeyPressMsg) (Model, tea.Cmd) {
	k := m.keys
	switch {
	case key.Matches(msg, k.Cancel):
		m.mode = modeInput
		return m, nil
	case key.Matches(msg, k.Prev), key.Matches(msg, k.Search):
		if m.sel+1 < len(m.search) {
			m.sel++
		}
		return m, nil
	case key.Matches(msg, k.Next):
		if m.sel > 0 {
			m.sel--
		}
		return m, nil
	case key.Matches(msg, k.Send), key.Matches(msg, k.Complete):
		m.mode = modeInput
		if m.sel < len(m.search) {
			e := m.search[m.sel]
			line := e.Line
			if e.HMP && !m.hmp {
				line = "!" + line
			}
			m.input.SetValue(line)
			m.input.CursorEnd()
			m.lastVal = line
		}
		m.popup = false
		return m, nil
	}
	m.searchQ.update(msg)
	m.runSearch()
	return m, nil
}

func (m Model) confirmKey(msg tea.KeyPressMsg) (Model, tea.Cmd) {
	k := m.keys
	switch {
	case key.Matches(msg, k.Cancel):
		p := m.confirm
		m.confirm, m.mode = nil, modeInput
		m.setPrompt()
		typed := m.typedLine(p.ex)
		m.input.SetValue(typed)
		m.input.CursorEnd()
		m.lastVal = typed
		m.setStatus("cancelled: nothing was sent", false)
		return m, nil
	case key.Matches(msg, k.Send):
		if strings.TrimSpace(m.input.Value()) != m.confirmWord() {
			m.setStatus(fmt.Sprintf("type %s exactly to confirm, esc to cancel", m.confirmWord()), true)
			return m, nil
		}
		p := m.confirm
		m.confirm, m.mode = nil, modeInput
		m.setPrompt()
		m.input.SetValue("")
		m.lastVal = ""
		return m, m.send(p.ex, p.force)
	}
	m.input.update(msg)
	return m, nil
}

// typedLine is the line that sent ex, as it was typed: an HMP line keeps
// its "!" unless the prompt is in HMP mode, so Enter sends it the same way
// again.
func (m *Model) typedLine(ex Exchange) string {
	s := ex.typed
	if s == "" {
		s = ex.Line
	}
	if ex.HMP && !m.hmp && !strings.HasPrefix(strings.TrimLeft(s, " "), "!") {
		s = "!" + s
	}
	return s
}

// submit checks the line and sends it, asks for confirmation, or says
// what is wrong. Nothing is sent for a line that fails the check.
func (m Model) submit() (Model, tea.Cmd) {
	line := strings.TrimSpace(m.input.Value())
	if line == "" {
		return m, nil
	}
	if m.mon == nil {
		m.setStatus("no monitor: the guest is not open", true)
		return m, nil
	}
	if m.inflight != 0 {
		m.setStatus("waiting for the reply to "+m.waiting+" (esc stops waiting)", true)
		return m, nil
	}
	// A schema that failed to load (QEMU was stopped, a timeout) is asked
	// for again. A QMP line is not sent on its own once it is in: the
	// user presses Enter again.
	var reload tea.Cmd
	if m.schema == nil && m.schemaErr != nil {
		m.schemaErr, m.reloading = nil, true
		reload = loadSchemaCmd(m.cfg.Context, m.gen, m.cfg.Schema, m.mon, m.guest.PID, m.fetchTimeout(), m.cfg.Now)
	}
	m, cmd := m.submitLine(line)
	return m, tea.Batch(cmd, reload)
}

func (m Model) submitLine(line string) (Model, tea.Cmd) {
	ex := Exchange{Line: line, typed: m.input.Value()}
	if m.isHMP(line) {
		hl := strings.TrimSpace(strings.TrimPrefix(line, "!"))
		if hl == "" {
			return m, nil
		}
		args, _ := json.Marshal(map[string]string{"command-line": hl})
		ex.HMP, ex.Line = true, hl
		ex.Request = schema.Request{Command: "human-monitor-command", Args: args}
	} else {
		if m.schema == nil {
			if m.reloading {
				m.setStatus("loading schema… (enter again once it is loaded)", false)
			} else {
				m.setStatus("the schema is still loading", true)
			}
			return m, nil
		}
		req, err := m.schema.Check(line, &m.live)
		if err != nil {
			m.setStatus(err.Error(), true)
			m.popup, m.typing = false, false
			return m, nil
		}
		ex.Request = req
	}
	class := m.cfg.Classify(ex.Request.Command, ex.Request.Args)
	if m.cfg.ReadOnly && class != policy.ReadOnly {
		m.setStatus(fmt.Sprintf("read-only mode: %s is %s; refused, nothing was sent", what(ex), class), true)
		return m, nil
	}
	m.popup, m.typing = false, false
	if class == policy.Destructive {
		m.confirm = &pending{ex: ex, class: class, why: fmt.Sprintf("%s is destructive", what(ex))}
		m.mode = modeConfirm
		m.setPrompt()
		m.input.SetValue("")
		m.lastVal = ""
		m.setStatus(fmt.Sprintf("%s is destructive: type %s to run it, esc to cancel", what(ex), m.confirmWord()), true)
		return m, nil
	}
	m.input.SetValue("")
	m.lastVal = ""
	return m, m.send(ex, false)
}

func what(ex Exchange) string {
	if ex.HMP {
		w, _, _ := strings.Cut(ex.Line, " ")
		return "HMP " + w
	}
	return ex.Request.Command
}

// send records the line in the history and runs it.
func (m *Model) send(ex Exchange, force bool) tea.Cmd {
	m.seq++
	m.inflight = m.seq
	m.waiting = what(ex)
	ctx, cancel := context.WithTimeout(m.cfg.Context, m.cfg.Timeout)
	m.cancel = cancel
	ex.Forced = force
	var run tea.Cmd
	if force {
		run = forceCmd(ctx, m.gen, m.seq, m.cfg.Force, ex, m.cfg.Now)
	} else {
		run = executeCmd(ctx, m.gen, m.seq, m.mon, ex, false, m.cfg.Now)
	}
	m.setStatus("sent "+m.waiting+"…", false)
	he := HistoryEntry{Time: m.cfg.Now(), Line: ex.Line, HMP: ex.HMP, Kind: historyKind(m.guest)}
	if m.schema != nil {
		he.QEMU = m.schema.Version
	}
	// A line that carries a secret is kept nowhere, not even for ↑.
	if n := len(m.history); !hasSecret(he) && (n == 0 || m.history[n-1].Line != he.Line || m.history[n-1].HMP != he.HMP) {
		m.history = append(m.history, he)
		if len(m.history) > MaxHistory {
			m.history = m.history[len(m.history)-MaxHistory:]
		}
		if m.cfg.HistoryPath != "-" && !force {
			run = tea.Batch(run, saveHistoryCmd(m.cfg.HistoryPath, he))
		}
	}
	m.histIdx = len(m.history)
	return run
}

// abandon stops waiting for the reply in flight; it is dropped when it
// comes.
func (m *Model) abandon() {
	if m.cancel != nil {
		m.cancel()
		m.cancel = nil
	}
	m.setStatus("stopped waiting for "+m.waiting+"; QEMU may still run it", true)
	m.inflight, m.waiting = 0, ""
}

func (m Model) result(msg resultMsg) (Model, tea.Cmd) {
	if msg.gen != m.gen || msg.seq != m.inflight {
		return m, nil
	}
	if m.cancel != nil {
		m.cancel()
		m.cancel = nil
	}
	m.inflight, m.waiting = 0, ""
	ex := msg.ex
	if errors.Is(ex.Err, virt.ErrTrackedByLibvirt) && !ex.Forced {
		var te *virt.TrackedError
		hint := ""
		if errors.As(ex.Err, &te) && te.Hint != "" {
			hint = " (libvirt's way: " + te.Hint + ")"
		}
		if m.cfg.Force != nil && !m.cfg.ReadOnly {
			m.confirm = &pending{ex: ex, force: true}
			m.mode = modeConfirm
			m.setPrompt()
			m.setStatus(fmt.Sprintf("libvirt tracks %s and refused it%s; type %s to force it past libvirt, esc to cancel", what(ex), hint, m.confirmWord()), true)
			return m, nil
		}
		m.setStatus(fmt.Sprintf("libvirt tracks %s and refused it%s", what(ex), hint), true)
	}
	m.exchanges = append(m.exchanges, ex)
	if len(m.exchanges) > MaxExchanges {
		m.exchanges = m.exchanges[len(m.exchanges)-MaxExchanges:]
	}
	failed := ex.Err != nil || ex.HMPFailed != ""
	switch {
	case !failed:
		m.setStatus(fmt.Sprintf("%s: ok in %s", what(ex), round(ex.RTT)), false)
	case !errors.Is(ex.Err, virt.ErrTrackedByLibvirt):
		m.setStatus(fmt.Sprintf("%s failed in %s", what(ex), round(ex.RTT)), true)
	}
	m.refresh()
	m.vp.GotoBottom()
	// A command that may have changed devices, nodes, chardevs or jobs
	// refreshes the values completion offers.
	if !failed && m.cfg.Classify(ex.Request.Command, ex.Request.Args) != policy.ReadOnly && m.mon != nil {
		return m, fetchLiveCmd(m.cfg.Context, m.gen, m.mon, m.fetchTimeout())
	}
	return m, nil
}

// copy puts the last exchange on the clipboard with OSC 52 (works over
// SSH in terminals that allow it): as QMP JSON (request and reply, one
// per line), or as a qscope command line.
func (m *Model) copy(cli bool) tea.Cmd {
	if len(m.exchanges) == 0 {
		m.setStatus("nothing to copy yet", true)
		return nil
	}
	ex := m.exchanges[len(m.exchanges)-1]
	var text string
	if cli {
		target := m.guest.Name
		if target == "" {
			target = fmt.Sprint(m.guest.PID)
		}
		text = CommandLine(target, ex)
		m.setStatus("copied as a command line", false)
	} else {
		text = ExchangeJSON(ex)
		m.setStatus("copied as QMP JSON", false)
	}
	return tea.SetClipboard(text)
}

// ExchangeJSON renders an exchange as the QMP messages it was: the
// request, then the reply ({"return": …} or {"error": {…}}).
func ExchangeJSON(ex Exchange) string {
	var b strings.Builder
	b.WriteString(ex.Request.JSON())
	b.WriteByte('\n')
	var qe *qmp.Error
	switch {
	case ex.Err == nil:
		b.WriteString(`{"return":`)
		if len(ex.Reply) > 0 {
			b.Write(ex.Reply)
		} else {
			b.WriteString("{}")
		}
		b.WriteString("}")
	case errors.As(ex.Err, &qe):
		e, _ := json.Marshal(map[string]any{"error": map[string]string{"class": qe.Class, "desc": qe.Desc}})
		b.Write(e)
	default:
		e, _ := json.Marshal(map[string]any{"error": map[string]string{"class": "ClientError", "desc": ex.Err.Error()}})
		b.Write(e)
	}
	return b.String()
}

// CommandLine renders an exchange as a qscope command line,
// qscope qmp TARGET COMMAND key=value … (HMP lines as
// human-monitor-command command-line=…), quoted for a POSIX shell. Values
// are written so that qscope qmp's qmp-shell reading gives back the same
// JSON: a string that would read as a number or boolean is written as a
// quoted JSON string.
func CommandLine(target string, ex Exchange) string {
	words := []string{"qscope", "qmp", target, ex.Request.Command}
	words = append(words, ex.Request.ArgWords()...)
	for i, w := range words {
		words[i] = shellQuote(w)
	}
	return strings.Join(words, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,@%+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// View renders the pane.
func (m Model) View() string {
	t := m.theme
	w := m.width
	// Header.
	title := t.Title.Render("QMP console")
	var info []string
	if m.guest.Name != "" {
		info = append(info, m.guest.Name)
	}
	switch {
	case m.schema != nil:
		info = append(info, fmt.Sprintf("QEMU %s · %d commands · schema %s", m.schema.Version, len(m.schema.CommandNames()), m.schema.Source))
	case m.schemaErr != nil:
		info = append(info, "no schema (enter tries again)")
	case m.mon != nil:
		info = append(info, "loading schema…")
	}
	badge := "[QMP]"
	if m.hmp {
		badge = "[HMP]"
	}
	if m.cfg.ReadOnly {
		badge += " [read-only]"
	}
	room := max0(w-lipgloss.Width("QMP console ")-lipgloss.Width(badge)-1, 1)
	left := title + " " + t.Dim.Render(truncate(ui.Sanitize(strings.Join(info, " · ")), room))
	gap := w - lipgloss.Width(left) - lipgloss.Width(badge)
	if gap < 1 {
		gap = 1
	}
	header := left + strings.Repeat(" ", gap) + t.Label.Render(badge)

	// Output, with the pop-up drawn over its last lines.
	out := m.vp.View()
	lines := strings.Split(out, "\n")
	for len(lines) < m.vp.Height() {
		lines = append(lines, "")
	}
	var pop []string
	switch {
	case m.mode == modeSearch:
		pop = m.searchView(len(lines))
	case m.popup:
		pop = m.popupView(len(lines) - 1)
	}
	if len(pop) > 0 {
		copy(lines[len(lines)-len(pop):], pop)
	}

	// Input and status.
	var in string
	if m.mode == modeSearch {
		in = m.searchQ.View()
	} else {
		in = m.input.View()
	}
	st := m.status
	style := t.Status
	if m.statusErr {
		style = t.StatusError
	}
	if m.inflight != 0 {
		st = "waiting for " + m.waiting + "… (esc stops waiting)"
		style = t.Loading
	}
	st = ui.Sanitize(st) // errors quote QEMU
	if st == "" {
		st = "tab completes · enter sends · ctrl+r history · ctrl+t HMP · ctrl+y copy"
		style = t.Dim
	}
	for i, l := range lines {
		if lipgloss.Width(l) > w {
			lines[i] = ansi.Truncate(l, w, "…")
		}
	}
	if lipgloss.Width(in) > w {
		in = ansi.Truncate(in, w, "…")
	}
	return strings.Join([]string{header, strings.Join(lines, "\n"), in, style.Render(truncate(st, w))}, "\n")
}

func truncate(s string, w int) string {
	if lipgloss.Width(s) <= w {
		return s
	}
	r := []rune(s)
	if w < 2 {
		return ""
	}
	for len(r) > 0 && lipgloss.Width(string(r)) > w-1 {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

// popupView renders at most max candidates around the selection.
func (m Model) popupView(max int) []string {
	t := m.theme
	cands := m.comp.Candidates
	if max > 8 {
		max = 8
	}
	if max < 1 || len(cands) == 0 {
		return nil
	}
	first := 0
	if m.sel >= max {
		first = m.sel - max + 1
	}
	last := min(first+max, len(cands))
	// Candidates come from the guest's QEMU (its schema, its HMP help):
	// a name that needs sanitising loses its highlight, whose indexes
	// are into the raw name.
	cands = append([]schema.Candidate(nil), cands[first:last]...)
	for i := range cands {
		if clean := ui.Sanitize(cands[i].Text); clean != cands[i].Text {
			cands[i].Text, cands[i].Matched = clean, nil
		}
		cands[i].Detail = ui.Sanitize(cands[i].Detail)
	}
	nameW := 0
	for _, c := range cands {
		nameW = max0(nameW, len(c.Text))
	}
	nameW = min(nameW, m.width/2)
	var out []string
	for i := first; i < last; i++ {
		c := cands[i-first]
		name := highlight(c.Text, c.Matched, t.Match)
		pad := nameW - len(c.Text)
		if pad < 0 {
			pad = 0
		}
		var flags []string
		if c.Required {
			flags = append(flags, "required")
		}
		if c.Deprecated {
			flags = append(flags, "deprecated")
		}
		if c.Unstable {
			flags = append(flags, "unstable")
		}
		detail := c.Detail
		if len(flags) > 0 {
			detail = strings.TrimSpace(detail + " " + strings.Join(flags, ","))
		}
		marker := "  "
		if i == m.sel {
			marker = "▸ "
		}
		line := marker + name + strings.Repeat(" ", pad) + "  " + t.Dim.Render(truncate(detail, max0(m.width-nameW-6, 1)))
		if i == m.sel {
			line = t.Selected.Render(marker+c.Text+strings.Repeat(" ", pad)) + "  " + t.Dim.Render(truncate(detail, max0(m.width-nameW-6, 1)))
		}
		out = append(out, line)
	}
	more := ""
	if len(m.comp.Candidates) > last-first {
		more = fmt.Sprintf("%d of %d", last-first, len(m.comp.Candidates))
	}
	out = append(out, t.Dim.Render(fmt.Sprintf("── %s  tab accepts · ↑↓ choose · esc closes", more)))
	return out
}

func max0(a, b int) int {
	if a > b {
		return a
	}
	return b
}

func highlight(s string, idx []int, st lipgloss.Style) string {
	if len(idx) == 0 {
		return s
	}
	hit := make(map[int]bool, len(idx))
	for _, i := range idx {
		hit[i] = true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if hit[i] {
			b.WriteString(st.Render(s[i : i+1]))
		} else {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func (m Model) searchView(height int) []string {
	t := m.theme
	max := min(8, height-1)
	var out []string
	for i := 0; i < len(m.search) && i < max; i++ {
		e := m.search[i]
		line := e.Line
		if e.HMP {
			line = "!" + line
		}
		line = truncate(ui.Sanitize(line), m.width-2)
		if i == m.sel {
			out = append(out, t.Selected.Render("▸ "+line))
		} else {
			out = append(out, "  "+line)
		}
	}
	// Newest at the bottom, next to the input.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	n := fmt.Sprintf("%d matches", len(m.search))
	if len(m.search) == 1 {
		n = "1 match"
	}
	return append(out, t.Dim.Render("── "+n+"  enter takes · ↑ older · esc cancels"))
}

// refresh renders the exchanges into the viewport.
func (m *Model) refresh() {
	t := m.theme
	js := jsonStyles{Key: t.Section, String: t.OK, Number: t.Warn, Literal: t.Warn, Punct: t.Dim}
	var b strings.Builder
	for i, ex := range m.exchanges {
		if i > 0 {
			b.WriteByte('\n')
		}
		arrow := "→ "
		if ex.Forced {
			arrow = "→ (forced past libvirt) "
		}
		if ex.HMP {
			b.WriteString(t.Label.Render(arrow+"hmp: ") + t.Header.Render(ui.Sanitize(ex.Line)))
		} else {
			b.WriteString(t.Label.Render(arrow) + t.Header.Render(ui.Sanitize(ex.Request.Line())))
		}
		b.WriteString("  " + t.Time.Render(ex.At.Format("15:04:05")+" · "+round(ex.RTT).String()))
		b.WriteByte('\n')
		var qe *qmp.Error
		switch {
		case ex.Err == nil && ex.HMP:
			if ex.HMPFailed != "" {
				// Failed as a QMP error is shown, then what HMP printed.
				b.WriteString(t.Error.Render("error HMP: " + ui.Sanitize(ex.HMPFailed)))
				b.WriteByte('\n')
			}
			b.WriteString(ui.SanitizeLines(strings.TrimRight(ex.HMPOutput, "\r\n")))
			if strings.TrimSpace(ex.HMPOutput) == "" {
				b.WriteString(t.Dim.Render("(no output)"))
			}
		case ex.Err == nil:
			b.WriteString(prettyJSON(ex.Reply, js))
		case errors.As(ex.Err, &qe):
			b.WriteString(t.Error.Render(ui.Sanitize("error " + qe.Class + ": " + qe.Desc)))
		default:
			b.WriteString(t.Error.Render(ui.Sanitize("error: " + ex.Err.Error())))
		}
		b.WriteByte('\n')
	}
	atBottom := m.vp.AtBottom()
	m.vp.SetContent(b.String())
	if atBottom {
		m.vp.GotoBottom()
	}
}

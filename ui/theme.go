package ui

import (
	"image/color"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"
	"github.com/qscope/qscope/discover"
)

// Theme is every style the views use, built once from the terminal's
// background and the NO_COLOR setting and rebuilt when either changes.
// Colours are written in truecolor or the ANSI palette; Bubble Tea
// downsamples them to what the terminal supports (16, 256 or truecolor).
// State is never shown by colour alone: every state also has its text.
type Theme struct {
	Dark    bool
	NoColor bool

	App          lipgloss.Style
	Title        lipgloss.Style
	TabActive    lipgloss.Style
	TabInactive  lipgloss.Style
	Header       lipgloss.Style
	Selected     lipgloss.Style // the selected row in a focused pane
	SelectedBlur lipgloss.Style // the selected row in a pane without focus
	Dim          lipgloss.Style
	Border       lipgloss.Style
	BorderFocus  lipgloss.Style
	Status       lipgloss.Style
	StatusError  lipgloss.Style
	StatusHold   lipgloss.Style
	Section      lipgloss.Style
	Label        lipgloss.Style
	Error        lipgloss.Style
	Warn         lipgloss.Style
	OK           lipgloss.Style
	Loading      lipgloss.Style
	Modal        lipgloss.Style
	ModalTitle   lipgloss.Style
	Input        lipgloss.Style
	Match        lipgloss.Style
	Time         lipgloss.Style

	states map[discover.State]lipgloss.Style
	kinds  map[EventKind]lipgloss.Style
	Help   help.Styles

	// Paints of the styles used once per row.
	pStates                      map[discover.State]Paint
	pKinds                       map[EventKind]Paint
	pSelected, pSelectedBlur     Paint
	pTime, pDim, pLabel, pHeader Paint
}

// NoColorSet reports whether the NO_COLOR convention asks for no colour:
// any non-empty value does (https://no-color.org).
func NoColorSet(getenv func(string) string) bool {
	return getenv("NO_COLOR") != ""
}

// NewTheme builds the styles for a dark or light background; with
// noColor it uses no colour at all, only bold, faint and reverse video.
func NewTheme(dark, noColor bool) *Theme {
	t := &Theme{Dark: dark, NoColor: noColor}
	ld := lipgloss.LightDark(dark)
	col := func(light, darkc string) color.Color {
		if noColor {
			return nil
		}
		return ld(lipgloss.Color(light), lipgloss.Color(darkc))
	}
	fg := func(s lipgloss.Style, c color.Color) lipgloss.Style {
		if c == nil {
			return s
		}
		return s.Foreground(c)
	}
	bg := func(s lipgloss.Style, c color.Color) lipgloss.Style {
		if c == nil {
			return s
		}
		return s.Background(c)
	}
	accent := col("#5a3fd0", "#a78bfa")
	subtle := col("#8a8a8a", "#6c6c6c")
	red := col("1", "9")
	green := col("2", "10")
	yellow := col("3", "11")
	blue := col("4", "12")
	magenta := col("5", "13")
	cyan := col("6", "14")

	s := lipgloss.NewStyle
	t.App = s()
	t.Title = fg(s().Bold(true), accent)
	t.TabActive = fg(s().Bold(true), accent)
	t.TabInactive = fg(s(), subtle)
	t.Header = s().Bold(true)
	if noColor {
		t.Selected = s().Reverse(true)
		t.SelectedBlur = s().Underline(true)
	} else {
		t.Selected = bg(s().Bold(true), col("#d6ccff", "#3d2f7a"))
		t.SelectedBlur = bg(s(), col("#e8e8e8", "#303030"))
	}
	t.Dim = fg(s().Faint(noColor), subtle)
	t.Border = fg(s(), subtle)
	t.BorderFocus = fg(s(), accent)
	t.Status = fg(s(), subtle)
	t.StatusError = fg(s().Bold(true), red)
	t.StatusHold = fg(s().Bold(true), yellow)
	t.Section = fg(s().Bold(true), accent)
	t.Label = fg(s(), subtle)
	t.Error = fg(s(), red)
	t.Warn = fg(s(), yellow)
	t.OK = fg(s(), green)
	t.Loading = fg(s().Italic(true), subtle)
	t.Modal = s().Border(lipgloss.RoundedBorder()).Padding(0, 1)
	if c := col("#5a3fd0", "#a78bfa"); c != nil {
		t.Modal = t.Modal.BorderForeground(c)
	}
	t.ModalTitle = fg(s().Bold(true), accent)
	t.Input = s()
	t.Match = fg(s().Underline(true), accent)
	t.Time = fg(s(), subtle)

	t.states = map[discover.State]lipgloss.Style{
		discover.StateRunning:      fg(s(), green),
		discover.StatePaused:       fg(s(), yellow),
		discover.StateBusy:         fg(s(), magenta),
		discover.StateUnresponsive: fg(s().Bold(true), red),
		discover.StateStopped:      fg(s().Bold(true), red),
		discover.StateNoMonitor:    fg(s(), subtle),
		discover.StateShutOff:      fg(s(), subtle),
		discover.StateUnknown:      fg(s(), subtle),
	}
	t.kinds = map[EventKind]lipgloss.Style{
		KindLifecycle: fg(s(), yellow),
		KindError:     fg(s().Bold(true), red),
		KindJob:       fg(s(), cyan),
		KindDevice:    fg(s(), blue),
		KindMigration: fg(s(), magenta),
		KindOther:     s(),
	}
	t.pStates = map[discover.State]Paint{}
	for k, v := range t.states {
		t.pStates[k] = PaintOf(v)
	}
	t.pKinds = map[EventKind]Paint{}
	for k, v := range t.kinds {
		t.pKinds[k] = PaintOf(v)
	}
	t.pSelected, t.pSelectedBlur = PaintOf(t.Selected), PaintOf(t.SelectedBlur)
	t.pTime, t.pDim, t.pLabel, t.pHeader = PaintOf(t.Time), PaintOf(t.Dim), PaintOf(t.Label), PaintOf(t.Header)
	t.Help = help.Styles{
		Ellipsis:       t.Dim,
		ShortKey:       fg(s().Bold(true), accent),
		ShortDesc:      t.Dim,
		ShortSeparator: t.Dim,
		FullKey:        fg(s().Bold(true), accent),
		FullDesc:       s(),
		FullSeparator:  t.Dim,
	}
	return t
}

// State is the style of a guest state.
func (t *Theme) State(st discover.State) lipgloss.Style {
	if s, ok := t.states[st]; ok {
		return s
	}
	return t.states[discover.StateUnknown]
}

// EventKind groups QMP events for colouring.
type EventKind int

const (
	KindOther EventKind = iota
	KindLifecycle
	KindError
	KindJob
	KindDevice
	KindMigration
)

// KindOf classifies a QMP event name.
func KindOf(name string) EventKind {
	switch name {
	case "STOP", "RESUME", "RESET", "SHUTDOWN", "POWERDOWN", "SUSPEND", "WAKEUP", "SUSPEND_DISK":
		return KindLifecycle
	case "GUEST_PANICKED", "BLOCK_IO_ERROR", "GUEST_CRASHLOADED", "MEMORY_FAILURE", "BLOCK_IMAGE_CORRUPTED":
		return KindError
	}
	switch {
	case strings.HasPrefix(name, "JOB_"), strings.HasPrefix(name, "BLOCK_JOB_"):
		return KindJob
	case strings.HasPrefix(name, "DEVICE_"), strings.HasPrefix(name, "NIC_"), strings.HasPrefix(name, "VSERPORT_"), strings.HasPrefix(name, "ACPI_"):
		return KindDevice
	case strings.HasPrefix(name, "MIGRATION"):
		return KindMigration
	}
	return KindOther
}

// Kind is the style of an event of kind k.
func (t *Theme) Kind(k EventKind) lipgloss.Style { return t.kinds[k] }

func (t *Theme) statePaint(st discover.State) Paint {
	if p, ok := t.pStates[st]; ok {
		return p
	}
	return t.pStates[discover.StateUnknown]
}

// Paint is a style reduced to the escape sequences around its text, for
// the hot paths (a row per guest, a line per event): wrapping a string in
// two precomputed sequences costs a concatenation, where Style.Render
// parses and measures the string. Only for styles without width,
// padding, margins or borders.
type Paint struct{ pre, post string }

// PaintOf reduces st to a Paint.
func PaintOf(st lipgloss.Style) Paint {
	out := st.Render("X")
	i := strings.IndexByte(out, 'X')
	if i < 0 {
		return Paint{}
	}
	return Paint{pre: out[:i], post: out[i+1:]}
}

// Render wraps s in the paint's sequences.
func (p Paint) Render(s string) string {
	if p.pre == "" && p.post == "" {
		return s
	}
	return p.pre + s + p.post
}

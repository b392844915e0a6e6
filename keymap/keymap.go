package keymap

import "charm.land/bubbles/v2/key"

// Forbidden are keys qscope never binds by default: the prefixes of tmux
// (ctrl+b) and GNU screen (ctrl+a), and ctrl+d, which shells and SSH
// sessions read as end of input.
var Forbidden = []string{"ctrl+a", "ctrl+b", "ctrl+d"}

// Global keys work in every context, including while typing (only
// ForceQuit does there).
type Global struct {
	ForceQuit key.Binding // ctrl+c: always quits
	Quit      key.Binding // q: quits when not typing
	Help      key.Binding // ?: full help
}

// Nav moves a cursor or scrolls a pane.
type Nav struct {
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
}

// Actions change a guest; each is confirmed in a modal, and --readonly
// disables them all.
type Actions struct {
	Pause     key.Binding // p: pause or resume (stop / cont)
	Reset     key.Binding // R: system_reset
	Powerdown key.Binding // P: system_powerdown (ACPI)
	QuitGuest key.Binding // Q: QMP quit (QEMU exits)
	Kill      key.Binding // K: SIGKILL of a plain QEMU process
}

// Views switch between a guest's panes.
type Views struct {
	Details key.Binding // d
	Events  key.Binding // e
	Console key.Binding // c or :
	Next    key.Binding // tab: next pane
	Back    key.Binding // esc: back to the list, releasing the monitor
}

// List is the guest list's keys.
type List struct {
	Global
	Nav
	Actions
	Open    key.Binding // enter
	Details key.Binding
	Events  key.Binding
	Console key.Binding
	Filter  key.Binding // /
	Sort    key.Binding // s: next sort column
	Reverse key.Binding // S: reverse the order
	Clear   key.Binding // esc: clear the filter
	Demo    key.Binding // D: start the demo guests (only when the list is empty)
}

// Details is the details pane's keys.
type Details struct {
	Global
	Nav
	Actions
	Views
	Refresh key.Binding // r
}

// Events is the events pane's keys.
type Events struct {
	Global
	Nav
	Actions
	Views
	Follow key.Binding // f: follow the newest event
	Pause  key.Binding // space: freeze the view (events keep arriving)
	Show   key.Binding // enter or x: the full JSON of the event
	Filter key.Binding // /: filter by event name
	Clear  key.Binding // C: forget the buffered events
}

// Input is the keys while typing in a one-line input (the list filter,
// the events filter).
type Input struct {
	ForceQuit key.Binding
	Accept    key.Binding // enter
	Cancel    key.Binding // esc
}

// Confirm is the keys of the confirmation modal.
type Confirm struct {
	ForceQuit key.Binding
	Accept    key.Binding // enter (or y when no name is asked)
	Cancel    key.Binding // esc
}

// Overlay is the keys of a read-only pop-up (help, an event's JSON).
type Overlay struct {
	Global
	Nav
	Close key.Binding // esc, enter, x
}

// Console is the keys the root keeps while the console pane has the
// focus; everything else goes to the console.
type Console struct {
	ForceQuit key.Binding
	Back      key.Binding // esc
	Next      key.Binding // shift+tab: the guest's next pane, keeping the monitor
	Help      key.Binding // ?: full help, on an empty line (no command starts with ?)
}

// KeyMap holds every context's bindings.
type KeyMap struct {
	List    List
	Details Details
	Events  Events
	Input   Input
	Confirm Confirm
	Overlay Overlay
	Console Console
}

func b(help string, desc string, keys ...string) key.Binding {
	return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
}

// New returns the default key map. With readOnly the actions are
// disabled: they are neither shown in help nor matched.
func New(readOnly bool) KeyMap {
	g := Global{
		ForceQuit: b("ctrl+c", "quit", "ctrl+c"),
		Quit:      b("q", "quit", "q"),
		Help:      b("?", "help", "?"),
	}
	nav := Nav{
		Up:       b("↑/k", "up", "up", "k"),
		Down:     b("↓/j", "down", "down", "j"),
		PageUp:   b("pgup", "page up", "pgup", "ctrl+u"),
		PageDown: b("pgdn", "page down", "pgdown", "ctrl+f"),
		Top:      b("g/home", "top", "home", "g"),
		Bottom:   b("G/end", "bottom", "end", "G"),
	}
	act := Actions{
		Pause:     b("p", "pause/resume", "p"),
		Reset:     b("R", "reset", "R"),
		Powerdown: b("P", "power down", "P"),
		QuitGuest: b("Q", "quit QEMU", "Q"),
		Kill:      b("K", "kill", "K"),
	}
	if readOnly {
		for _, k := range []*key.Binding{&act.Pause, &act.Reset, &act.Powerdown, &act.QuitGuest, &act.Kill} {
			k.SetEnabled(false)
		}
	}
	views := Views{
		Details: b("d", "details", "d"),
		Events:  b("e", "events", "e"),
		Console: b("c/:", "console", "c", ":"),
		Next:    b("tab", "next pane", "tab"),
		Back:    b("esc", "back (releases the monitor)", "esc"),
	}
	return KeyMap{
		List: List{
			Global: g, Nav: nav, Actions: act,
			Open:    b("enter", "open", "enter"),
			Details: views.Details,
			Events:  views.Events,
			Console: views.Console,
			Filter:  b("/", "filter", "/"),
			Sort:    b("s", "sort column", "s"),
			Reverse: b("S", "reverse sort", "S"),
			Clear:   b("esc", "clear filter", "esc"),
			Demo:    b("D", "start demo guests", "D"),
		},
		Details: Details{
			Global: g, Nav: nav, Actions: act, Views: views,
			Refresh: b("r", "refresh", "r"),
		},
		Events: Events{
			Global: g, Nav: nav, Actions: act, Views: views,
			Follow: b("f", "follow", "f"),
			Pause:  b("space", "pause view", "space"),
			Show:   b("enter/x", "show JSON", "enter", "x"),
			Filter: b("/", "filter names", "/"),
			Clear:  b("C", "clear", "C"),
		},
		Input: Input{
			ForceQuit: g.ForceQuit,
			Accept:    b("enter", "apply", "enter"),
			Cancel:    b("esc", "cancel", "esc"),
		},
		Confirm: Confirm{
			ForceQuit: g.ForceQuit,
			Accept:    b("enter", "confirm", "enter"),
			Cancel:    b("esc", "cancel", "esc"),
		},
		Overlay: Overlay{
			Global: g, Nav: nav,
			Close: b("esc", "close", "esc", "enter", "x"),
		},
		Console: Console{
			ForceQuit: g.ForceQuit,
			Back:      b("esc", "back", "esc"),
			Next:      b("shift+tab", "next pane", "shift+tab"),
			Help:      b("?", "help (empty line)", "?"),
		},
	}
}

func (a Actions) list() []key.Binding {
	return []key.Binding{a.Pause, a.Reset, a.Powerdown, a.QuitGuest, a.Kill}
}

func (n Nav) list() []key.Binding {
	return []key.Binding{n.Up, n.Down, n.PageUp, n.PageDown, n.Top, n.Bottom}
}

// ShortHelp implements help.KeyMap.
func (k List) ShortHelp() []key.Binding {
	return []key.Binding{k.Open, k.Filter, k.Sort, k.Events, k.Console, k.Help, k.Quit}
}

// FullHelp implements help.KeyMap.
func (k List) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		k.Nav.list(),
		{k.Open, k.Details, k.Events, k.Console, k.Filter, k.Clear},
		{k.Sort, k.Reverse, k.Demo, k.Help, k.Quit, k.ForceQuit},
		k.Actions.list(),
	}
}

// ShortHelp implements help.KeyMap.
func (k Details) ShortHelp() []key.Binding {
	return []key.Binding{k.Back, k.Refresh, k.Views.Events, k.Console, k.Pause, k.Help}
}

// FullHelp implements help.KeyMap.
func (k Details) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		k.Nav.list(),
		{k.Refresh, k.Views.Events, k.Views.Console, k.Next, k.Back},
		k.Actions.list(),
		{k.Help, k.Quit, k.ForceQuit},
	}
}

// ShortHelp implements help.KeyMap.
func (k Events) ShortHelp() []key.Binding {
	return []key.Binding{k.Back, k.Follow, k.Pause, k.Show, k.Filter, k.Help}
}

// FullHelp implements help.KeyMap.
func (k Events) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		k.Nav.list(),
		{k.Follow, k.Pause, k.Show, k.Filter, k.Clear},
		{k.Views.Details, k.Views.Console, k.Next, k.Back},
		k.Actions.list(),
		{k.Help, k.Quit, k.ForceQuit},
	}
}

// ShortHelp implements help.KeyMap.
func (k Input) ShortHelp() []key.Binding { return []key.Binding{k.Accept, k.Cancel} }

// FullHelp implements help.KeyMap.
func (k Input) FullHelp() [][]key.Binding { return [][]key.Binding{{k.Accept, k.Cancel, k.ForceQuit}} }

// ShortHelp implements help.KeyMap.
func (k Confirm) ShortHelp() []key.Binding { return []key.Binding{k.Accept, k.Cancel} }

// FullHelp implements help.KeyMap.
func (k Confirm) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Accept, k.Cancel, k.ForceQuit}}
}

// ShortHelp implements help.KeyMap.
func (k Overlay) ShortHelp() []key.Binding { return []key.Binding{k.Up, k.Down, k.Close} }

// FullHelp implements help.KeyMap.
func (k Overlay) FullHelp() [][]key.Binding {
	return [][]key.Binding{k.Nav.list(), {k.Close, k.Quit, k.ForceQuit}}
}

// ShortHelp implements help.KeyMap.
func (k Console) ShortHelp() []key.Binding { return []key.Binding{k.Back, k.Next} }

// FullHelp implements help.KeyMap.
func (k Console) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Back, k.Next, k.Help, k.ForceQuit}}
}

// Contexts returns every context's bindings by name, for checks and
// generated documentation. A context is what is matched at one time.
func (k KeyMap) Contexts() map[string][]key.Binding {
	flat := func(groups [][]key.Binding) []key.Binding {
		var out []key.Binding
		for _, g := range groups {
			out = append(out, g...)
		}
		return out
	}
	return map[string][]key.Binding{
		"list":    flat(k.List.FullHelp()),
		"details": flat(k.Details.FullHelp()),
		"events":  flat(k.Events.FullHelp()),
		"input":   flat(k.Input.FullHelp()),
		"confirm": flat(k.Confirm.FullHelp()),
		"overlay": flat(k.Overlay.FullHelp()),
		"console": flat(k.Console.FullHelp()),
	}
}

package console

import "charm.land/bubbles/v2/key"

// KeyMap is the console's keys. It implements help.KeyMap.
type KeyMap struct {
	Send     key.Binding // enter
	Complete key.Binding // tab: accept the selected completion
	Prev     key.Binding // up: previous candidate, or older history
	Next     key.Binding // down: next candidate, or newer history
	Search   key.Binding // ctrl+r: fuzzy search of the history
	HMP      key.Binding // ctrl+t: QMP / HMP mode
	CopyJSON key.Binding // ctrl+y: copy the last exchange as QMP JSON
	CopyCLI  key.Binding // alt+y: copy it as a qscope command line
	PageUp   key.Binding // pgup
	PageDown key.Binding // pgdown
	Clear    key.Binding // ctrl+l: clear the output
	Cancel   key.Binding // esc: close the pop-up, the prompt, or stop waiting
}

// DefaultKeyMap returns the console's default keys. None of them is a
// terminal multiplexer's prefix (ctrl+a, ctrl+b) or ctrl+d.
func DefaultKeyMap() KeyMap {
	b := func(h, d string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(h, d))
	}
	return KeyMap{
		Send:     b("enter", "send", "enter"),
		Complete: b("tab", "complete", "tab"),
		Prev:     b("↑", "prev/history", "up"),
		Next:     b("↓", "next/history", "down"),
		Search:   b("ctrl+r", "search history", "ctrl+r"),
		HMP:      b("ctrl+t", "QMP/HMP", "ctrl+t"),
		CopyJSON: b("ctrl+y", "copy JSON", "ctrl+y"),
		CopyCLI:  b("alt+y", "copy command", "alt+y"),
		PageUp:   b("pgup", "scroll up", "pgup"),
		PageDown: b("pgdn", "scroll down", "pgdown"),
		Clear:    b("ctrl+l", "clear", "ctrl+l"),
		Cancel:   b("esc", "close/cancel", "esc"),
	}
}

// ShortHelp implements help.KeyMap.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Send, k.Complete, k.Search, k.HMP, k.CopyJSON}
}

// FullHelp implements help.KeyMap.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Send, k.Complete, k.Prev, k.Next},
		{k.Search, k.HMP, k.Clear, k.Cancel},
		{k.CopyJSON, k.CopyCLI, k.PageUp, k.PageDown},
	}
}

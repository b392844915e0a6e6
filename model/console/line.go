package console

import (
	"strings"
	"unicode"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/qscope/qscope/ui"
)

// line is a one-line editor: the text, a cursor (in runes), a prompt and
// a placeholder. Keys: printable text inserts; left/right, home/end (and
// ctrl+e), alt+left/alt+right by word; backspace, delete, ctrl+w (word
// back), ctrl+u (to the start), ctrl+k (to the end).
type line struct {
	val         []rune
	pos         int
	Prompt      string
	Placeholder string
	width       int

	promptStyle, textStyle, placeholderStyle, cursorStyle lipgloss.Style
}

func (l *line) Value() string     { return string(l.val) }
func (l *line) Position() int     { return l.pos }
func (l *line) SetWidth(w int)    { l.width = w }
func (l *line) CursorEnd()        { l.pos = len(l.val) }
func (l *line) SetCursor(p int)   { l.pos = max(0, min(p, len(l.val))) }
func (l *line) SetValue(s string) { l.val = []rune(sanitize(s)); l.pos = len(l.val) }

// sanitize drops control characters (a paste can carry newlines and
// escapes; a completion comes from the guest's QEMU) and bidi controls;
// tabs become spaces.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t', r == '\n', r == '\r':
			return ' '
		case unicode.IsControl(r), ui.Unsafe(r):
			return -1
		}
		return r
	}, s)
}

func (l *line) insert(s string) {
	r := []rune(sanitize(s))
	l.val = append(l.val[:l.pos], append(r, l.val[l.pos:]...)...)
	l.pos += len(r)
}

func (l *line) wordLeft() int {
	p := l.pos
	for p > 0 && l.val[p-1] == ' ' {
		p--
	}
	for p > 0 && l.val[p-1] != ' ' {
		p--
	}
	return p
}

func (l *line) wordRight() int {
	p := l.pos
	for p < len(l.val) && l.val[p] == ' ' {
		p++
	}
	for p < len(l.val) && l.val[p] != ' ' {
		p++
	}
	return p
}

// update edits the line; it reports whether it used the message.
func (l *line) update(msg tea.Msg) bool {
	switch msg := msg.(type) {
	case tea.PasteMsg:
		l.insert(msg.Content)
		return true
	case tea.KeyPressMsg:
		switch msg.String() {
		case "left":
			l.pos = max(0, l.pos-1)
		case "right", "ctrl+f":
			l.pos = min(len(l.val), l.pos+1)
		case "home":
			l.pos = 0
		case "end", "ctrl+e":
			l.pos = len(l.val)
		case "alt+left", "alt+b", "ctrl+left":
			l.pos = l.wordLeft()
		case "alt+right", "alt+f", "ctrl+right":
			l.pos = l.wordRight()
		case "backspace", "ctrl+h":
			if l.pos > 0 {
				l.val = append(l.val[:l.pos-1], l.val[l.pos:]...)
				l.pos--
			}
		case "delete":
			if l.pos < len(l.val) {
				l.val = append(l.val[:l.pos], l.val[l.pos+1:]...)
			}
		case "ctrl+w", "alt+backspace":
			p := l.wordLeft()
			l.val = append(l.val[:p], l.val[l.pos:]...)
			l.pos = p
		case "ctrl+u":
			l.val = l.val[l.pos:]
			l.pos = 0
		case "ctrl+k":
			l.val = l.val[:l.pos]
		default:
			if msg.Text != "" && msg.Mod&(tea.ModCtrl|tea.ModAlt) == 0 {
				l.insert(msg.Text)
				return true
			}
			return false
		}
		return true
	}
	return false
}

// View renders the prompt and the text with the cursor in reverse video,
// scrolled so the cursor stays visible.
func (l *line) View() string {
	avail := l.width
	if avail < 4 {
		avail = 4
	}
	p := l.promptStyle.Render(l.Prompt)
	if len(l.val) == 0 {
		ph := []rune(l.Placeholder)
		if len(ph) > avail {
			ph = ph[:avail]
		}
		if len(ph) == 0 {
			return p + l.cursorStyle.Render(" ")
		}
		return p + l.cursorStyle.Render(string(ph[:1])) + l.placeholderStyle.Render(string(ph[1:]))
	}
	start := 0
	if l.pos >= avail {
		start = l.pos - avail + 1
	}
	end := min(len(l.val), start+avail)
	var b strings.Builder
	b.WriteString(p)
	b.WriteString(l.textStyle.Render(string(l.val[start:min(l.pos, end)])))
	if l.pos < len(l.val) {
		b.WriteString(l.cursorStyle.Render(string(l.val[l.pos])))
		if l.pos+1 < end {
			b.WriteString(l.textStyle.Render(string(l.val[l.pos+1 : end])))
		}
	} else {
		b.WriteString(l.cursorStyle.Render(" "))
	}
	return b.String()
}

package ui

import (
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"github.com/charmbracelet/x/ansi"
)

// Tabs renders a one-line tab bar; the active tab is bold and bracketed,
// so it reads without colour.
func Tabs(t *Theme, title string, tabs []string, active int, right string, w int) string {
	var b strings.Builder
	b.WriteString(t.Title.Render(title))
	for i, name := range tabs {
		b.WriteString("  ")
		if i == active {
			b.WriteString(t.TabActive.Render("[" + name + "]"))
		} else {
			b.WriteString(t.TabInactive.Render(" " + name + " "))
		}
	}
	left := b.String()
	if right != "" {
		gap := w - ansi.StringWidth(left) - ansi.StringWidth(right)
		if gap >= 2 {
			return left + strings.Repeat(" ", gap) + t.Dim.Render(right)
		}
	}
	return Fit(left, w)
}

// StatusBar renders the status line: a message in its tone.
// msg may quote a guest (its name, its errors): it is sanitised.
func StatusBar(t *Theme, msg string, tn Tone, w int) string {
	msg = Sanitize(msg)
	switch tn {
	case ToneError:
		return Fit(t.StatusError.Render(msg), w)
	case ToneWarn:
		return Fit(t.StatusHold.Render(msg), w)
	}
	return Fit(t.Status.Render(msg), w)
}

// HelpLine renders a key map's short help on one line.
func HelpLine(t *Theme, km help.KeyMap, w int) string {
	h := help.New()
	h.Styles = t.Help
	h.SetWidth(w)
	return Fit(h.ShortHelpView(km.ShortHelp()), w)
}

// FullHelp renders a key map's full help for the help pop-up: its groups
// side by side as far as they fit in w, then on further rows, so that no
// key is cut off on a narrow screen.
func FullHelp(t *Theme, km help.KeyMap, w int) string {
	h := help.New()
	h.Styles = t.Help
	var rows []string
	var cur [][]key.Binding
	for _, g := range km.FullHelp() {
		if len(cur) > 0 && ansi.StringWidth(widestLine(h.FullHelpView(append(cur, g)))) > w {
			rows = append(rows, h.FullHelpView(cur))
			cur = nil
		}
		cur = append(cur, g)
	}
	if len(cur) > 0 {
		rows = append(rows, h.FullHelpView(cur))
	}
	var out []string
	for _, r := range rows {
		if strings.TrimSpace(r) != "" {
			out = append(out, r)
		}
	}
	return strings.Join(out, "\n\n")
}

// widestLine returns the widest line of s.
func widestLine(s string) string {
	widest := ""
	for _, l := range strings.Split(s, "\n") {
		if ansi.StringWidth(l) > ansi.StringWidth(widest) {
			widest = l
		}
	}
	return widest
}

// Overlay draws box centred over base (both rendered strings, base w×h)
// and returns the composed screen.
func Overlay(base, box string, w, h int) string {
	bl := strings.Split(box, "\n")
	bw := 0
	for _, l := range bl {
		bw = max(bw, ansi.StringWidth(l))
	}
	bw = min(bw, w) // a box wider than the screen is clipped
	x := max(0, (w-bw)/2)
	y := max(0, (h-len(bl))/2)
	lines := strings.Split(base, "\n")
	for i, l := range bl {
		row := y + i
		if row >= len(lines) {
			break
		}
		under := lines[row]
		lines[row] = Fit(ansi.Truncate(under, x, ""), x) + Fit(l, bw) + ansi.TruncateLeft(under, x+bw, "")
	}
	return strings.Join(lines, "\n")
}

// Modal renders a bordered pop-up with a title and body lines, at most
// w cells wide and h lines high. The title, which may name a guest, is
// sanitised; the body lines may be styled, so their untrusted parts must
// be sanitised by the caller.
func Modal(t *Theme, title string, body []string, w, h int) string {
	title = Sanitize(title)
	inner := w - 4
	if inner < 10 {
		inner = 10
	}
	wide := 0
	for _, l := range body {
		wide = max(wide, ansi.StringWidth(l))
	}
	wide = max(wide, ansi.StringWidth(title))
	inner = min(inner, wide)
	maxLines := max(1, h-4)
	lines := []string{t.ModalTitle.Render(Fit(title, inner))}
	for i, l := range body {
		if i+1 >= maxLines {
			break
		}
		lines = append(lines, Fit(l, inner))
	}
	return t.Modal.Render(strings.Join(lines, "\n"))
}

// Input renders a one-line input: prompt, value and a block cursor.
func Input(t *Theme, prompt, value string) string {
	return t.Label.Render(prompt) + t.Input.Render(value) + "█"
}

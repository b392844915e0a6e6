package ui

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Placeholder stands in for what Sanitize takes out of untrusted text:
// each control character, each whole escape sequence, each bidi control
// and each byte that is not UTF-8 becomes one U+FFFD, so that tampering
// shows without acting on the terminal.
const Placeholder = '\uFFFD'

// Sanitize makes untrusted text — guest names, states, QMP replies and
// error texts, event data, HMP output: anything a QEMU's monitor or
// command line says — safe to write to a terminal on one line. Printable
// text, UTF-8 included, is kept as it is; a tab becomes a space; every
// other C0 control (newlines included), DEL, C1 control (U+0080–U+009F),
// bidi control (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069)
// and invalid UTF-8 byte becomes a Placeholder, and so does each escape
// sequence as a whole (ESC or a C1 introducer up to its final byte; an
// OSC, DCS, SOS, PM or APC string up to BEL or ST, or to the end).
//
// Sanitize the text before styling it: the styling qscope adds is its own.
func Sanitize(s string) string { return sanitize(s, false) }

// SanitizeLines is Sanitize for text of several lines (HMP output): it
// keeps newlines, and a carriage return before one is dropped.
func SanitizeLines(s string) string { return sanitize(s, true) }

func sanitize(s string, lines bool) string {
	i := 0
	for i < len(s) && s[i] >= 0x20 && s[i] < 0x7f {
		i++
	}
	if i == len(s) {
		return s // printable ASCII, by far the most common case
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		c := s[i]
		switch {
		case c >= 0x20 && c < 0x7f:
			b.WriteByte(c)
			i++
		case c == '\t':
			b.WriteByte(' ')
			i++
		case lines && c == '\n':
			b.WriteByte('\n')
			i++
		case lines && c == '\r' && i+1 < len(s) && s[i+1] == '\n':
			i++
		case c == 0x1b:
			i = skipEscape(s, i+1)
			b.WriteRune(Placeholder)
		case c < 0x80:
			b.WriteRune(Placeholder) // other C0, DEL
			i++
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			switch {
			case r == utf8.RuneError && n == 1:
				b.WriteRune(Placeholder)
				i++
			case r >= 0x80 && r <= 0x9f:
				i = skipC1(s, r, i+n)
				b.WriteRune(Placeholder)
			case unicode.Is(unicode.Bidi_Control, r):
				b.WriteRune(Placeholder)
				i += n
			default:
				b.WriteString(s[i : i+n])
				i += n
			}
		}
	}
	return b.String()
}

// Unsafe reports whether r is a character Sanitize replaces: a control
// (C0, DEL, C1) or a bidi control.
func Unsafe(r rune) bool {
	return r < 0x20 || r >= 0x7f && r <= 0x9f || unicode.Is(unicode.Bidi_Control, r)
}

// skipEscape returns where the escape sequence whose ESC ends just before
// i ends.
func skipEscape(s string, i int) int {
	if i >= len(s) {
		return i
	}
	switch c := s[i]; {
	case c == '[':
		return skipCSI(s, i+1)
	case c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_':
		return skipString(s, i+1)
	case c >= 0x20 && c <= 0x2f: // intermediates, then a final byte
		for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2f {
			i++
		}
		if i < len(s) && s[i] >= 0x30 && s[i] <= 0x7e {
			i++
		}
		return i
	case c >= 0x30 && c <= 0x7e: // a two-byte sequence (ESC 7, ESC c, …)
		return i + 1
	}
	return i // a lone ESC
}

// skipC1 returns where the sequence a C1 control r (its encoding ends
// just before i) introduces ends.
func skipC1(s string, r rune, i int) int {
	switch r {
	case 0x9b: // CSI
		return skipCSI(s, i)
	case 0x90, 0x98, 0x9d, 0x9e, 0x9f: // DCS, SOS, OSC, PM, APC
		return skipString(s, i)
	}
	return i
}

// skipCSI skips a control sequence's parameter and intermediate bytes and
// its final byte. A byte that cannot be part of it ends it unconsumed.
func skipCSI(s string, i int) int {
	for i < len(s) && s[i] >= 0x20 && s[i] <= 0x3f {
		i++
	}
	if i < len(s) && s[i] >= 0x40 && s[i] <= 0x7e {
		i++
	}
	return i
}

// skipString skips a control string up to and including its terminator:
// BEL, ST (ESC \ or U+009C), or the end of s. Another ESC ends it too,
// unconsumed, as it starts a sequence of its own.
func skipString(s string, i int) int {
	for i < len(s) {
		switch {
		case s[i] == 0x07:
			return i + 1
		case s[i] == 0x1b:
			if i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
			return i
		case s[i] == 0xc2 && i+1 < len(s) && s[i+1] == 0x9c:
			return i + 2
		}
		i++
	}
	return i
}

// SanitizeJSON makes JSON text safe to write to a terminal without
// changing what it means: every character Sanitize would replace is
// written as a \uXXXX escape instead (encoding/json escapes C0 controls
// but leaves C1 and bidi controls raw), and an invalid UTF-8 byte as
// \ufffd. Newlines and tabs, JSON's own whitespace, are kept. Such
// characters can only stand inside the strings of valid JSON, where the
// escape is the same character; text that is not JSON comes out escaped
// likewise, with nothing raw left in it.
func SanitizeJSON(b []byte) []byte {
	i := 0
	for i < len(b) && (b[i] >= 0x20 && b[i] < 0x7f || b[i] == '\n' || b[i] == '\t') {
		i++
	}
	if i == len(b) {
		return b
	}
	const hex = "0123456789abcdef"
	out := make([]byte, 0, len(b)+16)
	out = append(out, b[:i]...)
	for i < len(b) {
		c := b[i]
		if c >= 0x20 && c < 0x7f || c == '\n' || c == '\t' {
			out = append(out, c)
			i++
			continue
		}
		r, n := rune(c), 1
		if c >= 0x80 {
			r, n = utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				r = Placeholder
			} else if !Unsafe(r) {
				out = append(out, b[i:i+n]...)
				i += n
				continue
			}
		}
		out = append(out, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
		i += n
	}
	return out
}

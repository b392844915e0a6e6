package ui

import (
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
)

// Bytes formats a byte count in binary units: "512B", "1.5K", "2.0G".
func Bytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10) + "B"
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	prec := 1
	if v >= 100 {
		prec = 0
	}
	return strconv.FormatFloat(v, 'f', prec, 64) + string("KMGTPE"[exp])
}

// Duration formats an uptime coarsely: "42s", "5m03s", "3h12m", "4d07h".
func Duration(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return strconv.FormatInt(s, 10) + "s"
	case s < 3600:
		return strconv.FormatInt(s/60, 10) + "m" + pad2(s%60) + "s"
	case s < 86400:
		return strconv.FormatInt(s/3600, 10) + "h" + pad2(s%3600/60) + "m"
	}
	return strconv.FormatInt(s/86400, 10) + "d" + pad2(s%86400/3600) + "h"
}

func pad2(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}

// Percent formats a CPU percentage with one decimal.
func Percent(p float64) string {
	if p < 0 {
		return "-"
	}
	return strconv.FormatFloat(p, 'f', 1, 64)
}

// Fit truncates s to w cells (with an ellipsis) or pads it with spaces to
// exactly w cells. s may hold ANSI sequences.
func Fit(s string, w int) string { return fit(s, w, false) }

// FitRight is Fit aligned to the right.
func FitRight(s string, w int) string { return fit(s, w, true) }

func fit(s string, w int, right bool) string {
	if w <= 0 {
		return ""
	}
	sw, plain := width(s)
	if sw > w {
		if plain {
			return s[:w-1] + "…"
		}
		s = ansi.Truncate(s, w, "…")
		if sw = ansi.StringWidth(s); sw == w {
			return s
		}
	}
	if right {
		return strings.Repeat(" ", w-sw) + s
	}
	return s + strings.Repeat(" ", w-sw)
}

// Block makes text exactly w cells wide and h lines high: long lines are
// truncated, short ones padded, missing lines added, extra ones dropped.
func Block(s string, w, h int) string {
	if h <= 0 || w <= 0 {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	var b strings.Builder
	for i := 0; i < h; i++ {
		if i > 0 {
			b.WriteByte('\n')
		}
		l := ""
		if i < len(lines) {
			l = lines[i]
		}
		b.WriteString(Fit(l, w))
	}
	return b.String()
}

// Lines is Block for a slice of lines.
func Lines(lines []string, w, h int) string {
	return Block(strings.Join(lines, "\n"), w, h)
}

// Width is the number of cells s takes, ANSI sequences excluded. Plain
// ASCII, by far the most common case, is measured without grapheme
// segmentation.
func Width(s string) int {
	n, _ := width(s)
	return n
}

// width measures s and reports whether it is printable ASCII, where
// bytes and cells are the same.
func width(s string) (int, bool) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x7f || c < 0x20 {
			return ansi.StringWidth(s), false
		}
	}
	return len(s), true
}

// Stack joins lines that are already exactly w cells wide into a block of
// h lines: extra lines are dropped, missing ones are blank. It measures
// nothing, so it is cheap; use Lines for lines of any width.
func Stack(lines []string, w, h int) string {
	if h <= 0 || w <= 0 {
		return ""
	}
	if len(lines) > h {
		lines = lines[:h]
	}
	var b strings.Builder
	n := 0
	for _, l := range lines {
		n += len(l) + 1
	}
	b.Grow(n + (h-len(lines))*(w+1))
	for i := 0; i < h; i++ {
		if i > 0 {
			b.WriteByte('\n')
		}
		if i < len(lines) {
			b.WriteString(lines[i])
		} else {
			b.WriteString(strings.Repeat(" ", w))
		}
	}
	return b.String()
}

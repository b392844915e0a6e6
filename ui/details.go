package ui

import (
	"strconv"
	"strings"
	"time"

	"github.com/qscope/qscope/discover"
)

// Tone says how a value should be read: plainly, as good news, as a
// warning or as an error.
type Tone int

const (
	ToneNormal Tone = iota
	ToneOK
	ToneWarn
	ToneError
	ToneDim
)

func (t *Theme) tone(tn Tone, s string) string {
	switch tn {
	case ToneOK:
		return t.OK.Render(s)
	case ToneWarn:
		return t.Warn.Render(s)
	case ToneError:
		return t.Error.Render(s)
	case ToneDim:
		return t.Dim.Render(s)
	}
	return s
}

// SectionState is where a details section's fetch stands.
type SectionState int

const (
	SectionLoading SectionState = iota
	SectionLoaded
	SectionFailed
	SectionIdle // not asked (no monitor)
)

// Row is one label: value line of a section. A row with an empty label
// is a free-form line.
type Row struct {
	Label string
	Value string
	Tone  Tone
}

// Section is one block of the details pane, fetched on its own.
type Section struct {
	Title string
	State SectionState
	Err   string
	Rows  []Row
}

// DetailsData is what the details pane shows.
type DetailsData struct {
	Guest discover.Guest
	Now   time.Time
	// Conn says how the monitor connection stands, with its tone.
	Conn     string
	ConnTone Tone
	Sections []Section
	Offset   int
}

// DetailsLines renders every line of the details pane for width w; each
// line is exactly w cells wide.
func DetailsLines(t *Theme, d DetailsData, w int) []string {
	// Everything of the guest and the sections is the guest's own words:
	// sanitised before it is styled.
	g := d.Guest
	lines := make([]string, 0, 64)
	title := Sanitize(g.Name)
	if title == "" {
		title = "pid " + strconv.Itoa(g.PID)
	}
	state := t.State(g.State).Render(Sanitize(string(g.State)))
	lines = append(lines, Fit(t.Title.Render(title)+"  "+state+"  "+t.Dim.Render(Sanitize(string(g.Owner))+" · pid "+strconv.Itoa(g.PID)+" · up "+Duration(g.Uptime(d.Now))), w))
	wrapped := func(label, text string, tn Tone) {
		for i, l := range wrapWords(Sanitize(text), w-11, "") {
			lab := "           "
			if i == 0 {
				lab = "  " + t.Label.Render(Fit(label, 9))
			}
			lines = append(lines, lab+t.tone(tn, Fit(l, w-11)))
		}
	}
	if g.Reason != "" {
		wrapped("reason:", g.Reason, ToneNormal)
	}
	if d.Conn != "" {
		wrapped("monitor:", d.Conn, d.ConnTone)
	}
	blank := strings.Repeat(" ", max(0, w))
	const labelW = 16
	valueW := w - labelW - 3
	if g.Owner == discover.OwnerLibvirt {
		lines = append(lines, blank, t.Section.Render(Fit("libvirt", w)))
		lines = append(lines, "  "+t.pLabel.Render(Fit("domain", labelW))+" "+Fit(Sanitize(orDash(g.Domain)), max(0, valueW)))
		taints, tone := "none", ToneOK
		if len(g.Taints) > 0 {
			taints, tone = strings.Join(g.Taints, ", "), ToneWarn
		}
		lines = append(lines, "  "+t.pLabel.Render(Fit("taints", labelW))+" "+t.tone(tone, Fit(Sanitize(taints), max(0, valueW))))
	}
	for _, s := range d.Sections {
		if s.State == SectionIdle {
			continue // nothing was asked: the monitor line says why
		}
		lines = append(lines, blank, t.Section.Render(Fit(Sanitize(s.Title), w)))
		switch s.State {
		case SectionLoading:
			lines = append(lines, "  "+t.Loading.Render(Fit("loading…", w-2)))
			continue
		case SectionFailed:
			lines = append(lines, "  "+t.Error.Render(Fit("error: "+Sanitize(s.Err), w-2)))
			continue
		}
		if len(s.Rows) == 0 {
			lines = append(lines, "  "+t.Dim.Render(Fit("none", w-2)))
		}
		for _, r := range s.Rows {
			r.Label, r.Value = Sanitize(r.Label), Sanitize(r.Value)
			if r.Label == "" {
				lines = append(lines, "  "+t.tone(r.Tone, Fit(r.Value, w-2)))
				continue
			}
			if valueW < 8 {
				lines = append(lines, "  "+t.tone(r.Tone, Fit(r.Label+" "+r.Value, w-2)))
				continue
			}
			lines = append(lines, "  "+t.pLabel.Render(Fit(r.Label, labelW))+" "+t.tone(r.Tone, Fit(r.Value, valueW)))
		}
		if s.Err != "" {
			lines = append(lines, "  "+t.Warn.Render(Fit(Sanitize(s.Err), w-2)))
		}
	}
	return lines
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Details renders the details pane, w×h, scrolled to d.Offset (clamped).
func Details(t *Theme, d DetailsData, w, h int) string {
	lines := DetailsLines(t, d, w)
	off := clampOffset(d.Offset, len(lines), h)
	return Stack(lines[off:], w, h)
}

func clampOffset(off, n, h int) int {
	if off > n-h {
		off = n - h
	}
	if off < 0 {
		off = 0
	}
	return off
}

// Summary renders what discovery knows of a guest, for the right-hand
// pane of a wide screen before the guest is opened.
func Summary(t *Theme, g discover.Guest, now time.Time, hint string, w, h int) string {
	rows := []Row{
		{"state", string(g.State), ToneNormal},
		{"reason", orDash(g.Reason), ToneNormal},
		{"owner", string(g.Owner), ToneNormal},
		{"pid", strconv.Itoa(g.PID), ToneNormal},
		{"uptime", Duration(g.Uptime(now)), ToneNormal},
		{"cpu", Percent(g.CPUPercent) + "%", ToneNormal},
		{"memory", Bytes(g.RSS), ToneNormal},
		{"vcpus", strconv.Itoa(g.VCPUs), ToneNormal},
		{"threads", strconv.Itoa(g.Threads), ToneNormal},
		{"monitor", orDash(g.Monitor), ToneNormal},
		{"qemu", orDash(g.Version), ToneNormal},
		{"binary", orDash(g.Binary), ToneNormal},
	}
	if g.Domain != "" {
		rows = append(rows, Row{"domain", g.Domain, ToneNormal})
	}
	if len(g.Taints) > 0 {
		rows = append(rows, Row{"taints", strings.Join(g.Taints, ", "), ToneWarn})
	}
	if g.UUID != "" {
		rows = append(rows, Row{"uuid", g.UUID, ToneNormal})
	}
	blank := strings.Repeat(" ", max(0, w))
	lines := []string{Fit(t.Title.Render(Sanitize(orDash(g.Name)))+"  "+t.State(g.State).Render(Sanitize(string(g.State))), w), blank}
	for _, r := range rows {
		lines = append(lines, "  "+t.pLabel.Render(Fit(r.Label, 9))+" "+Fit(Sanitize(r.Value), w-12))
	}
	if len(g.Cmdline) > 0 {
		lines = append(lines, blank, t.Section.Render(Fit("command line", w)))
		for _, l := range wrapWords(Sanitize(strings.Join(g.Cmdline, " ")), w-2, "  ") {
			lines = append(lines, Fit(l, w))
		}
	}
	if hint != "" {
		lines = append(lines, blank, t.pDim.Render(Fit(Sanitize(hint), w)))
	}
	return Stack(lines, w, h)
}

// wrapWords breaks s at spaces into lines of at most w cells.
func wrapWords(s string, w int, indent string) []string {
	if w < 10 {
		w = 10
	}
	var out []string
	var cur strings.Builder
	for _, word := range strings.Fields(s) {
		if cur.Len() > 0 && cur.Len()+1+len(word) > w {
			out = append(out, indent+cur.String())
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteByte(' ')
		}
		cur.WriteString(word)
	}
	if cur.Len() > 0 {
		out = append(out, indent+cur.String())
	}
	return out
}

package model

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/qmp"
	"github.com/qscope/qscope/ui"
)

// detailsState is the details pane: one entry per section, each fetched
// by its own command, plus the live vCPU figures.
type detailsState struct {
	seq     uint64 // bumped by every refresh; older results are dropped
	secs    []ui.Section
	threads []vcpuThread
	prev    procSample
	cur     procSample
	offset  int
}

func (d *detailsState) reset(s *session) {
	d.seq++
	d.threads = nil
	d.prev, d.cur = procSample{}, procSample{}
	d.offset = 0
	d.secs = make([]ui.Section, len(sections))
	for i, def := range sections {
		d.secs[i] = ui.Section{Title: def.title, State: ui.SectionIdle, Err: "waiting for the monitor"}
	}
}

// refresh marks every section loading and returns one command per
// section.
func (m *Model) refreshDetails() tea.Cmd {
	s := m.sess
	if s == nil || s.state != sessOpen {
		return nil
	}
	m.details.seq++
	seq := m.details.seq
	cmds := make([]tea.Cmd, 0, len(sections))
	for i := range sections {
		m.details.secs[i].State = ui.SectionLoading
		cmds = append(cmds, sectionCmd(s.ctx, s.id, seq, i, s.mon, s.guest, m.cfg.CallTimeout, m.cfg.ProcRoot))
	}
	return tea.Batch(cmds...)
}

func sectionCmd(ctx context.Context, sid, seq uint64, idx int, mon qmp.Monitor, g discover.Guest, timeout time.Duration, procRoot string) tea.Cmd {
	return func() tea.Msg {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		res, err := sections[idx].fetch(cctx, mon, g)
		if err != nil && errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %v (QEMU stopped or busy?)", timeout)
		}
		msg := sectionMsg{sid: sid, seq: seq, idx: idx, rows: res.rows, note: res.note, err: err, threads: res.threads}
		if idx == secVCPUs && err == nil {
			msg.sample = readThreadTicks(procRoot, g.PID, tids(res.threads), time.Now())
		}
		return msg
	}
}

func tids(ts []vcpuThread) []int {
	out := make([]int, 0, len(ts))
	for _, t := range ts {
		if t.Thread > 0 {
			out = append(out, t.Thread)
		}
	}
	return out
}

func sampleCmd(ctx context.Context, sid, seq uint64, procRoot string, pid int, threads []int) tea.Cmd {
	return func() tea.Msg {
		if ctx.Err() != nil {
			return nil
		}
		return vcpuSampleMsg{sid: sid, seq: seq, sample: readThreadTicks(procRoot, pid, threads, time.Now())}
	}
}

func tickCmd(gen uint64, d time.Duration) tea.Cmd {
	return tea.Tick(d, func(time.Time) tea.Msg { return tickMsg{gen: gen} })
}

func (m *Model) applySection(msg sectionMsg) bool {
	if m.sess == nil || msg.sid != m.sess.id || msg.seq != m.details.seq || msg.idx >= len(m.details.secs) {
		return false
	}
	sec := &m.details.secs[msg.idx]
	if msg.err != nil {
		sec.State = ui.SectionFailed
		sec.Err = msg.err.Error()
		sec.Rows = nil
		return true
	}
	sec.State = ui.SectionLoaded
	sec.Err = msg.note
	sec.Rows = msg.rows
	if msg.idx == secVCPUs {
		m.details.threads = msg.threads
		m.pushSample(msg.sample)
	}
	return true
}

func (m *Model) pushSample(s procSample) {
	d := &m.details
	if d.cur.ticks != nil {
		d.prev = d.cur
	}
	d.cur = s
	rows := make([]ui.Row, 0, len(d.threads))
	for _, t := range d.threads {
		v := "thread " + strconv.Itoa(t.Thread)
		if t.Target != "" {
			v += " · " + t.Target
		}
		p := threadPercent(d.prev, d.cur, t.Thread)
		if p >= 0 {
			v += " · " + ui.Percent(p) + "% cpu"
		} else {
			v += " · measuring…"
		}
		rows = append(rows, ui.Row{Label: "cpu " + strconv.Itoa(t.Index), Value: v})
	}
	sec := &d.secs[secVCPUs]
	if sec.State != ui.SectionLoaded {
		return
	}
	sec.Rows = rows
	if s.err != nil {
		sec.Err = s.err.Error()
	} else {
		sec.Err = ""
	}
}

func (m *Model) detailsData() ui.DetailsData {
	d := ui.DetailsData{Now: m.now, Sections: m.details.secs, Offset: m.details.offset}
	s := m.sess
	if s == nil {
		return d
	}
	d.Guest = s.guest
	switch s.state {
	case sessDialing:
		d.Conn, d.ConnTone = "connecting…", ui.ToneDim
	case sessOpen:
		d.Conn, d.ConnTone = "open; qscope holds it until esc", ui.ToneOK
		if s.guest.Owner == discover.OwnerLibvirt {
			d.Conn = "open through libvirt's QMP passthrough (libvirt marks the domain custom-monitor)"
		}
	case sessFailed, sessClosed:
		d.Conn, d.ConnTone = s.why, ui.ToneError
		if !s.gone {
			d.Conn += " — r retries"
		}
	}
	return d
}

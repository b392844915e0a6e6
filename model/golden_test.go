package model

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/qmp"
	"github.com/qscope/qscope/ui"
)

func goldenGuests() []discover.Guest {
	gs := manyGuests(30)
	gs[5].Reason = "monitor held by another client"
	gs[6].State = discover.StateStopped
	gs[6].Reason = "process is stopped (SIGSTOP): its monitor cannot answer"
	gs[8].State = discover.StateNoMonitor
	gs[8].Reason = "no QMP monitor on a socket"
	gs[9].Owner = discover.OwnerLibvirt
	gs[9].Monitor = "qemu:///system"
	return gs
}

// openedGuest puts m in the details of guest g with every section loaded
// from fixed data.
func openedGuest(t *testing.T, m *Model, g discover.Guest) {
	t.Helper()
	press(m, "enter")
	m.Update(sessionOpenedMsg{sid: m.sess.id, mon: nil, sub: nil})
	seq := m.details.seq
	rows := map[int][]ui.Row{
		0: {{Label: "run state", Value: "running", Tone: ui.ToneOK}, {Label: "name", Value: g.Name}},
		1: {{Label: "version", Value: "7.2.22"}, {Label: "target", Value: "x86_64"}, {Label: "machine", Value: "pc-q35-7.2"}},
		2: {{Label: "accelerator", Value: "kvm", Tone: ui.ToneOK}},
		4: {{Label: "base", Value: "64.0M"}, {Label: "balloon", Value: "no balloon device", Tone: ui.ToneDim}},
		5: {{Label: "disk0", Value: "qcow2 /var/lib/images/disk0.qcow2"}, {Value: "  io-status ok · read 1.5M in 120 ops"}},
		6: {{Label: "compat_monitor0", Value: "unix:/run/qscope-test/a.qmp,server=on  (open)"}},
		7: {{Value: "net0: index=0,type=user,net=10.0.2.0,restrict=off"}},
		8: {{Label: "status", Value: "none"}},
		9: nil,
	}
	for i := range sections {
		if i == secVCPUs {
			m.Update(sectionMsg{sid: m.sess.id, seq: seq, idx: i, threads: []vcpuThread{{Index: 0, Thread: 4321, Target: "x86_64"}}})
			continue
		}
		m.Update(sectionMsg{sid: m.sess.id, seq: seq, idx: i, rows: rows[i]})
	}
	m.Update(sectionMsg{sid: m.sess.id, seq: seq, idx: 9, err: &qmp.Error{Command: "query-jobs", Class: "GenericError", Desc: "example failure"}})
}

func goldenEvents() []qmp.Event {
	names := []string{"STOP", "RESUME", "BLOCK_IO_ERROR", "JOB_STATUS_CHANGE", "DEVICE_DELETED", "SHUTDOWN", "RESET", "NIC_RX_FILTER_CHANGED"}
	var evs []qmp.Event
	for i := range 40 {
		n := names[i%len(names)]
		data := json.RawMessage(`{"reason":"host-qmp-` + n + `","guest":false}`)
		if n == "STOP" || n == "RESUME" {
			data = nil
		}
		evs = append(evs, qmp.Event{Name: n, Data: data, Timestamp: qmp.Timestamp{Seconds: epoch.Unix() + int64(i), Microseconds: 1234}})
	}
	return evs
}

func TestGolden(t *testing.T) {
	scenes := []struct {
		name string
		w, h int
		cfg  Config
		do   func(t *testing.T, m *Model)
	}{
		{"list", 80, 24, Config{}, func(t *testing.T, m *Model) {
			m.Update(added(goldenGuests()...))
			press(m, "down", "down")
		}},
		{"list", 120, 40, Config{}, func(t *testing.T, m *Model) {
			m.Update(added(goldenGuests()...))
			press(m, "down", "down", "down", "down", "down", "down")
		}},
		{"empty", 80, 24, Config{StartDemo: func(context.Context) (func(), error) { return func() {}, nil }}, func(t *testing.T, m *Model) {
			m.Update(changesMsg{})
		}},
		{"details", 80, 24, Config{}, func(t *testing.T, m *Model) {
			gs := goldenGuests()
			m.Update(added(gs...))
			openedGuest(t, m, gs[0])
		}},
		{"details", 120, 40, Config{}, func(t *testing.T, m *Model) {
			gs := goldenGuests()
			m.Update(added(gs...))
			openedGuest(t, m, gs[0])
		}},
		{"events", 80, 24, Config{}, func(t *testing.T, m *Model) {
			gs := goldenGuests()
			m.Update(added(gs...))
			openedGuest(t, m, gs[0])
			press(m, "e")
			m.Update(eventsMsg{sid: m.sess.id, events: goldenEvents()})
		}},
		{"events", 120, 40, Config{}, func(t *testing.T, m *Model) {
			gs := goldenGuests()
			m.Update(added(gs...))
			openedGuest(t, m, gs[0])
			press(m, "e")
			m.Update(eventsMsg{sid: m.sess.id, events: goldenEvents()})
			press(m, "up", "up", "up")
		}},
		{"confirm", 80, 24, Config{}, func(t *testing.T, m *Model) {
			m.Update(added(goldenGuests()...))
			press(m, "R")
			typeText(m, "vm-")
		}},
		{"busy", 80, 24, Config{}, func(t *testing.T, m *Model) {
			gs := goldenGuests()
			m.Update(added(gs...))
			for range 5 {
				press(m, "down")
			}
			press(m, "enter")
			m.Update(sessionOpenedMsg{sid: m.sess.id, err: qmp.ErrBusy})
		}},
	}
	for _, sc := range scenes {
		name := sc.name + "-" + itoa(sc.w) + "x" + itoa(sc.h)
		t.Run(name, func(t *testing.T) {
			m := newTest(t, sc.cfg)
			m.Update(sizeMsg(sc.w, sc.h))
			sc.do(t, m)
			got := screen(t, m)
			// Every line fits and the frame has exactly h lines.
			content := m.View().Content
			lines := strings.Split(content, "\n")
			if len(lines) != sc.h {
				t.Errorf("frame has %d lines, want %d", len(lines), sc.h)
			}
			for i, l := range lines {
				if w := ansi.StringWidth(l); w > sc.w {
					t.Errorf("line %d is %d cells wide, over %d", i, w, sc.w)
				}
			}
			golden(t, name, got)
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestTinyAndOddSizes renders every pane at sizes from absurd to wide:
// nothing may panic and no line may be wider than the screen.
func TestTinyAndOddSizes(t *testing.T) {
	for _, size := range [][2]int{{1, 1}, {10, 3}, {20, 5}, {40, 10}, {79, 23}, {119, 30}, {121, 50}, {250, 80}} {
		for _, keys := range [][]string{nil, {"enter"}, {"e"}, {"c"}, {"R"}, {"?"}} {
			m := newTest(t, Config{})
			m.Update(sizeMsg(size[0], size[1]))
			gs := goldenGuests()
			m.Update(added(gs...))
			if len(keys) > 0 && keys[0] != "R" && keys[0] != "?" {
				openedGuest(t, m, gs[0])
				m.Update(eventsMsg{sid: m.sess.id, events: goldenEvents()})
			}
			for _, k := range keys {
				press(m, k)
			}
			for i, l := range strings.Split(m.View().Content, "\n") {
				if w := ansi.StringWidth(l); w > size[0] {
					t.Errorf("%dx%d keys %v: line %d is %d wide", size[0], size[1], keys, i, w)
				}
			}
		}
	}
}

// TestGoldenColour keeps one screen with its colours, downsampled to the
// 16-colour ANSI profile, so a change of theme shows up in review. The
// golden file holds the escape sequences as they are.
func TestGoldenColour(t *testing.T) {
	m := New(Config{Now: fixedNow})
	m.Update(sizeMsg(120, 40))
	gs := goldenGuests()
	m.Update(added(gs...))
	press(m, "down", "down", "down", "down", "down", "down")
	var b bytes.Buffer
	w := &colorprofile.Writer{Forward: &b, Profile: colorprofile.ANSI}
	if _, err := w.WriteString(m.View().Content); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, want := range []string{"\x1b[", "stopped", "running"} {
		if !strings.Contains(got, want) {
			t.Errorf("coloured screen lacks %q", want)
		}
	}
	if strings.Contains(got, "38;2;") || strings.Contains(got, "38;5;") {
		t.Error("the ANSI profile left truecolor or 256-colour sequences")
	}
	golden(t, "list-120x40-ansi", got)
}

package model

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/internal/qemutest"
	"github.com/qscope/qscope/qmp"
	"github.com/qscope/qscope/ui"
)

// driver runs a model's commands the way Bubble Tea does, feeding their
// messages back into Update, so tests exercise real I/O against QEMU.
type driver struct {
	t    *testing.T
	m    *Model
	msgs chan tea.Msg
	done chan struct{}
	wg   sync.WaitGroup
}

func newDriver(t *testing.T, m *Model) *driver {
	d := &driver{t: t, m: m, msgs: make(chan tea.Msg, 64), done: make(chan struct{})}
	t.Cleanup(func() {
		m.Close()
		close(d.done)
		d.wg.Wait()
	})
	return d
}

func (d *driver) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	d.wg.Go(func() {
		msg := cmd()
		if msg == nil {
			return
		}
		select {
		case d.msgs <- msg:
		case <-d.done:
		}
	})
}

func (d *driver) keys(keys ...string) {
	for _, k := range keys {
		_, cmd := d.m.Update(keyMsg(k))
		d.run(cmd)
	}
}

// until processes messages until cond holds or the timeout passes.
func (d *driver) until(what string, timeout time.Duration, cond func() bool) {
	d.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for !cond() {
		select {
		case msg := <-d.msgs:
			if b, ok := msg.(tea.BatchMsg); ok {
				for _, c := range b {
					d.run(c)
				}
				continue
			}
			_, cmd := d.m.Update(msg)
			d.run(cmd)
		case <-deadline.C:
			d.t.Fatalf("timed out after %v waiting for %s\nscreen:\n%s", timeout, what, screen(d.t, d.m))
		}
	}
}

func sectionsSettled(m *Model) bool {
	for _, s := range m.details.secs {
		if s.State == ui.SectionLoading || s.State == ui.SectionIdle {
			return false
		}
	}
	return true
}

func hasEvent(m *Model, name string) bool {
	r := m.events.ring
	for seq := r.first(); seq < r.next; seq++ {
		if r.get(seq).ev.Name == name {
			return true
		}
	}
	return false
}

func TestSessionAgainstQEMU(t *testing.T) {
	// The console keeps a history and a schema cache: keep them here.
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	for _, b := range qemutest.Binaries(t) {
		t.Run(b.String(), func(t *testing.T) {
			inst := qemutest.Start(t, b, qemutest.Options{
				Name:     "qs-model",
				Monitors: []qemutest.MonitorStyle{qemutest.MonitorQMPUnix, qemutest.MonitorQMPUnix},
			})
			ours, theirs := inst.Monitors[0], inst.Monitors[1]
			g := discover.Guest{
				Name: "qs-model", PID: inst.PID, StartTicks: 1, State: discover.StateRunning, Owner: discover.OwnerProcess,
				Monitor: ours.Address, Monitors: []discover.Endpoint{{Network: ours.Network, Address: ours.Address}},
				Cmdline: inst.Cmd.Args,
			}
			var dials atomic.Int32
			m := newTest(t, Config{
				Connect: func(ctx context.Context, g discover.Guest) (qmp.Monitor, error) {
					dials.Add(1)
					return qmp.Dial(ctx, ours.Network, ours.Address)
				},
				Interval: 100 * time.Millisecond,
			})
			m.Update(sizeMsg(120, 40))
			m.Update(added(g))
			d := newDriver(t, m)

			d.keys("enter")
			d.until("every details section", 15*time.Second, func() bool { return m.sess.state == sessOpen && sectionsSettled(m) })
			for i, s := range m.details.secs {
				if s.State != ui.SectionLoaded {
					t.Errorf("section %s: %v %s", sections[i].title, s.State, s.Err)
				}
			}
			s := screen(t, m)
			for _, want := range []string{"run state", "running", b.Version, "accelerator", "thread ", "base"} {
				if !strings.Contains(s, want) {
					t.Errorf("details lack %q:\n%s", want, s)
				}
			}
			// The machine alias given (-machine pc) is shown resolved.
			machine := ""
			for _, sec := range m.details.secs {
				for _, r := range sec.Rows {
					if r.Label == "machine" {
						machine = r.Value
					}
				}
			}
			if !strings.HasPrefix(machine, "pc-i440fx-") || !strings.HasSuffix(machine, " (pc)") {
				t.Errorf("machine row %q, want pc-i440fx-… (pc)", machine)
			}
			// vCPU CPU% appears after the second sample.
			d.until("a vCPU CPU% figure", 10*time.Second, func() bool {
				for _, r := range m.details.secs[secVCPUs].Rows {
					if strings.Contains(r.Value, "% cpu") {
						return true
					}
				}
				return false
			})

			// Events sent by another client show up.
			other, err := qmp.Dial(t.Context(), theirs.Network, theirs.Address)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			for _, c := range []string{"stop", "cont"} {
				if err := other.Execute(t.Context(), c, nil, nil); err != nil {
					t.Fatal(err)
				}
			}
			d.keys("e")
			d.until("STOP and RESUME events", 10*time.Second, func() bool { return hasEvent(m, "STOP") && hasEvent(m, "RESUME") })

			// Pause through the UI, confirmed with y.
			d.keys("p", "y")
			d.until("the pause to complete", 10*time.Second, func() bool { return strings.Contains(m.msg, "pause qs-model: done") })
			var st struct {
				Status string `json:"status"`
			}
			if err := other.Execute(t.Context(), "query-status", nil, &st); err != nil || st.Status != "paused" {
				t.Errorf("after p, QEMU says %q (%v)", st.Status, err)
			}
			d.until("the STOP to update the state", 5*time.Second, func() bool { return m.sess.guest.State == discover.StatePaused })
			d.until("the status section to say paused", 5*time.Second, func() bool {
				rows := m.details.secs[0].Rows
				return len(rows) > 0 && rows[0].Value == "paused"
			})
			d.keys("p", "y")
			d.until("the resume", 10*time.Second, func() bool { return strings.Contains(m.msg, "resume qs-model: done") })

			// The console runs on the same connection: no second dial.
			d.keys("c")
			d.until("the console's schema", 15*time.Second, func() bool {
				return strings.Contains(screen(t, m), "commands") && m.console != nil
			})
			if n := dials.Load(); n != 1 {
				t.Errorf("%d dials for details, events, actions and console; want 1", n)
			}
			for _, k := range []string{"q", "u", "e", "r", "y", "-", "s", "t", "a", "t", "u", "s", "enter"} {
				d.keys(k)
			}
			d.until("the console's reply", 10*time.Second, func() bool { return strings.Contains(screen(t, m), `"running": true`) })

			// esc releases the monitor: another client gets it at once.
			d.keys("esc")
			d.until("the release", 5*time.Second, func() bool { return m.sess == nil })
			var again qmp.Monitor
			deadline := time.Now().Add(5 * time.Second)
			for {
				ctx, cancel := context.WithTimeout(t.Context(), time.Second)
				again, err = qmp.Dial(ctx, ours.Network, ours.Address)
				cancel()
				if err == nil || time.Now().After(deadline) {
					break
				}
			}
			if err != nil {
				t.Fatalf("monitor not released after esc: %v", err)
			}
			again.Close()
		})
	}
}

func TestKilledWhileOpenAgainstQEMU(t *testing.T) {
	bins := qemutest.Binaries(t)
	inst := qemutest.Start(t, bins[0], qemutest.Options{Name: "qs-doomed", Monitors: []qemutest.MonitorStyle{qemutest.MonitorQMPUnix}})
	mon := inst.Monitors[0]
	g := discover.Guest{Name: "qs-doomed", PID: inst.PID, StartTicks: 1, State: discover.StateRunning, Owner: discover.OwnerProcess, Monitor: mon.Address}
	m := newTest(t, Config{Connect: func(ctx context.Context, g discover.Guest) (qmp.Monitor, error) {
		return qmp.Dial(ctx, mon.Network, mon.Address)
	}})
	m.Update(sizeMsg(80, 24))
	m.Update(added(g))
	d := newDriver(t, m)
	d.keys("e")
	d.until("the monitor", 10*time.Second, func() bool { return m.sess.state == sessOpen })
	if err := inst.Kill(); err != nil {
		t.Fatal(err)
	}
	d.until("the end of the monitor", 10*time.Second, func() bool { return m.sess.state == sessClosed })
	m.Update(removed(g))
	if s := screen(t, m); !strings.Contains(s, "monitor closed: guest exited") {
		t.Errorf("events pane after the kill:\n%s", s)
	}
	d.keys("d")
	if m.view != viewDetails {
		t.Error("keys stopped working after the guest died")
	}
}

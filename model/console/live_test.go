package console

import (
	"context"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/internal/qemutest"
	"github.com/qscope/qscope/qmp"
	"github.com/qscope/qscope/qmp/qmptest"
	"github.com/qscope/qscope/qmp/schema"
)

func liveConsole(t testing.TB, b qemutest.Binary, cacheDir string) (*qmp.Client, *qmptest.Transcript) {
	t.Helper()
	inst := qemutest.Start(t, b, qemutest.Options{Paused: true})
	tr := &qmptest.Transcript{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := qmp.Dial(ctx, inst.Monitors[0].Network, inst.Monitors[0].Address, qmp.WithTranscript(tr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, tr
}

// TestConsoleOnRealQEMU drives the model with its commands run for real
// against QEMU: the schema loads, completion gets HMP help and device
// types from QEMU, a bad line sends no request at all (the client's
// transcript shows none), a good one gets QEMU's reply.
func TestConsoleOnRealQEMU(t *testing.T) {
	for _, b := range qemutest.Binaries(t) {
		t.Run(b.String(), func(t *testing.T) {
			c, tr := liveConsole(t, b, "")
			m := New(Config{Monitor: c, Guest: discover.Guest{Name: "vm1"}, HistoryPath: "-",
				Schema: &schema.Loader{Dir: t.TempDir()}})
			m, _ = run(t, m, m.Init())
			if m.Schema() == nil || m.Schema().Version != b.Version {
				t.Fatalf("schema not loaded: %v", m.schemaErr)
			}

			// Bad lines: nothing reaches QEMU.
			before := len(tr.Sent())
			bad := []string{"query-status foo=1", "balloon value=big", "query-statux"}
			if b.Major() < 10 {
				// A device_add line makes the console list device types
				// (qom-list-types), which loads every module: the 10.0 build
				// unpacked beside 7.2 finds 7.2's modules and aborts.
				bad = append(bad, "device_add id=x")
			}
			for _, line := range bad {
				m.input.SetValue("")
				m.lastVal = ""
				var cmd tea.Cmd
				m, cmd = typeText(m, line)
				m, _ = run(t, m, cmd)
				m, cmd = press(m, "enter")
				m, _ = run(t, m, cmd)
				if st, isErr := m.Status(); !isErr || st == "" {
					t.Errorf("%s: no error shown (%q)", line, st)
				}
			}
			for _, r := range tr.Sent()[before:] {
				if strings.Contains(r, "foo") || strings.Contains(r, `"balloon"`) || strings.Contains(r, "query-statux") || strings.Contains(r, `"device_add"`) {
					t.Errorf("bad input reached QEMU: %s", r)
				}
			}

			// HMP completion from QEMU's own help.
			m.input.SetValue("")
			m.lastVal = ""
			m, cmd := typeText(m, "!info sta")
			m, _ = run(t, m, cmd)
			if cands, _ := m.Candidates(); len(cands) == 0 || cands[0].Text != "status" {
				t.Errorf("HMP candidates: %+v", cands)
			}
			m, cmd = press(m, "tab")
			m, _ = run(t, m, cmd)
			m, cmd = press(m, "enter")
			m, _ = run(t, m, cmd)
			ex := m.Exchanges()
			if len(ex) != 1 || !strings.Contains(ex[0].HMPOutput, "VM status: paused") {
				t.Fatalf("HMP exchange: %+v", ex)
			}

			// A good QMP line and its reply.
			m, cmd = typeText(m, "query-status")
			m, _ = run(t, m, cmd)
			m, cmd = press(m, "enter")
			m, _ = run(t, m, cmd)
			ex = m.Exchanges()
			if len(ex) != 2 || ex[1].Err != nil || !strings.Contains(string(ex[1].Reply), `"prelaunch"`) || ex[1].RTT <= 0 {
				t.Fatalf("query-status exchange: %+v", ex[len(ex)-1])
			}
			if !strings.Contains(m.View(), `"prelaunch"`) {
				t.Error("reply not in the view")
			}
			// QEMU's own error, with its class.
			m, cmd = typeText(m, "qom-get path=/nowhere property=x")
			m, _ = run(t, m, cmd)
			m, cmd = press(m, "enter")
			m, _ = run(t, m, cmd)
			if !strings.Contains(m.View(), "error DeviceNotFound:") && !strings.Contains(m.View(), "error GenericError:") {
				t.Errorf("QEMU's error not shown:\n%s", m.View())
			}
			// HMP's errors, printed in a reply QMP counts a success.
			for _, line := range []string{"!nosuchcmd", "!system_wakeup"} {
				m, cmd = typeText(m, line)
				m, _ = run(t, m, cmd)
				m, cmd = press(m, "enter")
				m, _ = run(t, m, cmd)
				ex = m.Exchanges()
				last := ex[len(ex)-1]
				if st, isErr := m.Status(); last.HMPFailed == "" || !isErr || !strings.Contains(st, "failed") {
					t.Errorf("%s: not shown failed: status %q, exchange %+v", line, st, last)
				}
			}
		})
	}
}

// BenchmarkConsoleOpen opens the console on a cached schema (New, Init's
// schema command, the resulting Update) and, as the reference in the same
// run, on a cold cache (query-qmp-schema each time); it reports the cached
// open's share of the 50 ms budget.
func BenchmarkConsoleOpen(b *testing.B) {
	for _, bin := range qemutest.Binaries(b) {
		b.Run(bin.String(), func(b *testing.B) {
			c, _ := liveConsole(b, bin, "")
			warm := &schema.Loader{Dir: b.TempDir(), Binary: bin.String()}
			cold := &schema.Loader{NoCache: true}
			open := func(l *schema.Loader) time.Duration {
				start := time.Now()
				m := New(Config{Monitor: c, HistoryPath: "-", Schema: l})
				msg := loadSchemaCmd(context.Background(), m.gen, l, c, 0, time.Minute, time.Now)()
				m, _ = m.Update(msg)
				d := time.Since(start)
				if m.Schema() == nil {
					b.Fatal("no schema")
				}
				return d
			}
			open(warm)
			var w, k time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				w += open(warm)
				k += open(cold)
			}
			n := float64(b.N)
			b.ReportMetric(float64(w.Microseconds())/1000/n, "cached-ms")
			b.ReportMetric(float64(k.Microseconds())/1000/n, "live-ms")
			b.ReportMetric(float64(k)/float64(w), "live/cached")
			b.ReportMetric(float64(w)/n/float64(50*time.Millisecond), "cached/50ms-budget")
			b.ReportMetric(0, "ns/op")
		})
	}
}

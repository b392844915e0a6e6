package schema_test

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/qscope/qscope/internal/qemutest"
	"github.com/qscope/qscope/qmp/schema"
)

func texts(c schema.Completion) []string {
	out := make([]string, len(c.Candidates))
	for i, x := range c.Candidates {
		out[i] = x.Text
	}
	return out
}

func TestComplete(t *testing.T) {
	for _, b := range qemutest.Binaries(t) {
		t.Run(b.String(), func(t *testing.T) {
			_, s, live := liveSchema(t, b)
			live.Chardevs = []string{"serial0", "charmon"}
			live.DeviceIDs = []string{"nic0"}
			live.BlockNodes = []string{"disk0", "disk0-fmt"}
			live.Jobs = []string{"backup0", "mirror1"}
			cases := []struct {
				line  string
				check func(t *testing.T, c schema.Completion)
			}{
				{"query-st", func(t *testing.T, c schema.Completion) {
					if got := texts(c); len(got) == 0 || got[0] != "query-status" {
						t.Errorf("first candidate: %v", got)
					}
					if c.Start != 0 || c.End != 8 || c.Candidates[0].Insert != "query-status" {
						t.Errorf("range [%d,%d) insert %q", c.Start, c.End, c.Candidates[0].Insert)
					}
					if m := c.Candidates[0].Matched; len(m) != 8 || m[0] != 0 || m[7] != 7 {
						t.Errorf("matched offsets %v", m)
					}
				}},
				{"qstat", func(t *testing.T, c schema.Completion) {
					if !slices.Contains(texts(c), "query-status") {
						t.Errorf("fuzzy: %v", texts(c))
					}
				}},
				{"x-query-r", func(t *testing.T, c schema.Completion) {
					if len(c.Candidates) == 0 || !c.Candidates[0].Unstable {
						t.Errorf("x- commands not marked unstable: %+v", c.Candidates)
					}
				}},
				{"device_add ", func(t *testing.T, c schema.Completion) {
					got := texts(c)
					if len(got) < 3 || got[0] != "driver" || !c.Candidates[0].Required || c.Candidates[0].Insert != "driver=" || c.Candidates[0].Detail != "str" {
						t.Errorf("device_add arguments: %+v", c.Candidates)
					}
					if c.Candidates[1].Required {
						t.Errorf("optional argument marked required: %+v", c.Candidates[1])
					}
				}},
				{"device_add driver=virtio-net-pci id=n1 ", func(t *testing.T, c schema.Completion) {
					got := texts(c)
					if slices.Contains(got, "driver") || slices.Contains(got, "id") || !slices.Contains(got, "bus") {
						t.Errorf("given arguments offered again: %v", got)
					}
					if !slices.Contains(got, "mac") {
						t.Errorf("device properties of virtio-net-pci not offered: %v", got)
					}
				}},
				{"set_link name=x up=", func(t *testing.T, c schema.Completion) {
					if got := texts(c); !slices.Equal(got, []string{"true", "false"}) {
						t.Errorf("bool values: %v", got)
					}
				}},
				{"blockdev-add driver=qc", func(t *testing.T, c schema.Completion) {
					if got := texts(c); len(got) < 2 || !slices.Contains(got[:2], "qcow2") {
						t.Errorf("enum values: %v", got)
					}
				}},
				{"blockdev-add driver=qcow2 ", func(t *testing.T, c schema.Completion) {
					if got := texts(c); !slices.Contains(got, "file") || slices.Contains(got, "driver") {
						t.Errorf("union variant members: %v", got)
					}
				}},
				{"chardev-add id=x backend.", func(t *testing.T, c schema.Completion) {
					if got := texts(c); !slices.Equal(got, []string{"type"}) || c.Candidates[0].Insert != "backend.type=" {
						t.Errorf("nested members: %+v", c.Candidates)
					}
				}},
				{"chardev-add id=x backend.type=socket backend.data.", func(t *testing.T, c schema.Completion) {
					got := texts(c)
					if !slices.Contains(got, "addr") || !slices.Contains(got, "server") {
						t.Errorf("variant's nested members: %v", got)
					}
				}},
				{"chardev-remove id=", func(t *testing.T, c schema.Completion) {
					if got := texts(c); !slices.Equal(got, []string{"serial0", "charmon"}) {
						t.Errorf("chardev ids: %v", got)
					}
				}},
				{"device_del id=", func(t *testing.T, c schema.Completion) {
					if got := texts(c); !slices.Equal(got, []string{"nic0"}) {
						t.Errorf("device ids: %v", got)
					}
				}},
				{"blockdev-del node-name=d", func(t *testing.T, c schema.Completion) {
					if got := texts(c); !slices.Equal(got, []string{"disk0", "disk0-fmt"}) {
						t.Errorf("node names: %v", got)
					}
				}},
				{"job-cancel id=", func(t *testing.T, c schema.Completion) {
					if got := texts(c); !slices.Equal(got, []string{"backup0", "mirror1"}) || c.Candidates[0].Detail != "job" {
						t.Errorf("job ids: %v %+v", got, c.Candidates)
					}
				}},
				{"block-job-cancel device=mi", func(t *testing.T, c schema.Completion) {
					if got := texts(c); !slices.Equal(got, []string{"mirror1"}) {
						t.Errorf("block job ids: %v", got)
					}
				}},
				{"query-status ", func(t *testing.T, c schema.Completion) {
					if len(c.Candidates) != 0 {
						t.Errorf("a command without arguments offered %v", texts(c))
					}
				}},
				{`{"execute":"qu`, func(t *testing.T, c schema.Completion) {
					if got := texts(c); len(got) == 0 || got[0] != "query-status" || c.Candidates[0].Insert != `query-status"` {
						t.Errorf("raw JSON command: %v", got)
					}
				}},
				{`{"execute":"device_add","arguments":{"driver":"virtio-net-`, func(t *testing.T, c schema.Completion) {
					if got := texts(c); !slices.Contains(got, "virtio-net-pci") {
						t.Errorf("raw JSON device_add driver: %v", got)
					}
				}},
				{"migrate-set-capabilities capabilities.0.", func(t *testing.T, c schema.Completion) {
					if got := texts(c); !slices.Contains(got, "capability") || !slices.Contains(got, "state") {
						t.Errorf("members of an array element: %v", got)
					}
				}},
				{"migrate-set-capabilities capabilities.0.capability=xbz", func(t *testing.T, c schema.Completion) {
					if got := texts(c); len(got) == 0 || got[0] != "xbzrle" {
						t.Errorf("enum values inside an array element: %v", got)
					}
				}},
				{"device_add driver=virtio-", func(t *testing.T, c schema.Completion) {
					got := texts(c)
					if len(got) < 10 || !slices.Contains(got, "virtio-net-pci") || !slices.Contains(got, "virtio-blk-pci") {
						t.Errorf("device types: %v", got)
					}
					for _, x := range c.Candidates[:10] {
						if !strings.HasPrefix(x.Text, "virtio-") || x.Insert != x.Text+" " {
							t.Errorf("prefix matches not first: %+v", x)
						}
					}
				}},
			}
			for _, tc := range cases {
				t.Run(tc.line, func(t *testing.T) { tc.check(t, s.Complete(tc.line, len(tc.line), live)) })
			}
			// The cursor in the middle: only the text before it matters.
			line := "query-st foo"
			if c := s.Complete(line, 8, live); len(c.Candidates) == 0 || c.Candidates[0].Text != "query-status" || c.End != 8 {
				t.Errorf("mid-line: %+v", c)
			}
		})
	}
}

func TestHMPHelp(t *testing.T) {
	for _, b := range qemutest.Binaries(t) {
		t.Run(b.String(), func(t *testing.T) {
			g := startGuest(t, b)
			ctx := context.Background()
			var help, info string
			if err := g.client.Execute(ctx, "human-monitor-command", map[string]any{"command-line": "help"}, &help); err != nil {
				t.Fatal(err)
			}
			if err := g.client.Execute(ctx, "human-monitor-command", map[string]any{"command-line": "help info"}, &info); err != nil {
				t.Fatal(err)
			}
			cmds := append(schema.ParseHMPHelp(help, ""), schema.ParseHMPHelp(info, "info ")...)
			byName := map[string]schema.HMPCommand{}
			for _, c := range cmds {
				byName[c.Name] = c
			}
			for _, want := range []string{"info", "cont", "stop", "device_add", "drive_add", "quit", "info status", "info block"} {
				if _, ok := byName[want]; !ok {
					t.Errorf("%s not parsed", want)
				}
			}
			if c := byName["cont"]; !slices.Contains(c.Aliases, "c") {
				t.Errorf("cont aliases %v", c.Aliases)
			}
			if len(cmds) < 100 {
				t.Errorf("only %d commands parsed", len(cmds))
			}
			c := schema.CompleteHMP("info sta", 8, cmds)
			if got := texts(c); len(got) == 0 || got[0] != "status" || c.Start != 5 {
				t.Errorf("info completion: %v [%d,%d)", got, c.Start, c.End)
			}
			c = schema.CompleteHMP("system_r", 8, cmds)
			if got := texts(c); len(got) == 0 || got[0] != "system_reset" {
				t.Errorf("command completion: %v", got)
			}
		})
	}
}

// BenchmarkComplete types commands key by key against the 10.0 schema
// and every device type, timing each keystroke's completion, and reports
// the 99th percentile and its share of the 1 ms budget.
func BenchmarkComplete(b *testing.B) {
	var bin10 qemutest.Binary
	for _, x := range qemutest.Binaries(b) {
		if x.Major() >= 10 {
			bin10 = x
		}
	}
	g := startGuest(b, bin10)
	s, err := (&schema.Loader{NoCache: true}).Load(context.Background(), g.client)
	if err != nil {
		b.Fatal(err)
	}
	live := liveOf(b, bin10, g.client)
	lines := []string{
		"query-status",
		"device_add driver=virtio-net-pci id=nic1 bus=pci.0 mac=52:54:00:12:34:56",
		"blockdev-add driver=qcow2 node-name=disk1 file.driver=file file.filename=/var/lib/disk.qcow2 discard=unmap",
		"chardev-add id=c1 backend.type=socket backend.data.addr.type=unix backend.data.addr.data.path=/run/c1.sock",
		"migrate-set-parameters downtime-limit=300 max-bandwidth=1000000000",
		"x-query-virtio-status path=/machine/peripheral/nic0/virtio-backend",
	}
	var keystrokes []string
	for _, l := range lines {
		for i := 1; i <= len(l); i++ {
			keystrokes = append(keystrokes, l[:i])
		}
	}
	times := make([]time.Duration, 0, b.N*len(keystrokes))
	var cands int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, k := range keystrokes {
			start := time.Now()
			c := s.Complete(k, len(k), live)
			times = append(times, time.Since(start))
			cands += len(c.Candidates)
		}
	}
	b.StopTimer()
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	p := func(q float64) float64 { return float64(times[int(q*float64(len(times)-1))].Microseconds()) }
	b.ReportMetric(p(0.50), "p50-µs")
	b.ReportMetric(p(0.99), "p99-µs")
	b.ReportMetric(p(0.99)/1000, "p99/1ms-budget")
	b.ReportMetric(float64(len(keystrokes)), "keystrokes/op")
	b.ReportMetric(float64(len(live.DeviceTypes)), "device-types")
	if cands == 0 {
		b.Fatal("no candidates at all")
	}
}

// BenchmarkOpenCached opens the schema from the disk cache (query-version
// round trip + read + build) and, as the reference in the same run, live
// (query-version + query-qmp-schema + build). Reports both in ms, the
// ratio, and the cached open's share of the 50 ms budget.
func BenchmarkOpenCached(b *testing.B) {
	for _, bin := range qemutest.Binaries(b) {
		b.Run(bin.String(), func(b *testing.B) {
			g := startGuest(b, bin)
			ctx := context.Background()
			l := &schema.Loader{Dir: b.TempDir()}
			if _, err := l.Load(ctx, g.client); err != nil {
				b.Fatal(err)
			}
			live := &schema.Loader{NoCache: true}
			var cached, fresh time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				s, err := l.Load(ctx, g.client)
				cached += time.Since(start)
				if err != nil || s.Source != schema.FromCache {
					b.Fatalf("cached load: %v %v", s, err)
				}
				start = time.Now()
				if _, err := live.Load(ctx, g.client); err != nil {
					b.Fatal(err)
				}
				fresh += time.Since(start)
			}
			b.StopTimer()
			n := float64(b.N)
			b.ReportMetric(float64(cached.Microseconds())/1000/n, "cached-ms")
			b.ReportMetric(float64(fresh.Microseconds())/1000/n, "live-ms")
			b.ReportMetric(float64(fresh)/float64(cached), "live/cached")
			b.ReportMetric(float64(cached)/n/float64(50*time.Millisecond), "cached/50ms-budget")
			b.ReportMetric(0, "ns/op")
		})
	}
}

package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const synthetic = "QSCOPE_SYNTHETIC_GUESTS=100"

// BenchmarkFirstFrame measures how long the real binary takes, from the
// tmux session's creation until the first full frame with 100 guests is
// on screen. The guests are synthetic (QSCOPE_SYNTHETIC_GUESTS: data only,
// no QEMU). The reference, in the same run, is the same path with
// `qscope --help` (start tmux, the wrapper and qscope, print, read the
// screen back), so the difference is the UI's own start.
func BenchmarkFirstFrame(b *testing.B) {
	var ui, ref time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		tm := start(b, 120, 40, []string{synthetic}, "--connect", "none")
		tm.waitFor(10*time.Second, "100 guests", "synthetic-0 ", "q quit")
		ui += time.Since(t0)
		tm.close()

		t0 = time.Now()
		tm = start(b, 120, 40, nil, "--help")
		tm.waitFor(10*time.Second, "Usage:", "qscope exited with status 0")
		ref += time.Since(t0)
		tm.close()
	}
	n := time.Duration(b.N)
	b.ReportMetric(float64((ui/n).Microseconds())/1000, "ms-to-first-frame")
	b.ReportMetric(float64((ref/n).Microseconds())/1000, "ms-reference")
	b.ReportMetric(float64(ui)/float64(ref), "vs-reference")
	b.ReportMetric(float64(ui/n)/float64(500*time.Millisecond), "of-500ms-budget")
}

// BenchmarkIdle runs the real binary with 100 synthetic guests that all
// change every second and measures, over a 10 s window, the CPU it uses
// (percent of one core) and its memory (RSS and peak RSS). Run it with
// -benchtime 1x.
func BenchmarkIdle(b *testing.B) {
	window := 10 * time.Second
	if v := os.Getenv("QSCOPE_IDLE_WINDOW"); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			window = d
		}
	}
	for i := 0; i < b.N; i++ {
		tm := start(b, 120, 40, []string{synthetic}, "--connect", "none")
		tm.waitFor(10*time.Second, "100 guests", "synthetic-0 ")
		pid := tm.qscopePID()
		c0, at0 := cpuTicks(b, pid)
		time.Sleep(window) // the measurement window itself
		c1, at1 := cpuTicks(b, pid)
		cpu := float64(c1-c0) / 100 / at1.Sub(at0).Seconds() * 100
		rss, hwm := memory(b, pid)
		b.ReportMetric(cpu, "%core")
		b.ReportMetric(cpu/3, "of-3%-budget")
		b.ReportMetric(float64(rss)/(1<<20), "rss-MiB")
		b.ReportMetric(float64(hwm)/(1<<20), "peak-rss-MiB")
		b.ReportMetric(float64(hwm)/(80<<20), "of-80MiB-budget")
		tm.close()
	}
}

// qscopePID is the qscope process: the child of the wrapper in the pane.
func (tm *term) qscopePID() int {
	tm.t.Helper()
	helper := tm.format("#{pane_pid}")
	tasks, _ := filepath.Glob("/proc/" + helper + "/task/*/children")
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, p := range strings.Fields(string(b)) {
			if comm, err := os.ReadFile("/proc/" + p + "/comm"); err == nil && strings.TrimSpace(string(comm)) == "qscope" {
				n, _ := strconv.Atoi(p)
				return n
			}
		}
	}
	tm.t.Fatalf("no qscope process under the wrapper %s", helper)
	return 0
}

func cpuTicks(tb testing.TB, pid int) (uint64, time.Time) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	f := bytes.Fields(b[bytes.LastIndexByte(b, ')')+1:])
	u, _ := strconv.ParseUint(string(f[11]), 10, 64)
	s, _ := strconv.ParseUint(string(f[12]), 10, 64)
	return u + s, now
}

func memory(tb testing.TB, pid int) (rss, hwm uint64) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseUint(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = v << 10
		case "VmHWM:":
			hwm = v << 10
		}
	}
	return rss, hwm
}

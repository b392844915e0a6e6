package discover

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/qscope/qscope/internal/qemutest"
)

const fleetSize = 100

// startFleet starts n small paused QEMUs (-S -machine none -m 16).
func startFleet(b *testing.B, n int) []int {
	b.Helper()
	bin := qemutest.Binaries(b)[0]
	pids := make([]int, 0, n)
	for i := 0; i < n; i++ {
		inst := ready(b, qemutest.Start(b, bin, small(qemutest.Options{Paused: true, Name: "bench-" + time.Now().Format("150405") + "-" + itoa(i)})))
		pids = append(pids, inst.PID)
	}
	return pids
}

func itoa(i int) string { return string(rune('a'+i/26)) + string(rune('a'+i%26)) }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkList100 is one full listing of 100 real guests by a fresh
// Scanner (cold caches: name, uuid and version are asked), and by a warm
// one. Budget: 300 ms per cold listing; ms/list and budget-ratio report it.
func BenchmarkList100(b *testing.B) {
	pids := startFleet(b, fleetSize)
	ctx := context.Background()
	b.Run("cold", func(b *testing.B) {
		var wall time.Duration
		for b.Loop() {
			s, _ := scannerFor("", pids...)
			start := time.Now()
			gs, err := s.List(ctx)
			wall += time.Since(start)
			if err != nil || len(gs) != fleetSize {
				b.Fatalf("listed %d guests: %v", len(gs), err)
			}
			for _, g := range gs {
				if g.State != "prelaunch" && g.State != StatePaused {
					b.Fatalf("guest %s is %s (%s)", g.Name, g.State, g.Reason)
				}
			}
		}
		ms := float64(wall.Microseconds()) / 1000 / float64(b.N)
		b.ReportMetric(ms, "ms/list")
		b.ReportMetric(ms/300, "budget-ratio")
	})
	b.Run("warm", func(b *testing.B) {
		s, _ := scannerFor("", pids...)
		if _, err := s.List(ctx); err != nil {
			b.Fatal(err)
		}
		var wall time.Duration
		for b.Loop() {
			start := time.Now()
			gs, err := s.List(ctx)
			wall += time.Since(start)
			if err != nil || len(gs) != fleetSize {
				b.Fatalf("listed %d guests: %v", len(gs), err)
			}
		}
		ms := float64(wall.Microseconds()) / 1000 / float64(b.N)
		b.ReportMetric(ms, "ms/list")
		b.ReportMetric(ms/300, "budget-ratio")
	})
}

// BenchmarkWatch100 runs a one-second watch over 100 real guests for ten
// ticks and reports the CPU time this process used per wall second
// ("%core"; budget 5) and its ratio to the budget.
func BenchmarkWatch100(b *testing.B) {
	pids := startFleet(b, fleetSize)
	const ticks = 10
	for b.Loop() {
		s, _ := scannerFor("", pids...)
		ctx, cancel := context.WithCancel(context.Background())
		n := 0
		cpu0, wall0 := cpuTime(), time.Now()
		for _, err := range s.Watch(ctx, time.Second) {
			if err != nil {
				b.Fatal(err)
			}
			n++
			if n == 1 {
				// Measure the steady state, not the first (cold) scan.
				cpu0, wall0 = cpuTime(), time.Now()
				time.AfterFunc(ticks*time.Second, cancel)
			}
		}
		cancel()
		cpu, wall := cpuTime()-cpu0, time.Since(wall0)
		pct := 100 * cpu.Seconds() / wall.Seconds()
		b.ReportMetric(pct, "%core")
		b.ReportMetric(pct/5, "budget-ratio")
	}
}

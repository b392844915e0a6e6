package model

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/qscope/qscope/discover"
)

// ScannerSource watches the host with a discover.Scanner, rescanning
// every Interval.
type ScannerSource struct {
	Scanner  *discover.Scanner
	Interval time.Duration
}

// Watch starts a goroutine that runs the scanner's watch loop until ctx
// ends.
func (s ScannerSource) Watch(ctx context.Context) (<-chan Batch, error) {
	if s.Scanner == nil {
		return nil, fmt.Errorf("watching guests: no scanner")
	}
	ch := make(chan Batch, 4)
	go func() {
		defer close(ch)
		for changes, err := range s.Scanner.Watch(ctx, s.Interval) {
			select {
			case ch <- Batch{Changes: changes, Err: err}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}

// SyntheticSource makes up N guests and changes their CPU% and memory at
// every Interval. It feeds benchmarks and load measurements of the UI
// with data only: its guests have no monitor behind them.
type SyntheticSource struct {
	N        int
	Interval time.Duration
	// Start is the guests' start time; zero means an hour before now.
	Start time.Time
}

// Guests returns the synthetic guests of scan number round.
func (s SyntheticSource) Guests(round int) []discover.Guest {
	start := s.Start
	if start.IsZero() {
		start = time.Now().Add(-time.Hour)
	}
	states := []discover.State{discover.StateRunning, discover.StateRunning, discover.StateRunning, discover.StatePaused, discover.StateBusy, discover.StateStopped}
	owners := []discover.Owner{discover.OwnerProcess, discover.OwnerLibvirt, discover.OwnerProcess}
	gs := make([]discover.Guest, s.N)
	for i := range gs {
		st := states[i%len(states)]
		g := discover.Guest{
			Name:       "synthetic-" + strconv.Itoa(i),
			PID:        100000 + i,
			StartTicks: uint64(1000 + i),
			State:      st,
			Owner:      owners[i%len(owners)],
			Monitor:    "/run/synthetic/" + strconv.Itoa(i) + ".qmp",
			Version:    "10.0.2",
			Started:    start.Add(time.Duration(i) * time.Minute),
			CPUPercent: float64((i*7+round*13)%400) / 4,
			RSS:        uint64(64+(i*37+round)%512) << 20,
			VCPUs:      1 + i%4,
			Threads:    4 + i%4,
		}
		switch st {
		case discover.StateBusy:
			g.Reason = "monitor held by another client"
		case discover.StateStopped:
			g.Reason = "process is stopped (SIGSTOP)"
		}
		gs[i] = g
	}
	return gs
}

// Watch sends all guests as added, then updates each Interval.
func (s SyntheticSource) Watch(ctx context.Context) (<-chan Batch, error) {
	iv := s.Interval
	if iv <= 0 {
		iv = time.Second
	}
	ch := make(chan Batch, 1)
	go func() {
		defer close(ch)
		var prev []discover.Guest
		t := time.NewTicker(iv)
		defer t.Stop()
		for round := 0; ; round++ {
			next := s.Guests(round)
			b := Batch{Changes: discover.Diff(prev, next)}
			prev = next
			select {
			case ch <- b:
			case <-ctx.Done():
				return
			}
			select {
			case <-t.C:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}

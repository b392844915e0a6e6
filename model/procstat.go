package model

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc's CPU times; it is 100 on
// every Linux architecture qscope runs on.
const clockTicks = 100

// procSample is the CPU time of some threads at one moment.
type procSample struct {
	at    time.Time
	ticks map[int]uint64 // thread id → utime+stime
	err   error
}

// readThreadTicks reads /proc/PID/task/TID/stat for each thread. It runs
// inside a tea.Cmd.
func readThreadTicks(procRoot string, pid int, tids []int, now time.Time) procSample {
	s := procSample{at: now, ticks: make(map[int]uint64, len(tids))}
	for _, tid := range tids {
		b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "task", strconv.Itoa(tid), "stat"))
		if err != nil {
			s.err = fmt.Errorf("reading thread %d of process %d: %w", tid, pid, err)
			continue
		}
		t, err := parseStatTicks(b)
		if err != nil {
			s.err = fmt.Errorf("parsing thread %d of process %d: %w", tid, pid, err)
			continue
		}
		s.ticks[tid] = t
	}
	return s
}

// parseStatTicks returns utime+stime (fields 14 and 15) of a stat line.
// The command name (field 2) may hold spaces and parentheses, so fields
// are counted after its last ')'.
func parseStatTicks(b []byte) (uint64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("no command name in stat")
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state): utime is field 14 → f[11], stime f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("stat has %d fields after the name, want at least 13", len(f))
	}
	u, err := strconv.ParseUint(string(f[11]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("utime: %w", err)
	}
	st, err := strconv.ParseUint(string(f[12]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stime: %w", err)
	}
	return u + st, nil
}

// threadPercent is the CPU% of thread tid between two samples, -1 when
// unknown.
func threadPercent(prev, cur procSample, tid int) float64 {
	if prev.ticks == nil || cur.ticks == nil {
		return -1
	}
	a, ok1 := prev.ticks[tid]
	b, ok2 := cur.ticks[tid]
	dt := cur.at.Sub(prev.at).Seconds()
	if !ok1 || !ok2 || dt <= 0 || b < a {
		return -1
	}
	return float64(b-a) / clockTicks / dt * 100
}

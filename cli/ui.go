package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/term"

	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/journal"
	"github.com/qscope/qscope/model"
	"github.com/qscope/qscope/qmp"
	"github.com/qscope/qscope/ui"
	"golang.org/x/sys/unix"
)

func init() { rootRun = runRoot }

// startDemo, when set (by the demo command's file), lets the UI offer to
// start the demo guests when the host has none. stop ends them.
var startDemo func(ctx context.Context) (stop func(), err error)

// syntheticEnv names a benchmark-only variable: QSCOPE_SYNTHETIC_GUESTS=N
// replaces discovery with N made-up guests that change every interval
// (data only, no monitors), to measure the UI's own cost under load.
const syntheticEnv = "QSCOPE_SYNTHETIC_GUESTS"

// runRoot is the default command: the terminal UI, or the guest list when
// standard output is not a terminal or TERM=dumb.
func runRoot(ctx context.Context, o *Options) error {
	if !isTerminal(o.Stdout) || os.Getenv("TERM") == "dumb" {
		return printList(ctx, o, o.Stdout, false)
	}
	return runUI(ctx, o)
}

func isTerminal(w any) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(f.Fd())
}

// runUI runs the terminal UI until the user quits or ctx ends. The
// monitor held for an open guest is released before it returns.
func runUI(ctx context.Context, o *Options) error {
	// Discovery and every command of the model end with the UI.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cfg := model.Config{
		Context:  ctx,
		ReadOnly: o.ReadOnly,
		Interval: o.Interval,
		NoColor:  ui.NoColorSet(os.Getenv),
	}
	scanner := newScanner(o)
	defer scanner.Close()
	cfg.Source = model.ScannerSource{Scanner: scanner, Interval: o.Interval}
	if v := os.Getenv(syntheticEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 100000 {
			return fmt.Errorf("%s=%q: want a number of guests from 0 to 100000", syntheticEnv, v)
		}
		cfg.Source = model.SyntheticSource{N: n, Interval: o.Interval}
	}

	j, jerr := journal.OpenDefault()
	if jerr != nil {
		// Without a journal nothing that changes a guest may run.
		cfg.ReadOnly = true
		cfg.Notice = "read-only: the journal cannot be opened (" + jerr.Error() + ")"
	} else {
		defer j.Close()
	}
	conn := newConnector(o, scanner)
	cfg.Connect = func(ctx context.Context, g discover.Guest) (qmp.Monitor, error) {
		mon, err := conn.ConnectGuest(ctx, g)
		if err != nil {
			return nil, err
		}
		if j == nil {
			return mon, nil
		}
		return journal.Wrap(mon, j, journal.SessionFor(g, "tui")), nil
	}
	if j != nil {
		cfg.Kill = func(ctx context.Context, g discover.Guest) error { return killGuest(ctx, j, g) }
		cfg.Force = libvirtForceHook(o, j)
	}
	cfg.StartDemo = startDemo

	m := model.New(cfg)
	defer m.Close()
	opts := []tea.ProgramOption{tea.WithContext(ctx), tea.WithOutput(o.Stdout), tea.WithFPS(uiFPS)}
	if o.Stdin != nil && o.Stdin != os.Stdin {
		opts = append(opts, tea.WithInput(o.Stdin))
	}
	p := tea.NewProgram(m, opts...)
	_, err := p.Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil
	}
	return err
}

// killGuest sends SIGKILL to a plain QEMU process, after checking that
// the pid still belongs to the same process (its start time), and
// journals it. Libvirt's guests are refused: libvirt drives them.
func killGuest(ctx context.Context, j *journal.Journal, g discover.Guest) error {
	if g.Owner == discover.OwnerLibvirt {
		return fmt.Errorf("killing %s: libvirt's guests are stopped through libvirt", g.Name)
	}
	if g.PID <= 1 {
		return fmt.Errorf("killing %s: no process id", g.Name)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("killing %s: %w", g.Name, err)
	}
	// A pidfd names this process and no later one: check its start time
	// after taking it, then signal through it, so a pid reused in
	// between is never killed.
	pfd, err := unix.PidfdOpen(g.PID, 0)
	if err != nil {
		return fmt.Errorf("killing %s: process %d: %w", g.Name, g.PID, err)
	}
	defer unix.Close(pfd)
	b, err := os.ReadFile("/proc/" + strconv.Itoa(g.PID) + "/stat")
	if err != nil {
		return fmt.Errorf("killing %s: process %d: %w", g.Name, g.PID, err)
	}
	if st, ok := startTicks(b); !ok || st != g.StartTicks {
		return fmt.Errorf("killing %s: process %d is no longer the same process", g.Name, g.PID)
	}
	start := time.Now()
	kerr := unix.PidfdSendSignal(pfd, unix.SIGKILL, nil, 0)
	rec := journal.Record{
		Guest: journal.TargetOf(g), Route: "signal", Class: "destructive", Command: "SIGKILL",
		DurationMS: float64(time.Since(start).Microseconds()) / 1000, Client: "tui",
	}
	if kerr != nil {
		rec.Error = &journal.ErrorInfo{Class: "ClientError", Desc: kerr.Error()}
	}
	if err := j.Append(rec); err != nil && kerr == nil {
		return fmt.Errorf("killed %s but could not journal it: %w", g.Name, err)
	}
	if kerr != nil {
		return fmt.Errorf("killing %s (pid %d): %w", g.Name, g.PID, kerr)
	}
	return nil
}

// startTicks reads field 22 (starttime) of a /proc/PID/stat line.
func startTicks(b []byte) (uint64, bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 20 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(f[19]), 10, 64)
	return v, err == nil
}

// uiFPS caps how often the screen is flushed. A frame that did not change
// is never written, but each flush still wakes the program: 30 a second
// keeps typing smooth and halves the idle wake-ups of the default 60.
const uiFPS = 30

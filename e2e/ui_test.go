package e2e

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/qscope/qscope/internal/qemutest"
	"github.com/qscope/qscope/qmp"
)

const wait = 15 * time.Second

// guest starts a QEMU guest named name+pid with the given monitors.
func guest(t *testing.T, name string, monitors ...qemutest.MonitorStyle) (*qemutest.Instance, string) {
	t.Helper()
	bins := qemutest.Binaries(t)
	full := name + "-" + strconv.Itoa(os.Getpid())
	if len(monitors) == 0 {
		monitors = []qemutest.MonitorStyle{qemutest.MonitorQMPUnix}
	}
	return qemutest.Start(t, bins[len(bins)-1], qemutest.Options{Name: full, Monitors: monitors}), full
}

func TestListFilterAndDetails(t *testing.T) {
	needBinary(t)
	_, alpha := guest(t, "e2e-alpha")
	_, bravo := guest(t, "e2e-bravo")
	tm := start(t, 120, 40, nil, "--connect", "none")
	tm.waitFor(wait, alpha, bravo, "guests")

	tm.keys("/")
	tm.text("e2e-bravo")
	tm.keys("Enter")
	tm.waitUntil(wait, "the filter to hide alpha", func(s string) bool {
		return strings.Contains(s, bravo) && !strings.Contains(s, alpha) && strings.Contains(s, "filter: e2e-bravo")
	})

	tm.keys("Enter")
	s := tm.waitFor(wait, "[Details]", "run state", "accelerator", "holding "+bravo+"'s monitor")
	if !strings.Contains(lineWith(s, "run state"), "running") {
		t.Errorf("run state line: %q", lineWith(s, "run state"))
	}
	tm.keys("Escape")
	tm.waitFor(wait, "released "+bravo+"'s monitor", "[Guests]")
}

func TestEventsFromAnotherMonitor(t *testing.T) {
	needBinary(t)
	inst, name := guest(t, "e2e-events", qemutest.MonitorQMPUnix, qemutest.MonitorQMPUnix)
	tm := start(t, 120, 40, nil, "--connect", "none")
	tm.waitFor(wait, name)
	tm.keys("/")
	tm.text(name)
	tm.keys("Enter", "e")
	tm.waitFor(wait, "[Events]", "streaming", "holding "+name+"'s monitor")

	// Use whichever monitor qscope does not hold.
	var other qmp.Monitor
	deadline := time.Now().Add(wait)
	for other == nil {
		for _, m := range inst.Monitors {
			ctx, cancel := contextTimeout(t, 500*time.Millisecond)
			c, err := qmp.Dial(ctx, m.Network, m.Address)
			cancel()
			if err == nil {
				other = c
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no free monitor for the test's own client")
		}
	}
	defer other.Close()
	for _, c := range []string{"stop", "cont"} {
		if err := other.Execute(t.Context(), c, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	s := tm.waitFor(wait, "STOP", "RESUME")
	if strings.Index(s, "STOP") > strings.Index(s, "RESUME") {
		t.Errorf("STOP listed after RESUME:\n%s", s)
	}
	// The full JSON of the selected (newest) event.
	tm.keys("Enter")
	tm.waitFor(wait, `"event": "RESUME"`, `"timestamp"`)
	tm.keys("Escape")
	tm.waitUntil(wait, "the pop-up to close", func(s string) bool { return !strings.Contains(s, `"event": "RESUME"`) })
}

func TestStoppedGuestDoesNotFreezeTheUI(t *testing.T) {
	needBinary(t)
	inst, name := guest(t, "e2e-sigstop")
	tm := start(t, 120, 40, nil, "--connect", "none")
	tm.waitFor(wait, name)
	if err := inst.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer inst.Signal(syscall.SIGCONT)
	tm.waitUntil(wait, "the guest to show as stopped", func(s string) bool {
		return strings.Contains(lineWith(s, name), "stopped")
	})
	tm.keys("/")
	tm.text(name)
	tm.keys("Enter", "Enter")
	s := tm.waitFor(wait, "[Details]", "stopped: the QEMU process is stopped")
	if !strings.Contains(lineWith(s, "reason:"), "SIGSTOP") {
		t.Errorf("stopped guest without its reason: %q", lineWith(s, "reason:"))
	}
	// Keys keep working while the monitor cannot answer.
	start := time.Now()
	tm.keys("e")
	tm.waitFor(2*time.Second, "[Events]")
	tm.keys("d")
	tm.waitFor(2*time.Second, "[Details]")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("switching panes took %v", d)
	}
	tm.keys("Escape")
	tm.waitFor(wait, "[Guests]")
}

// A guest stopped while qscope holds its monitor: the refresh it asks for
// cannot be answered, and still every key works at once, the sections say
// that QEMU did not answer, esc releases the monitor without waiting, and
// after SIGCONT the guest opens again.
func TestStoppedWhileOpen(t *testing.T) {
	needBinary(t)
	inst, name := guest(t, "e2e-stopopen")
	tm := start(t, 80, 24, nil, "--connect", "none")
	tm.waitFor(wait, name)
	tm.keys("/")
	tm.text(name)
	tm.keys("Enter", "Enter")
	tm.waitFor(wait, "[Details]", "run state", "holding "+name+"'s monitor")
	if err := inst.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			inst.Signal(syscall.SIGCONT)
		}
	}()
	tm.keys("r") // every section asks QEMU again; none can be answered
	start := time.Now()
	for _, step := range []struct{ key, want string }{{"e", "[Events]"}, {"d", "[Details]"}, {"e", "[Events]"}, {"d", "[Details]"}} {
		tm.keys(step.key)
		tm.waitFor(2*time.Second, step.want)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("switching panes while the guest is stopped took %v", d)
	}
	tm.waitFor(wait, "no answer within")
	start = time.Now()
	tm.keys("Escape")
	tm.waitFor(2*time.Second, "[Guests]", "released "+name+"'s monitor")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("esc took %v with calls hanging", d)
	}
	if err := inst.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stopped = false
	tm.waitUntil(wait, "the guest to run again", func(s string) bool {
		return strings.Contains(lineWith(s, name), "running")
	})
	tm.keys("Enter")
	s := tm.waitFor(wait, "[Details]", "run state", "holding "+name+"'s monitor")
	if !strings.Contains(lineWith(s, "run state"), "running") {
		t.Errorf("after SIGCONT, run state line: %q", lineWith(s, "run state"))
	}
}

// While qscope holds a guest's only monitor, the list goes on showing the
// guest's state: discovery probes through qscope's own connection instead
// of finding the monitor busy. On a TCP monitor a probe of its own read
// "no-monitor" and "unresponsive" in turn.
func TestStateWhileHeld(t *testing.T) {
	needBinary(t)
	_, name := guest(t, "e2e-held", qemutest.MonitorQMPTCP)
	tm := start(t, 120, 40, nil, "--connect", "none", "--interval", "200ms")
	tm.waitFor(wait, name)
	tm.keys("/")
	tm.text(name)
	tm.keys("Enter", "e")
	tm.waitFor(wait, "[Events]", "streaming")
	// Ten scans or so: each one probes the guest.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); <-tick.C {
		screen := tm.capture()
		var row string
		for l := range strings.Lines(screen) {
			if strings.HasPrefix(l, name) {
				row = l
			}
		}
		if !strings.Contains(row, "running") {
			t.Fatalf("while qscope holds the monitor the guest's row reads %q in:\n%s", row, screen)
		}
	}
}

func TestGuestKilledWhileOpen(t *testing.T) {
	needBinary(t)
	inst, name := guest(t, "e2e-killed")
	tm := start(t, 80, 24, nil, "--connect", "none")
	tm.waitFor(wait, name)
	tm.keys("/")
	tm.text(name)
	tm.keys("Enter", "e")
	tm.waitFor(wait, "streaming")
	if err := inst.Kill(); err != nil {
		t.Fatal(err)
	}
	tm.waitFor(wait, "monitor closed: guest exited")
	tm.keys("d")
	tm.waitFor(wait, "[Details]", "monitor closed: guest exited")
	tm.keys("Escape")
	tm.waitFor(wait, "[Guests]")
}

func TestResize(t *testing.T) {
	needBinary(t)
	_, name := guest(t, "e2e-resize")
	tm := start(t, 80, 24, nil, "--connect", "none")
	tm.waitFor(wait, name)
	if s := tm.capture(); strings.Contains(s, "│") {
		t.Errorf("80 columns should show one pane, got a split:\n%s", s)
	}
	tm.tmux("resize-window", "-t", "e2e", "-x", "140", "-y", "40")
	s := tm.waitUntil(wait, "the split at 140 columns", func(s string) bool {
		return strings.Contains(lineWith(s, name), "│")
	})
	if n := len(strings.Split(strings.TrimRight(s, "\n"), "\n")); n < 38 {
		t.Errorf("after resizing to 40 lines the screen has %d lines", n)
	}
	tm.tmux("resize-window", "-t", "e2e", "-x", "80", "-y", "24")
	tm.waitUntil(wait, "one pane again at 80 columns", func(s string) bool {
		return strings.Contains(s, name) && !strings.Contains(s, "│")
	})
}

func TestQuitRestoresTheTerminal(t *testing.T) {
	needBinary(t)
	tm := start(t, 100, 30, nil, "--connect", "none")
	tm.waitFor(wait, "[Guests]", "q quit")
	if got := tm.format("#{alternate_on}"); got != "1" {
		t.Errorf("alternate screen while running: %q", got)
	}
	tm.keys("q")
	s := tm.waitFor(wait, "qscope exited with status 0")
	if !strings.Contains(s, Marker) {
		t.Errorf("the content before the UI is not visible after it:\n%s", s)
	}
	if strings.Contains(s, "[Guests]") {
		t.Errorf("the UI is still on the screen after quitting:\n%s", s)
	}
	if got := tm.format("#{alternate_on}"); got != "0" {
		t.Errorf("alternate screen after quitting: %q", got)
	}
	if got := tm.format("#{cursor_flag}"); got != "1" {
		t.Errorf("cursor hidden after quitting: %q", got)
	}
}

func TestNotATerminalPrintsTheList(t *testing.T) {
	needBinary(t)
	_, name := guest(t, "e2e-plain")
	for _, tc := range []struct {
		name string
		env  []string
	}{{"pipe", nil}, {"dumb", []string{"TERM=dumb"}}} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, "--connect", "none")
			cmd.Env = env(tc.env...)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("qscope: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), name) || !strings.Contains(string(out), "NAME") {
				t.Errorf("output lacks the guest list:\n%s", out)
			}
			if strings.Contains(string(out), "\x1b[") {
				t.Errorf("escape sequences in the printed list:\n%q", out)
			}
		})
	}
	t.Run("dumb-tty", func(t *testing.T) {
		tm := start(t, 100, 30, []string{termEnv + "=dumb"}, "--connect", "none")
		s := tm.waitFor(wait, "qscope exited with status 0", name)
		if strings.Contains(s, "[Guests]") {
			t.Errorf("TERM=dumb started the UI:\n%s", s)
		}
	})
}

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// bin is the qscope binary built for the tests; buildErr says why there
// is none.
var (
	bin      string
	buildErr error
	homeDir  string
)

// helperEnv makes the test binary act as a wrapper around qscope inside
// tmux: it prints a marker, runs qscope with its terminal, then prints
// qscope's exit status and waits, so the test can read what the terminal
// looks like after qscope left.
const helperEnv = "QSCOPE_E2E_HELPER"

// Marker is printed before qscope starts; it must be visible again after
// qscope exits (the alternate screen was left).
const Marker = "qscope-e2e: before the UI"

// termEnv, set for the helper, is the TERM qscope gets.
const termEnv = "QSCOPE_E2E_TERM"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helper())
	}
	code := run(m)
	os.Exit(code)
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "qscope-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	homeDir = filepath.Join(dir, "home")
	for _, d := range []string{homeDir, filepath.Join(homeDir, "state"), filepath.Join(homeDir, "config"), filepath.Join(homeDir, "cache"), filepath.Join(homeDir, "data")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	bin = filepath.Join(dir, "qscope")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/qscope/qscope")
	if out, err := cmd.CombinedOutput(); err != nil {
		buildErr = fmt.Errorf("building qscope: %v\n%s", err, out)
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			return 1
		}
	}
	return code
}

// helper runs inside tmux: marker, qscope, exit status, then waits to be
// killed with the tmux server.
func helper() int {
	fmt.Println(Marker)
	args := strings.Split(os.Getenv(helperEnv), "\x1f")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if v := os.Getenv(termEnv); v != "" {
		// tmux sets TERM for the pane; this one is for qscope.
		cmd.Env = append(os.Environ(), "TERM="+v)
	}
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
		fmt.Println("qscope-e2e: run error:", err)
	}
	fmt.Printf("qscope-e2e: qscope exited with status %d\n", code)
	time.Sleep(10 * time.Minute)
	return 0
}

// env is the environment qscope runs with in the tests.
func env(extra ...string) []string {
	e := []string{
		"HOME=" + homeDir,
		"XDG_STATE_HOME=" + filepath.Join(homeDir, "state"),
		"XDG_CONFIG_HOME=" + filepath.Join(homeDir, "config"),
		"XDG_CACHE_HOME=" + filepath.Join(homeDir, "cache"),
		"XDG_DATA_HOME=" + filepath.Join(homeDir, "data"),
		"PATH=" + os.Getenv("PATH"),
		"TERM=xterm-256color",
	}
	return append(e, extra...)
}

func needBinary(t testing.TB) {
	t.Helper()
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("QSCOPE_REQUIRE_QEMU") == "1" {
			t.Fatal("tmux is not installed")
		}
		t.Skip("tmux is not installed")
	}
}

// term is one tmux server running qscope in one window.
type term struct {
	t      testing.TB
	socket string
}

var sessions int

// start runs qscope (through the helper) in a new tmux server of w×h.
func start(t testing.TB, w, h int, extraEnv []string, args ...string) *term {
	t.Helper()
	needBinary(t)
	sessions++
	tm := &term{t: t, socket: "qscope-e2e-" + strconv.Itoa(os.Getpid()) + "-" + strconv.Itoa(sessions)}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	argv := append([]string{bin}, args...)
	tmuxArgs := []string{"-L", tm.socket, "-f", "/dev/null", "new-session", "-d", "-x", strconv.Itoa(w), "-y", strconv.Itoa(h), "-s", "e2e"}
	for _, e := range append(env(extraEnv...), helperEnv+"="+strings.Join(argv, "\x1f")) {
		tmuxArgs = append(tmuxArgs, "-e", e)
	}
	tmuxArgs = append(tmuxArgs, self, "-test.run=^$")
	cmd := exec.Command("tmux", tmuxArgs...)
	cmd.Env = env()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last screen:\n%s", tm.capture())
		}
		tm.close()
	})
	tm.tmux("set-option", "-g", "window-size", "manual")
	return tm
}

func (tm *term) tmux(args ...string) string {
	tm.t.Helper()
	cmd := exec.Command("tmux", append([]string{"-L", tm.socket}, args...)...)
	cmd.Env = env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (tm *term) capture() string {
	cmd := exec.Command("tmux", "-L", tm.socket, "capture-pane", "-p", "-t", "e2e")
	cmd.Env = env()
	out, _ := cmd.CombinedOutput()
	return string(out)
}

// keys sends keys by tmux name ("Enter", "Escape", "j", "/").
func (tm *term) keys(keys ...string) {
	tm.t.Helper()
	tm.tmux(append([]string{"send-keys", "-t", "e2e"}, keys...)...)
}

// text types literal text.
func (tm *term) text(s string) {
	tm.t.Helper()
	tm.tmux("send-keys", "-t", "e2e", "-l", s)
}

// waitFor polls the screen until every string is on it.
func (tm *term) waitFor(timeout time.Duration, want ...string) string {
	tm.t.Helper()
	return tm.waitUntil(timeout, strings.Join(want, ", "), func(s string) bool {
		for _, w := range want {
			if !strings.Contains(s, w) {
				return false
			}
		}
		return true
	})
}

func (tm *term) waitUntil(timeout time.Duration, what string, ok func(string) bool) string {
	tm.t.Helper()
	deadline := time.Now().Add(timeout)
	var s string
	for {
		s = tm.capture()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("timed out after %v waiting for %s; screen:\n%s", timeout, what, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (tm *term) format(f string) string {
	tm.t.Helper()
	return strings.TrimSpace(tm.tmux("display-message", "-p", "-t", "e2e", f))
}

// lineWith returns the first screen line holding s.
func lineWith(screen, s string) string {
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

func contextTimeout(t *testing.T, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.Context(), d)
}

// close kills the tmux server (and so qscope and its wrapper).
func (tm *term) close() {
	cmd := exec.Command("tmux", "-L", tm.socket, "kill-server")
	cmd.Env = env()
	_ = cmd.Run()
	// kill-server leaves the socket file behind.
	dir := os.Getenv("TMUX_TMPDIR")
	if dir == "" {
		dir = "/tmp"
	}
	_ = os.Remove(filepath.Join(dir, "tmux-"+strconv.Itoa(os.Getuid()), tm.socket))
}

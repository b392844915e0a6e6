package console_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qscope/qscope/internal/qemutest"
)

// TestTmuxEndToEnd runs the real qscope UI in tmux against a real QEMU:
// open the guest's console with c, type query-st, Tab completes it to
// query-status, Enter shows QEMU's status; device_add driver=virtio- lists
// the virtio device types; an invalid argument is refused with a message
// and QEMU never receives it (its own trace of requests says so).
func TestTmuxEndToEnd(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		if qemutest.Required() {
			t.Fatal("tmux not found")
		}
		t.Skip("tmux not found")
	}
	var b72 qemutest.Binary
	for _, b := range qemutest.Binaries(t) {
		if b.Major() < 10 {
			b72 = b
		}
	}
	name := fmt.Sprintf("qsce2e%d", os.Getpid())
	dir := t.TempDir()
	// QEMU's own trace of every request its monitors receive: the proof
	// that a refused command never reached it.
	trace := filepath.Join(dir, "qmp-requests.log")
	qemutest.Start(t, b72, qemutest.Options{Name: "guest=" + name, Paused: true,
		Monitors: []qemutest.MonitorStyle{qemutest.MonitorQMPUnix},
		Args:     []string{"-trace", "enable=handle_qmp_command,file=" + trace}})

	bin := filepath.Join(dir, "qscope")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/qscope/qscope")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building qscope: %v\n%s", err, out)
	}
	// A private tmux server (its socket in the test's folder) and a home of
	// its own, so neither the user's tmux nor their history is touched.
	sock := filepath.Join(dir, "tmux.sock")
	home := filepath.Join(dir, "home")
	tm := func(args ...string) *exec.Cmd {
		return exec.Command(tmux, append([]string{"-S", sock, "-f", "/dev/null"}, args...)...)
	}
	session := name
	start := tm("new-session", "-d", "-s", session, "-x", "120", "-y", "32",
		"-e", "HOME="+home,
		"-e", "XDG_CONFIG_HOME="+filepath.Join(home, "config"),
		"-e", "XDG_DATA_HOME="+filepath.Join(home, "data"),
		"-e", "XDG_CACHE_HOME="+filepath.Join(home, "cache"),
		"-e", "XDG_STATE_HOME="+filepath.Join(home, "state"),
		"-e", "TERM=xterm-256color",
		bin, "--connect", "none")
	if out, err := start.CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() { tm("kill-server").Run(); os.Remove(sock) })

	screen := func() string {
		out, _ := tm("capture-pane", "-p", "-t", session).Output()
		return string(out)
	}
	waitFor := func(what string, ok func(string) bool) string {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			s := screen()
			if ok(s) {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s; screen:\n%s", what, s)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	keys := func(k ...string) {
		t.Helper()
		if out, err := tm(append([]string{"send-keys", "-t", session}, k...)...).CombinedOutput(); err != nil {
			t.Fatalf("send-keys: %v %s", err, out)
		}
	}
	text := func(s string) { t.Helper(); keys("-l", s) }
	contains := func(s string) func(string) bool { return func(x string) bool { return strings.Contains(x, s) } }

	waitFor("the guest in the list", contains(name))
	keys("/")
	text(name)
	keys("Enter")
	keys("c")
	waitFor("the schema", contains("216 commands"))

	text("query-st")
	waitFor("the completion pop-up", contains("▸ query-status"))
	keys("Tab")
	waitFor("query-status completed", contains("qmp> query-status"))
	keys("Enter")
	s := waitFor("the reply", contains(`"status": "prelaunch"`))
	if !strings.Contains(s, "→ query-status") {
		t.Errorf("no request line:\n%s", s)
	}

	text("device_add driver=virtio-")
	s = waitFor("device types", contains("virtio-blk-pci"))
	if !strings.Contains(s, "device type") || !strings.Contains(s, "of ") {
		t.Errorf("device types pop-up:\n%s", s)
	}
	keys("C-u")
	text("query-status foo=1")
	keys("Enter")
	s = waitFor("the refusal", contains(`query-status: unknown argument "foo"`))
	if strings.Contains(s, "GenericError") || strings.Count(s, "→ query-status") != 1 {
		t.Errorf("the invalid command reached QEMU:\n%s", s)
	}

	// QEMU's trace: query-status arrived (so the trace works); the
	// refused request and the device_add that was never entered did not.
	// A valid command after the refusal makes sure anything sent before
	// it has been traced (one monitor runs requests in order).
	keys("C-u")
	text("query-name")
	keys("Enter")
	waitFor("the query-name reply", contains("→ query-name"))
	raw, err := os.ReadFile(trace)
	if err != nil {
		t.Fatalf("reading QEMU's trace: %v", err)
	}
	got := string(raw)
	if !strings.Contains(got, `"query-status"`) || !strings.Contains(got, `"query-name"`) {
		t.Fatalf("QEMU's trace should hold query-status and query-name:\n%s", got)
	}
	for _, never := range []string{`"foo"`, `"device_add"`} {
		if strings.Contains(got, never) {
			t.Errorf("QEMU received a request with %q:\n%s", never, got)
		}
	}
}

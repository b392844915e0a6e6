package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qscope/qscope/internal/qemutest"
	"github.com/qscope/qscope/qmp"
)

// `qscope demo --no-ui` starts the three guests, says where they are,
// and stops them all when its context ends.
func TestDemoCommandNoUI(t *testing.T) {
	b := qemutest.Binaries(t)[0]
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"demo", "--no-ui", "--connect", "none", "--dir", dir, "--qemu", b.Path}, strings.NewReader(""), &out, &out)
	}()

	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), "Ctrl-C stops them.") {
		select {
		case code := <-done:
			t.Fatalf("demo exited early with %d:\n%s", code, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo did not report its guests:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	pids := map[string]int{}
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && strings.HasPrefix(f[0], "demo-") {
			pid, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatalf("bad pid in %q", line)
			}
			pids[f[0]] = pid
		}
	}
	if len(pids) != 3 || !strings.Contains(out.String(), "tcp:127.0.0.1:") || !strings.Contains(out.String(), "(pretty)") {
		t.Fatalf("want three guests with their monitors, got:\n%s", out.String())
	}
	for name, pid := range pids {
		if !demoRunsAs(pid, name) {
			t.Errorf("pid %d is not guest %s", pid, name)
		}
	}
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	c, err := qmp.Dial(dctx, "unix", filepath.Join(dir, "demo-web.qmp"))
	if err != nil {
		dcancel()
		t.Fatal(err)
	}
	var name struct {
		Name string `json:"name"`
	}
	err = c.Execute(dctx, "query-name", nil, &name)
	c.Close()
	dcancel()
	if err != nil || name.Name != "demo-web" {
		t.Fatalf("query-name on demo-web.qmp: %q, %v", name.Name, err)
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("demo exited with %d:\n%s", code, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not return after its context ended")
	}
	for name, pid := range pids {
		if demoRunsAs(pid, name) {
			t.Errorf("guest %s (pid %d) still runs after the command returned", name, pid)
		}
	}
	if socks, _ := filepath.Glob(filepath.Join(dir, "*.qmp")); len(socks) > 0 {
		t.Errorf("sockets left behind: %v", socks)
	}
}

// demoRunsAs reports whether pid is a QEMU started with -name guest=NAME.
func demoRunsAs(pid int, name string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return err == nil && bytes.Contains(b, []byte("guest="+name+","))
}

// The UI's "start the demo guests" hook starts the default set in the
// default directory, and its stop function ends them.
func TestDemoHookForTheUI(t *testing.T) {
	b := qemutest.Binaries(t)[0]
	if startDemo == nil {
		t.Fatal("the demo command does not give the UI its start hook")
	}
	run := t.TempDir()
	os.Chmod(run, 0o700) // a runtime directory is private, or the demo goes elsewhere
	t.Setenv("XDG_RUNTIME_DIR", run)
	t.Setenv("QSCOPE_QEMU", b.Path)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stop, err := startDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pids := map[string]int{}
	for _, name := range []string{"demo-web", "demo-db", "demo-build"} {
		raw, err := os.ReadFile(filepath.Join(run, "qscope-demo", name+".pid"))
		pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
		if err != nil || !demoRunsAs(pid, name) {
			stop()
			t.Fatalf("guest %s not running from %s (pid file: %q, %v)", name, run, raw, err)
		}
		pids[name] = pid
	}
	stop()
	for name, pid := range pids {
		if demoRunsAs(pid, name) {
			t.Errorf("guest %s (pid %d) still runs after stop", name, pid)
		}
	}
}

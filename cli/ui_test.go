package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/journal"
)

func TestRootPrintsTheListWithoutATerminal(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	var out, errb bytes.Buffer
	code := Main(t.Context(), []string{"--connect", "none"}, strings.NewReader(""), &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "NAME") {
		t.Errorf("no guest table on a non-terminal stdout:\n%s", out.String())
	}
	if strings.Contains(out.String(), "\x1b[") {
		t.Errorf("escape sequences on a non-terminal stdout: %q", out.String())
	}
}

func TestSyntheticGuestsValidated(t *testing.T) {
	t.Setenv(syntheticEnv, "lots")
	err := runUI(t.Context(), &Options{Stdout: &bytes.Buffer{}})
	if err == nil || !strings.Contains(err.Error(), syntheticEnv) {
		t.Errorf("bad %s accepted: %v", syntheticEnv, err)
	}
}

func TestKillChecksTheProcessAndJournals(t *testing.T) {
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	b, err := os.ReadFile("/proc/" + itoa(cmd.Process.Pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	ticks, ok := startTicks(b)
	if !ok || ticks == 0 {
		t.Fatalf("start ticks of the child: %d %v", ticks, ok)
	}
	g := discover.Guest{Name: "sleeper", PID: cmd.Process.Pid, StartTicks: ticks + 1, Owner: discover.OwnerProcess}
	if err := killGuest(t.Context(), j, g); err == nil || !strings.Contains(err.Error(), "no longer the same process") {
		t.Fatalf("kill of a reused pid: %v", err)
	}
	lv := g
	lv.Owner, lv.StartTicks = discover.OwnerLibvirt, ticks
	if err := killGuest(t.Context(), j, lv); err == nil || !strings.Contains(err.Error(), "through libvirt") {
		t.Fatalf("kill of a libvirt guest: %v", err)
	}
	g.StartTicks = ticks
	if err := killGuest(t.Context(), j, g); err != nil {
		t.Fatal(err)
	}
	werr := cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Errorf("child ended with %v, want SIGKILL", werr)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	var found bool
	for r, err := range j.Records(ctx, journal.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		if r.Command == "SIGKILL" && r.Guest.Name == "sleeper" && r.Route == "signal" {
			found = true
		}
	}
	if !found {
		t.Error("the kill is not in the journal")
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

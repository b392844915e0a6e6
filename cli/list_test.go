package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/qscope/qscope/internal/qemutest"
	"github.com/qscope/qscope/qmp"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// runCLI runs the command line in-process and returns its exit code,
// standard output and standard error.
func runCLI(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(ctx, args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// uniqueName is a guest name no other QEMU on the host has.
func uniqueName(prefix string) string {
	return prefix + "-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
}

// startSmall starts a small QEMU and waits until its monitors greet (a
// QEMU still starting does not greet yet).
func startSmall(t *testing.T, b qemutest.Binary, o qemutest.Options) *qemutest.Instance {
	t.Helper()
	o.Machine, o.MemoryMB = "none", 16
	inst := qemutest.Start(t, b, o)
	for _, m := range inst.Monitors {
		ctx, cancel := context.WithTimeout(context.Background(), qemutest.ReadyTimeout)
		c, err := qmp.Dial(ctx, m.Network, m.Address)
		cancel()
		if err != nil {
			t.Fatalf("QEMU never greeted on %s: %v", m.Address, err)
		}
		c.Close()
	}
	return inst
}

func TestListJSONAndTable(t *testing.T) {
	b := qemutest.Binaries(t)[0]
	name := uniqueName("cli-list")
	inst := startSmall(t, b, qemutest.Options{Name: name, Args: []string{"-uuid", "12345678-1234-1234-1234-123456789abc"}})
	stopped := startSmall(t, b, qemutest.Options{Name: name + "-stopped"})
	stopped.Signal(syscall.SIGSTOP)
	defer stopped.Signal(syscall.SIGCONT)
	ctx := context.Background()

	// A generous probe timeout: the machine may be loaded.
	code, out, errs := runCLI(t, ctx, "list", "--json", "--connect", "none", "--probe-timeout", "5s")
	if code != 0 {
		t.Fatalf("list --json exited %d: %s", code, errs)
	}
	var entries []map[string]any
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("list --json is not a JSON array: %v\n%s", err, out)
	}
	var mine, stop map[string]any
	for _, e := range entries {
		for _, k := range []string{"name", "uuid", "pid", "state", "owner", "monitor"} {
			if _, ok := e[k]; !ok {
				t.Errorf("entry lacks %q: %v", k, e)
			}
		}
		switch e["name"] {
		case name:
			mine = e
		case name + "-stopped":
			stop = e
		}
	}
	if mine == nil || stop == nil {
		t.Fatalf("guests %s not listed: %s", name, out)
	}
	if mine["pid"] != float64(inst.PID) || mine["uuid"] != "12345678-1234-1234-1234-123456789abc" || mine["state"] != "running" || mine["owner"] != "process" || mine["monitor"] != inst.Monitors[0].Address {
		t.Errorf("entry %v", mine)
	}
	if _, ok := mine["uptime_seconds"]; !ok {
		t.Errorf("no uptime_seconds in %v", mine)
	}
	if stop["uuid"] != "" {
		t.Errorf("a guest started without -uuid has uuid %v, want \"\"", stop["uuid"])
	}
	if stop["state"] != "stopped" {
		t.Errorf("SIGSTOPped guest is %v", stop["state"])
	}

	code, out, errs = runCLI(t, ctx, "list", "--connect", "none", "--probe-timeout", "5s")
	if code != 0 {
		t.Fatalf("list exited %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(lines[0], "MONITOR") || !strings.Contains(lines[0], "CPU%") {
		t.Errorf("header %q", lines[0])
	}
	found := false
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) >= 8 && f[0] == name {
			found = true
			if f[1] != "process" || f[2] != strconv.Itoa(inst.PID) || f[3] != "running" || f[7] != inst.Monitors[0].Address {
				t.Errorf("row %q", l)
			}
		}
	}
	if !found {
		t.Errorf("%s not in the table:\n%s", name, out)
	}

	// printList is what the UI falls back to without a terminal.
	var buf bytes.Buffer
	o := &Options{LibvirtURI: "none", ProbeTimeout: 5 * time.Second, Stdout: &buf, Stderr: &buf}
	if err := printList(ctx, o, &buf, false); err != nil || !strings.Contains(buf.String(), name) {
		t.Errorf("printList: %v\n%s", err, buf.String())
	}
}

func TestListHelpers(t *testing.T) {
	for n, want := range map[uint64]string{0: "0B", 1023: "1023B", 1536: "1.5K", 33263616: "31.7M", 3 << 30: "3.0G"} {
		if got := listBytes(n); got != want {
			t.Errorf("listBytes(%d) = %q, want %q", n, got, want)
		}
	}
	for d, want := range map[time.Duration]string{0: "-", 5 * time.Second: "5s", 125 * time.Second: "2m5s", 3*time.Hour + 4*time.Minute: "3h4m", 50 * time.Hour: "2d2h"} {
		if got := listUptime(d); got != want {
			t.Errorf("listUptime(%v) = %q, want %q", d, got, want)
		}
	}
	for in, want := range map[string]string{
		"":                         "-",
		"a\tb\x1b[31m":             "a b\uFFFD",
		"vm\u009b2J\u0085x\u202ey": "vm\uFFFD\uFFFDx\uFFFDy",
		"grüße\r\n":                "grüße\uFFFD\uFFFD",
	} {
		if got := listCell(in); got != want {
			t.Errorf("listCell(%q) = %q, want %q", in, got, want)
		}
	}
}

// Bad usage exits 2, as documented; 1 is kept for QEMU's errors.
func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"qmp", "only-a-target"},
		{"qmp", "x", "query-status", "--bogus"},
		{"events"},
		{"history", "a", "b"},
		{"--probe-timeout", "xyz", "list"},
		{"no-such-command"},
	} {
		var out, errb bytes.Buffer
		code := Main(context.Background(), args, strings.NewReader(""), &out, &errb)
		if code != exitCodeFailure || !strings.Contains(errb.String(), "--help") {
			t.Errorf("qscope %q: exit %d, stderr %q; want %d and a pointer to --help", args, code, errb.String(), exitCodeFailure)
		}
	}
}

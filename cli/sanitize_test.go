package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/sys/unix"

	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/internal/qemutest"
)

// rawControl returns the first character of s that could act on a
// terminal (a C0 control other than newline and tab, DEL, a C1 control, a
// bidi control), or -1.
func rawControl(s string) rune {
	for _, r := range s {
		if r == '\n' || r == '\t' {
			continue
		}
		if r < 0x20 || r >= 0x7f && r <= 0x9f || unicode.Is(unicode.Bidi_Control, r) {
			return r
		}
	}
	return -1
}

func checkClean(t *testing.T, what, s string) {
	t.Helper()
	if r := rawControl(s); r >= 0 {
		t.Errorf("%s carries %U:\n%q", what, r, s)
	}
}

// fakeSource reports fixed guests: what an unprivileged user's fake QEMU
// can make discovery see.
type fakeSource []discover.Guest

func (fakeSource) Name() string                                     { return "fake" }
func (f fakeSource) Scan(context.Context) ([]discover.Guest, error) { return f, nil }

func withFakeGuests(t *testing.T, gs ...discover.Guest) {
	saved := extraSources
	extraSources = append(append([]func(*Options) discover.Source(nil), saved...), func(*Options) discover.Source { return fakeSource(gs) })
	t.Cleanup(func() { extraSources = saved })
}

// A guest's name and its monitor's state are printed without the escapes
// they carry, by list, list --json and the errors that list guests.
func TestGuestWordsPrintedSanitised(t *testing.T) {
	evilName := "evil\u009b2J\u202egpj\x1b[8m"
	evilState := "\x1b]0;PWNED-TITLE\x07\x1b[31;1mEVILSTATE"
	g := discover.Guest{Name: evilName, State: discover.State(evilState), Owner: discover.OwnerProcess, UUID: "0e4e3e55-0000-4000-8000-00000000e5c0", Monitor: "/run/\x1b[2Jvm.qmp"}
	twin := g
	twin.UUID = "0e4e3e55-0000-4000-8000-00000000e5c1"
	withFakeGuests(t, g, twin)
	ctx := context.Background()

	code, out, errs := runCLI(t, ctx, "--connect", "none", "list")
	if code != 0 {
		t.Fatalf("list exited %d: %s", code, errs)
	}
	checkClean(t, "list", out+errs)
	if !strings.Contains(out, "evil\uFFFD\uFFFDgpj\uFFFD") || !strings.Contains(out, "\uFFFD\uFFFDEVILSTATE") || !strings.Contains(out, "/run/\uFFFDvm.qmp") {
		t.Errorf("list does not show the guest with placeholders:\n%s", out)
	}

	code, out, errs = runCLI(t, ctx, "--connect", "none", "list", "--json")
	if code != 0 {
		t.Fatalf("list --json exited %d: %s", code, errs)
	}
	checkClean(t, "list --json", out)
	var entries []listEntry
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	found := false
	for _, e := range entries {
		if e.UUID == g.UUID {
			found = e.Name == evilName && string(e.State) == evilState
		}
	}
	if !found {
		t.Errorf("list --json does not carry the name and state intact:\n%s", out)
	}

	// NotFound lists every guest; Ambiguous the ones matched.
	code, _, errs = runCLI(t, ctx, "--connect", "none", "qmp", "no-such-guest-"+uniqueName("x"), "query-status")
	// (discover quotes such a name, escaped; the sanitiser is the backstop)
	if code != exitCodeFailure || !strings.Contains(errs, "no guest") || !strings.Contains(errs, "evil") {
		t.Errorf("not found: exit %d %q", code, errs)
	}
	checkClean(t, "the not-found error", errs)
	code, _, errs = runCLI(t, ctx, "--connect", "none", "events", evilName)
	if code != exitCodeFailure || !strings.Contains(errs, "matches 2 guests") {
		t.Errorf("ambiguous: exit %d %q", code, errs)
	}
	checkClean(t, "the ambiguous error", errs)
}

// A real QEMU named with escapes: the name comes from its command line
// and its monitor. Its errors, which quote what was asked, too.
func TestRealGuestWordsPrintedSanitised(t *testing.T) {
	b := qemutest.Binaries(t)[0]
	base := uniqueName("cli-esc")
	name := base + "\x1b]0;T\x07\x1b[2J\x1b[31;1mX\u009b1mY"
	inst := startSmall(t, b, qemutest.Options{Name: name})
	pid := strconv.Itoa(inst.PID)
	ctx := context.Background()
	run := func(args ...string) (int, string, string) {
		return runCLI(t, ctx, append([]string{"--connect", "none", "--probe-timeout", "5s"}, args...)...)
	}

	code, out, errs := run("list")
	if code != 0 || !strings.Contains(out, base+"\uFFFD\uFFFD\uFFFDX\uFFFDY") {
		t.Errorf("list: exit %d, the guest is not shown sanitised:\n%s%s", code, out, errs)
	}
	checkClean(t, "list", out+errs)

	code, out, errs = run("list", "--json")
	if code != 0 || !strings.Contains(out, pid) {
		t.Errorf("list --json: exit %d:\n%s%s", code, out, errs)
	}
	checkClean(t, "list --json", out+errs)

	code, _, errs = run("qmp", base, "query-status")
	if code != exitCodeFailure || !strings.Contains(errs, base) {
		t.Errorf("not found: exit %d %q", code, errs)
	}
	checkClean(t, "the not-found error", errs)

	// QEMU's error text quotes the path asked for.
	code, out, errs = run("qmp", pid, "qom-list", "path=/\x1b]0;T\x07\x1b[2J\u009b1m\u202e")
	if code != exitCodeQMP || !strings.Contains(errs, ": ") || !strings.Contains(errs, "\uFFFD") {
		t.Errorf("qom-list of an evil path: exit %d out %q err %q", code, out, errs)
	}
	checkClean(t, "QMP's error", out+errs)

	// HMP's failure, and its output on stdout (a JSON string).
	code, out, errs = run("qmp", pid, "human-monitor-command", "command-line=\x1b]0;T\x07\x1b[2J\u009b1m\u202e")
	if code != exitCodeQMP || !strings.HasPrefix(errs, "HMPError: ") || !strings.Contains(errs, "\uFFFD") {
		t.Errorf("HMP failure: exit %d out %q err %q", code, out, errs)
	}
	checkClean(t, "HMP's failure", out+errs)
	var text string
	if err := json.Unmarshal([]byte(out), &text); err != nil || !strings.Contains(text, "\u009b1m\u202e") {
		t.Errorf("HMP output %q is not the JSON string QEMU sent (%v)", out, err)
	}
}

// The confirmation prompt names the guest: sanitised.
func TestConfirmPromptSanitised(t *testing.T) {
	master, slave := openPTY(t)
	var errb bytes.Buffer
	o := &Options{Stdin: slave, Stderr: &errb}
	if _, err := master.WriteString("y\n"); err != nil {
		t.Fatal(err)
	}
	ok, err := qmpConfirm(o, "Send quit (destructive) to evil\x1b]0;T\x07\x1b[2J\u009b1m\u202e (pid 1)?")
	if err != nil || !ok {
		t.Fatalf("qmpConfirm: %v %v", ok, err)
	}
	checkClean(t, "the prompt", errb.String())
	if !strings.Contains(errb.String(), "evil\uFFFD\uFFFD\uFFFD\uFFFD (pid 1)? [y/N]") {
		t.Errorf("prompt %q", errb.String())
	}
}

// /dev/null is a character device, not a terminal: nobody is there to
// confirm a destructive command.
func TestStdinTerminal(t *testing.T) {
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if stdinTerminal(null) {
		t.Error("/dev/null counts as a terminal")
	}
	if _, err := qmpConfirm(&Options{Stdin: null, Stderr: io.Discard}, "Send quit?"); err == nil {
		t.Error("qmpConfirm asked on /dev/null")
	}
	_, slave := openPTY(t)
	if !stdinTerminal(slave) {
		t.Error("a pseudo-terminal does not count as a terminal")
	}
}

// openPTY opens a pseudo-terminal pair, closed when the test ends.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Skipf("ptsname: %v", err)
	}
	slave, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open pts: %v", err)
	}
	t.Cleanup(func() { slave.Close() })
	return master, slave
}

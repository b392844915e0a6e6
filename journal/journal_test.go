package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

const helperEnv = "QSCOPE_JOURNAL_HELPER"

func TestMain(m *testing.M) {
	if p := os.Getenv(helperEnv); p != "" {
		os.Exit(helperAppend(p))
	}
	goleak.VerifyTestMain(m)
}

// helperAppend appends records to the journal at path: a fixed count
// (QSCOPE_JOURNAL_COUNT) or forever when the count is 0.
func helperAppend(path string) int {
	j, err := Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	n, _ := strconv.Atoi(os.Getenv("QSCOPE_JOURNAL_COUNT"))
	// A big argument makes each write long, to give a kill a chance to
	// land in the middle of one.
	big := json.RawMessage(`{"blob":"` + strings.Repeat("x", 64<<10) + `"}`)
	for i := 0; n == 0 || i < n; i++ {
		r := Record{Guest: Target{Name: "helper", PID: os.Getpid()}, Route: "socket", Class: "changing", Command: "stop", Arguments: big, Client: "test"}
		if err := j.Append(r); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if n == 0 && i == 0 {
			fmt.Println("ready")
		}
	}
	return 0
}

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestDefaultPath(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/var/tmp/state")
	p, err := DefaultPath()
	if err != nil || p != "/var/tmp/state/qscope/journal.jsonl" {
		t.Errorf("with XDG_STATE_HOME: %q %v", p, err)
	}
	t.Setenv("XDG_STATE_HOME", "relative/dir") // not absolute: ignored
	t.Setenv("HOME", "/home/someone")
	p, err = DefaultPath()
	if err != nil || p != "/home/someone/.local/state/qscope/journal.jsonl" {
		t.Errorf("default: %q %v", p, err)
	}
}

func TestModes(t *testing.T) {
	base := t.TempDir()
	path := filepath.Join(base, "state", "qscope", "journal.jsonl")
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(Record{Command: "stop"}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if m := mode(t, filepath.Dir(path)); m != 0o700 {
		t.Errorf("directory mode %v", m)
	}
	if m := mode(t, path); m != 0o600 {
		t.Errorf("file mode %v", m)
	}

	// Wider modes are narrowed.
	os.Chmod(filepath.Dir(path), 0o755)
	os.Chmod(path, 0o644)
	j, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	if m := mode(t, filepath.Dir(path)); m != 0o700 {
		t.Errorf("directory not narrowed: %v", m)
	}
	if m := mode(t, path); m != 0o600 {
		t.Errorf("file not narrowed: %v", m)
	}

	// A symbolic link in place of the file is refused.
	link := filepath.Join(filepath.Dir(path), "link.jsonl")
	os.Symlink(path, link)
	if _, err := Open(link); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("symlink accepted: %v", err)
	}

	// Another user's file is refused.
	if os.Geteuid() == 0 {
		other := filepath.Join(filepath.Dir(path), "other.jsonl")
		os.WriteFile(other, nil, 0o600)
		os.Chown(other, 65534, 65534)
		if _, err := Open(other); err == nil || !strings.Contains(err.Error(), "belongs to uid 65534") {
			t.Errorf("another user's journal accepted: %v", err)
		}
	}
}

// The user is the effective user from the user database: $USER can say
// anything.
func TestUserIsNotFromTheEnvironment(t *testing.T) {
	t.Setenv("USER", "someone-else")
	want := "uid " + strconv.Itoa(os.Geteuid())
	if u, err := user.LookupId(strconv.Itoa(os.Geteuid())); err == nil {
		want = u.Username
	}
	if got := currentUser(); got != want {
		t.Errorf("user %q, want %q", got, want)
	}
}

func TestAppendReadFilter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q", "journal.jsonl")
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	recs := []Record{
		{Guest: Target{Name: "web", PID: 10, UUID: "AAAA-1"}, Route: "socket", Class: "changing", Command: "stop"},
		{Guest: Target{Name: "db", PID: 20, Domain: "db", Owner: "libvirt"}, Route: "libvirt", Class: "destructive", Command: "system_reset", Error: &ErrorInfo{Class: "GenericError", Desc: "nope"}},
		{Guest: Target{Name: "web", PID: 11}, Route: "socket", Class: "changing", Command: "cont", Result: json.RawMessage(`{}`)},
	}
	for _, r := range recs {
		if err := j.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	read := func(f Filter) []string {
		var out []string
		for r, err := range j.Records(context.Background(), f) {
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, r.Command)
			if r.Time.IsZero() || r.User == "" || r.PID != os.Getpid() {
				t.Errorf("record not filled: %+v", r)
			}
		}
		return out
	}
	for target, want := range map[string]string{"": "stop,system_reset,cont", "web": "stop,cont", "db": "system_reset", "20": "system_reset", "aaaa-1": "stop", "none": ""} {
		if got := strings.Join(read(Filter{Target: target}), ","); got != want {
			t.Errorf("filter %q: %q, want %q", target, got, want)
		}
	}
	if got := read(Filter{Since: time.Now().Add(time.Hour)}); len(got) != 0 {
		t.Errorf("since filter: %q", got)
	}
	// Missing file: no records, no error.
	for _, err := range Read(context.Background(), filepath.Join(t.TempDir(), "none.jsonl"), Filter{}) {
		t.Errorf("missing file: %v", err)
	}
}

func TestTornAndBadLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	content := `{"time":"2026-01-01T00:00:00Z","guest":{"name":"a"},"route":"socket","class":"changing","command":"stop","duration_ms":1}
not json at all
{"time":"2026-01-01T00:00:01Z","guest":{"name":"a"},"route":"socket","class":"changing","command":"cont","duration_ms":1}
{"time":"2026-01-01T00:00:02Z","guest":{"name":"a"},"rou`
	os.WriteFile(path, []byte(content), 0o600)
	var cmds []string
	var errs []error
	for r, err := range Read(context.Background(), path, Filter{}) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cmds = append(cmds, r.Command)
	}
	if strings.Join(cmds, ",") != "stop,cont" {
		t.Errorf("records %q", cmds)
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "line 2") {
		t.Errorf("errors %v", errs)
	}

	// The next append drops the torn tail, so its record starts on a
	// line of its own.
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(Record{Command: "quit"}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	cmds = nil
	for r, err := range Read(context.Background(), path, Filter{}) {
		if err == nil {
			cmds = append(cmds, r.Command)
		}
	}
	if strings.Join(cmds, ",") != "stop,cont,quit" {
		t.Errorf("after a torn line, records %q", cmds)
	}
}

// TestConcurrentWriters: goroutines and processes append at once; every
// line is a whole record and none is lost.
func TestConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const procs, perProc, goroutines, perG = 3, 20, 4, 25
	var wg sync.WaitGroup
	errc := make(chan error, procs+goroutines)
	for i := 0; i < procs; i++ {
		wg.Go(func() {
			cmd := exec.Command(exe)
			cmd.Env = append(os.Environ(), helperEnv+"="+path, "QSCOPE_JOURNAL_COUNT="+strconv.Itoa(perProc))
			if out, err := cmd.CombinedOutput(); err != nil {
				errc <- fmt.Errorf("helper: %v: %s", err, out)
			}
		})
	}
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for g := 0; g < goroutines; g++ {
		wg.Go(func() {
			for i := 0; i < perG; i++ {
				if err := j.Append(Record{Guest: Target{Name: "g" + strconv.Itoa(g)}, Command: "cont"}); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	n := 0
	for _, err := range Read(context.Background(), path, Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != procs*perProc+goroutines*perG {
		t.Errorf("%d records, want %d", n, procs*perProc+goroutines*perG)
	}
}

// TestKillLeavesNoTornLine kills writers in the middle of appending big
// records; every line left in the file is a whole record.
func TestKillLeavesNoTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 5; round++ {
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), helperEnv+"="+path, "QSCOPE_JOURNAL_COUNT=0")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 6)
		if _, err := out.Read(buf); err != nil { // "ready": it is writing
			t.Fatal(err)
		}
		time.Sleep(time.Duration(round*7) * time.Millisecond) // vary the moment of the kill
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	// Readers see whole records only: a torn final line (a write the
	// kernel cut short for SIGKILL) is skipped.
	n := 0
	for _, err := range Read(context.Background(), path, Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n < 5 {
		t.Errorf("only %d records", n)
	}
	if before, _ := os.ReadFile(path); len(before) > 0 && before[len(before)-1] != '\n' {
		t.Log("the last kill tore a record; readers skipped it")
	}
	// The next append removes a torn tail before writing.
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(Record{Command: "after"}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	for i, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Fatalf("line %d of %d is torn (%d bytes)", i+1, len(lines), len(l))
		}
	}
	if len(lines) != n+1 || !strings.Contains(lines[len(lines)-1], `"after"`) {
		t.Errorf("%d lines after the append, want %d", len(lines), n+1)
	}
}

func TestClosedJournal(t *testing.T) {
	j, err := Open(filepath.Join(t.TempDir(), "j.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	if err := j.Append(Record{Command: "stop"}); !errors.Is(err, os.ErrClosed) {
		t.Errorf("append after close: %v", err)
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ cmd, in, want string }{
		{"set_password", `{"protocol":"vnc","password":"hunter2"}`, `{"password":"(redacted)","protocol":"vnc"}`},
		{"object-add", `{"qom-type":"secret","id":"s0","data":"c2VjcmV0"}`, `{"data":"(redacted)","id":"s0","qom-type":"secret"}`},
		{"object-add", `{"qom-type":"iothread","id":"io0"}`, `{"qom-type":"iothread","id":"io0"}`},
		{"human-monitor-command", `{"command-line":"set_password vnc hunter2"}`, `{"command-line":"set_password (redacted)"}`},
		{"blockdev-add", `{"driver":"iscsi","auth":{"user":"u","password":"p"}}`, `{"auth":{"password":"(redacted)","user":"u"},"driver":"iscsi"}`},
		{"human-monitor-command", `{"command-line":"object_add secret,id=s0,data=hunter2"}`, `{"command-line":"object_add secret,id=s0,data=(redacted)"}`},
		{"human-monitor-command", `{"command-line":"object_add qom-type=secret,id=s0,data=hun,,ter2,format=raw"}`, `{"command-line":"object_add qom-type=secret,id=s0,data=(redacted),format=raw"}`},
		{"human-monitor-command", `{"command-line":"object_add {\"qom-type\":\"secret\",\"id\":\"s0\",\"data\":\"hunter2\"}"}`, `{"command-line":"object_add {\"data\":\"(redacted)\",\"id\":\"s0\",\"qom-type\":\"secret\"}"}`},
		{"human-monitor-command", `{"command-line":"object_add iothread,id=io0"}`, `{"command-line":"object_add iothread,id=io0"}`},
		{"stop", ``, ``},
	}
	for _, tt := range tests {
		if got := string(Redact(tt.cmd, json.RawMessage(tt.in))); got != tt.want {
			t.Errorf("Redact(%s, %s) = %s, want %s", tt.cmd, tt.in, got, tt.want)
		}
	}
}

package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/qscope/qscope/internal/qemutest"
	"github.com/qscope/qscope/journal"
	"github.com/qscope/qscope/qmp"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		words   []string
		command string
		args    string
		err     string
	}{
		{words: []string{"query-status"}, command: "query-status"},
		{words: []string{"qom-get", "path=/machine", "property=type"}, command: "qom-get", args: `{"path":"/machine","property":"type"}`},
		{words: []string{"x", "n=42", "f=1.5", "b=true", "z=null", "s=hello world", `q="7"`, `o={"k":[1,2]}`}, command: "x",
			args: `{"b":true,"f":1.5,"n":42,"o":{"k":[1,2]},"q":"7","s":"hello world","z":null}`},
		{words: []string{"blockdev-add", "driver=null-co", "node-name=n0", "cache.direct=false", "cache.no-flush=true"}, command: "blockdev-add",
			args: `{"cache":{"direct":false,"no-flush":true},"driver":"null-co","node-name":"n0"}`},
		{words: []string{"device_add", `{"driver":"e1000","id":"n"}`}, command: "device_add", args: `{"driver":"e1000","id":"n"}`},
		{words: []string{`{"execute":"stop"}`}, command: "stop"},
		{words: []string{`{"execute":"qom-list","arguments":{"path":"/"}}`}, command: "qom-list", args: `{"path":"/"}`},
		{words: []string{"x", "novalue"}, err: `"novalue" is not key=value`},
		{words: []string{"x", "a=1", "a=2"}, err: "given twice"},
		{words: []string{"x", "a=1", "a.b=2"}, err: "not an object"},
		{words: []string{"x", "a..b=1"}, err: "empty part"},
		// Dotted keys index arrays, as QEMU's key=value syntax does.
		{words: []string{"migrate-set-capabilities", "capabilities.0.capability=xbzrle", "capabilities.0.state=true", "capabilities.1.capability=events", "capabilities.1.state=false"},
			command: "migrate-set-capabilities", args: `{"capabilities":[{"capability":"xbzrle","state":true},{"capability":"events","state":false}]}`},
		{words: []string{"x", "keys.0=a", "keys.1=b"}, command: "x", args: `{"keys":["a","b"]}`},
		{words: []string{"x", "keys.0=a", "keys.2=b"}, err: "without a gap"},
		{words: []string{"x", "keys.0=a", "keys.01=b"}, err: "without a gap"},
		{words: []string{`{"execute":"stop","arguments":[1]}`}, err: "must be a JSON object"},
		{words: []string{`{"arguments":{}}`}, err: `no "execute"`},
		{words: []string{`{"execute":"stop","id":1}`}, err: "not a QMP request"},
		{words: []string{`{"exec-oob":"migrate-pause"}`}, err: "exec-oob"},
		{words: []string{"x", `{"a":`}, err: "not valid JSON"},
	}
	for _, tt := range tests {
		cmd, args, err := parseRequest(tt.words)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want %q", tt.words, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.words, err)
			continue
		}
		if cmd != tt.command {
			t.Errorf("%q: command %q", tt.words, cmd)
		}
		if !jsonEqual(t, string(args), tt.args) {
			t.Errorf("%q: args %s, want %s", tt.words, args, tt.args)
		}
	}
}

func jsonEqual(t *testing.T, a, b string) bool {
	if a == "" || b == "" {
		return a == b
	}
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// TestQMPCommand runs `qscope qmp` against real QEMU 7.2 and 10.0: output,
// exit codes, error text, --readonly, confirmation, the journal and its
// modes.
func TestQMPCommand(t *testing.T) {
	for _, b := range qemutest.Binaries(t) {
		t.Run(b.String(), func(t *testing.T) {
			state := t.TempDir()
			t.Setenv("XDG_STATE_HOME", state)
			jpath := filepath.Join(state, "qscope", "journal.jsonl")
			name := uniqueName("cli-qmp")
			inst := startSmall(t, b, qemutest.Options{Name: name})
			ctx := context.Background()
			run := func(args ...string) (int, string, string) {
				return runCLI(t, ctx, append([]string{"--connect", "none"}, args...)...)
			}

			code, out, errs := run("qmp", name, "query-status")
			if code != 0 {
				t.Fatalf("query-status exited %d: %s", code, errs)
			}
			var st map[string]any
			if err := json.Unmarshal([]byte(out), &st); err != nil || st["status"] != "running" || !strings.Contains(out, "\n  \"") {
				t.Errorf("query-status printed %q (%v)", out, err)
			}
			if _, err := os.Stat(jpath); !os.IsNotExist(err) {
				t.Errorf("a read-only command touched the journal: %v", err)
			}

			if code, _, errs := run("--readonly", "qmp", name, "stop"); code != 3 || !strings.Contains(errs, "--readonly") {
				t.Errorf("--readonly stop: exit %d, %q", code, errs)
			}

			code, out, errs = run("qmp", name, "stop")
			if code != 0 || strings.TrimSpace(out) != "{}" {
				t.Fatalf("stop: exit %d out %q err %q", code, out, errs)
			}
			code, out, _ = run("qmp", name, `{"execute":"query-status"}`)
			if code != 0 || !strings.Contains(out, `"paused"`) {
				t.Errorf("JSON request: exit %d %q", code, out)
			}

			// Destructive: refused without a terminal or --yes.
			code, _, errs = run("qmp", name, "device_del", "id=nope")
			if code != 3 || !strings.Contains(errs, "--yes") {
				t.Errorf("device_del without --yes: exit %d %q", code, errs)
			}
			// QEMU's error: "Class: desc" on stderr, exit 1.
			code, out, errs = run("qmp", "--yes", name, "device_del", "id=nope")
			if code != 1 || out != "" || !strings.Contains(errs, ": Device 'nope' not found") || strings.Contains(errs, "qscope") {
				t.Errorf("device_del of nothing: exit %d out %q err %q", code, out, errs)
			}
			wantClass, _, _ := strings.Cut(strings.TrimSpace(errs), ":")
			// An HMP command that fails: its output on stdout, the failure
			// on stderr, exit 1, although QMP answered success.
			code, out, errs = run("qmp", name, "human-monitor-command", "command-line=system_wakeup")
			if code != 1 || !strings.Contains(out, "Error:") || !strings.HasPrefix(errs, "HMPError: ") {
				t.Errorf("failing HMP command: exit %d out %q err %q", code, out, errs)
			}

			code, _, errs = run("qmp", strings.Repeat("z", 20), "query-status")
			if code != 2 || !strings.Contains(errs, "no guest") {
				t.Errorf("unknown guest: exit %d %q", code, errs)
			}
			if code, _, errs := run("qmp", name, "x", "broken"); code != 2 || !strings.Contains(errs, "key=value") {
				t.Errorf("bad argument: exit %d %q", code, errs)
			}

			// The journal: stop and device_del, 0600 in a 0700 directory.
			var recs []journal.Record
			for r, err := range journal.Read(ctx, jpath, journal.Filter{Target: name}) {
				if err != nil {
					t.Fatal(err)
				}
				recs = append(recs, r)
			}
			if len(recs) != 3 {
				t.Fatalf("journal has %d records: %+v", len(recs), recs)
			}
			if r := recs[2]; r.Command != "human-monitor-command" || r.Error == nil || r.Error.Class != journal.HMPErrorClass {
				t.Errorf("HMP record %+v", r)
			}
			if r := recs[0]; r.Command != "stop" || r.Guest.PID != inst.PID || r.Route != "socket" || r.Client != "cli" || r.Guest.Owner != "process" || r.Error != nil {
				t.Errorf("stop record %+v", r)
			}
			if r := recs[1]; r.Command != "device_del" || r.Class != "destructive" || r.Error == nil || r.Error.Class != wantClass || string(r.Arguments) != `{"id":"nope"}` {
				t.Errorf("device_del record %+v", r)
			}
			for p, want := range map[string]os.FileMode{jpath: 0o600, filepath.Dir(jpath): 0o700} {
				if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
					t.Errorf("%s: mode %v, want %v (%v)", p, fi.Mode().Perm(), want, err)
				}
			}

			// A journal directory that cannot be made safe refuses changes.
			t.Setenv("XDG_STATE_HOME", "/proc/qscope-cannot-be-here")
			code, _, errs = run("qmp", name, "cont")
			if code != 2 || !strings.Contains(errs, "unjournaled") {
				t.Errorf("cont without a journal: exit %d %q", code, errs)
			}
		})
	}
}

// TestQMPBusyAndAmbiguous: a held monitor and a name two guests share.
func TestQMPBusyAndAmbiguous(t *testing.T) {
	b := qemutest.Binaries(t)[0]
	name := uniqueName("cli-twin")
	one := startSmall(t, b, qemutest.Options{Name: name})
	startSmall(t, b, qemutest.Options{Name: name})
	ctx := context.Background()
	code, _, errs := runCLI(t, ctx, "--connect", "none", "qmp", name, "query-status")
	if code != 2 || !strings.Contains(errs, "matches 2 guests") || !strings.Contains(errs, "pid") {
		t.Errorf("ambiguous: exit %d %q", code, errs)
	}
	held, err := qmp.Dial(ctx, one.Monitors[0].Network, one.Monitors[0].Address)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	code, _, errs = runCLI(t, ctx, "--connect", "none", "qmp", strconv.Itoa(one.PID), "query-status")
	if code != 2 || !strings.Contains(errs, "held by another client") {
		t.Errorf("busy: exit %d %q", code, errs)
	}
}

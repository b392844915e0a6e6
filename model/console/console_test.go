package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"go.uber.org/goleak"

	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/qmp"
	"github.com/qscope/qscope/qmp/schema"
	"github.com/qscope/qscope/qmp/virt"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A small hand-written introspection, enough for the model's own logic.
const mini = `[
 {"name":"str","meta-type":"builtin","json-type":"string"},
 {"name":"int","meta-type":"builtin","json-type":"int"},
 {"name":"bool","meta-type":"builtin","json-type":"boolean"},
 {"name":"0","meta-type":"object","members":[]},
 {"name":"1","meta-type":"object","members":[{"name":"running","type":"bool"},{"name":"status","type":"2"}]},
 {"name":"2","meta-type":"enum","values":["running","paused"]},
 {"name":"3","meta-type":"object","members":[{"name":"driver","type":"str"},{"name":"id","type":"str","default":null}]},
 {"name":"4","meta-type":"object","members":[{"name":"id","type":"str"}]},
 {"name":"5","meta-type":"object","members":[{"name":"command-line","type":"str"}]},
 {"name":"6","meta-type":"object","members":[{"name":"target","type":"str","default":null}]},
 {"name":"query-status","meta-type":"command","arg-type":"0","ret-type":"1"},
 {"name":"query-stats","meta-type":"command","arg-type":"6","ret-type":"0"},
 {"name":"query-colo-status","meta-type":"command","arg-type":"0","ret-type":"0"},
 {"name":"cont","meta-type":"command","arg-type":"0","ret-type":"0"},
 {"name":"quit","meta-type":"command","arg-type":"0","ret-type":"0"},
 {"name":"device_add","meta-type":"command","arg-type":"3","ret-type":"0"},
 {"name":"device_del","meta-type":"command","arg-type":"4","ret-type":"0"},
 {"name":"human-monitor-command","meta-type":"command","arg-type":"5","ret-type":"str"}
]`

// recorder is a Monitor that records calls and answers from a table. It
// is only the model's counterpart in pure tests: what QEMU does is tested
// against real QEMU below and in qmp/schema.
type recorder struct {
	calls []string
	reply map[string]string
	err   map[string]error
	done  chan struct{}
}

func newRecorder() *recorder {
	return &recorder{reply: map[string]string{}, err: map[string]error{}, done: make(chan struct{})}
}

func (r *recorder) Execute(ctx context.Context, cmd string, args, result any) error {
	a, _ := json.Marshal(args)
	r.calls = append(r.calls, cmd+" "+string(a))
	if err := r.err[cmd]; err != nil {
		return err
	}
	rep, ok := r.reply[cmd]
	if !ok {
		rep = "{}"
	}
	if result != nil {
		return json.Unmarshal([]byte(rep), result)
	}
	return nil
}
func (r *recorder) Subscribe(...string) *qmp.Subscription { var d qmp.Dispatcher; return d.Subscribe() }
func (r *recorder) Done() <-chan struct{}                 { return r.done }
func (r *recorder) Err() error                            { return nil }
func (r *recorder) Close() error                          { return nil }

func (r *recorder) sent(cmd string) bool {
	for _, c := range r.calls {
		if strings.HasPrefix(c, cmd+" ") {
			return true
		}
	}
	return false
}

func testModel(t *testing.T, mon qmp.Monitor, cfg Config) Model {
	t.Helper()
	s, err := schema.Parse([]byte(mini))
	if err != nil {
		t.Fatal(err)
	}
	s.Version = "7.2.22"
	cfg.Monitor = mon
	if cfg.Guest.Name == "" {
		cfg.Guest = discover.Guest{Name: "vm1"}
	}
	if cfg.HistoryPath == "" {
		cfg.HistoryPath = "-"
	}
	m := New(cfg)
	m, _ = m.Update(schemaMsg{gen: m.gen, s: s})
	return m
}

func typeText(m Model, s string) (Model, tea.Cmd) {
	var cmds []tea.Cmd
	for _, r := range s {
		var cmd tea.Cmd
		m, cmd = m.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
		cmds = append(cmds, cmd)
	}
	return m, tea.Batch(cmds...)
}

func press(m Model, k string) (Model, tea.Cmd) {
	var msg tea.KeyPressMsg
	switch k {
	case "enter":
		msg = tea.KeyPressMsg{Code: tea.KeyEnter}
	case "tab":
		msg = tea.KeyPressMsg{Code: tea.KeyTab}
	case "up":
		msg = tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		msg = tea.KeyPressMsg{Code: tea.KeyDown}
	case "esc":
		msg = tea.KeyPressMsg{Code: tea.KeyEscape}
	case "ctrl+r":
		msg = tea.KeyPressMsg{Code: 'r', Mod: tea.ModCtrl}
	case "ctrl+t":
		msg = tea.KeyPressMsg{Code: 't', Mod: tea.ModCtrl}
	case "ctrl+y":
		msg = tea.KeyPressMsg{Code: 'y', Mod: tea.ModCtrl}
	case "alt+y":
		msg = tea.KeyPressMsg{Code: 'y', Mod: tea.ModAlt}
	default:
		panic(k)
	}
	return m.Update(msg)
}

// run executes cmd (and the commands it batches) and feeds every message
// back into the model, as the program would.
func run(t *testing.T, m Model, cmd tea.Cmd) (Model, []tea.Msg) {
	t.Helper()
	var out []tea.Msg
	queue := []tea.Cmd{cmd}
	for steps := 0; len(queue) > 0 && steps < 100; steps++ {
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		msg := c()
		if b, ok := msg.(tea.BatchMsg); ok {
			queue = append(queue, b...)
			continue
		}
		out = append(out, msg)
		var next tea.Cmd
		m, next = m.Update(msg)
		queue = append(queue, next)
	}
	return m, out
}

func TestTabCompletesAndEnterSends(t *testing.T) {
	rec := newRecorder()
	rec.reply["query-status"] = `{"running":true,"status":"running"}`
	m := testModel(t, rec, Config{})
	m, _ = typeText(m, "query-st")
	cands, sel := m.Candidates()
	if len(cands) < 2 || cands[sel].Text != "query-status" {
		t.Fatalf("pop-up: %+v", cands)
	}
	m, _ = press(m, "down")
	if _, sel := m.Candidates(); sel != 1 {
		t.Errorf("down did not choose the next candidate")
	}
	m, _ = press(m, "up")
	m, _ = press(m, "tab")
	if m.Value() != "query-status" {
		t.Fatalf("after tab: %q", m.Value())
	}
	if cands, _ := m.Candidates(); len(cands) != 0 {
		t.Errorf("pop-up still open after accepting a command without arguments: %+v", cands)
	}
	m, cmd := press(m, "enter")
	if !m.Busy() || cmd == nil {
		t.Fatal("enter did not send")
	}
	m, _ = run(t, m, cmd)
	if m.Busy() || len(m.Exchanges()) != 1 || !rec.sent("query-status") {
		t.Fatalf("exchange: busy %v, %d exchanges, calls %v", m.Busy(), len(m.Exchanges()), rec.calls)
	}
	if v := m.View(); !strings.Contains(v, `"status"`) || !strings.Contains(v, `"running"`) || !strings.Contains(v, "query-status") {
		t.Errorf("view lacks the reply:\n%s", v)
	}
}

func TestBadInputSendsNothing(t *testing.T) {
	rec := newRecorder()
	m := testModel(t, rec, Config{})
	for _, tc := range []struct{ line, want string }{
		{"query-status foo=1", `query-status: unknown argument "foo"`},
		{"device_add", `device_add: missing required argument "driver"`},
		{"nope", `unknown command "nope"`},
	} {
		m.input.SetValue("")
		m, _ = typeText(m, tc.line)
		var cmd tea.Cmd
		m, cmd = press(m, "enter")
		m, _ = run(t, m, cmd)
		st, isErr := m.Status()
		if !isErr || !strings.Contains(st, tc.want) {
			t.Errorf("%s: status %q", tc.line, st)
		}
		if m.Value() != tc.line {
			t.Errorf("%s: the line was not kept for fixing: %q", tc.line, m.Value())
		}
		if !strings.Contains(m.View(), tc.want) {
			t.Errorf("%s: message not shown", tc.line)
		}
	}
	for _, c := range rec.calls {
		if !strings.HasPrefix(c, "query-named-block-nodes") && !strings.HasPrefix(c, "qom-list ") && !strings.HasPrefix(c, "query-chardev") && !strings.HasPrefix(c, "query-jobs") {
			t.Errorf("sent %s", c)
		}
	}
}

func TestStaleResultsDropped(t *testing.T) {
	rec := newRecorder()
	m := testModel(t, rec, Config{})
	m, _ = typeText(m, "cont")
	m, cmd := press(m, "enter")
	if cmd == nil || !m.Busy() {
		t.Fatal("not sent")
	}
	// Give up on it, then a late reply arrives: dropped.
	m, _ = press(m, "esc")
	if m.Busy() {
		t.Fatal("esc did not stop waiting")
	}
	m, _ = m.Update(resultMsg{gen: m.gen, seq: m.seq, ex: Exchange{Line: "cont"}})
	if len(m.Exchanges()) != 0 {
		t.Error("abandoned reply shown")
	}
	// A result for a previous monitor is dropped too.
	m.SetMonitor(newRecorder(), discover.Guest{Name: "vm2"})
	m, _ = m.Update(resultMsg{gen: m.gen - 1, seq: m.seq, ex: Exchange{Line: "cont"}})
	m, _ = m.Update(schemaMsg{gen: m.gen - 1})
	if len(m.Exchanges()) != 0 || m.Schema() != nil {
		t.Error("result of the old monitor used")
	}
}

func TestDestructiveNeedsGuestName(t *testing.T) {
	rec := newRecorder()
	m := testModel(t, rec, Config{})
	m, _ = typeText(m, "quit")
	m, cmd := press(m, "enter")
	if cmd != nil || m.Busy() || !m.WantsEsc() {
		t.Fatal("quit ran without confirmation")
	}
	if st, _ := m.Status(); !strings.Contains(st, "type vm1") {
		t.Errorf("prompt: %q", st)
	}
	m, _ = typeText(m, "yes")
	m, cmd = press(m, "enter")
	if cmd != nil || m.Busy() {
		t.Fatal("wrong confirmation accepted")
	}
	m.input.SetValue("")
	m, _ = typeText(m, "vm1")
	m, cmd = press(m, "enter")
	m, _ = run(t, m, cmd)
	if !rec.sent("quit") {
		t.Fatal("confirmed quit not sent")
	}
	// esc cancels and gives the line back.
	m, _ = typeText(m, "device_del id=nic0")
	m, _ = press(m, "enter")
	m, _ = press(m, "esc")
	if m.Value() != "device_del id=nic0" || rec.sent("device_del") {
		t.Errorf("cancel: value %q, calls %v", m.Value(), rec.calls)
	}
}

func TestReadOnlyRefuses(t *testing.T) {
	rec := newRecorder()
	m := testModel(t, rec, Config{ReadOnly: true})
	for _, line := range []string{"cont", "quit", "!stop"} {
		m.input.SetValue("")
		m, _ = typeText(m, line)
		var cmd tea.Cmd
		m, cmd = press(m, "enter")
		m, _ = run(t, m, cmd)
		if st, _ := m.Status(); !strings.Contains(st, "read-only mode") {
			t.Errorf("%s: %q", line, st)
		}
	}
	if rec.sent("cont") || rec.sent("quit") || rec.sent("human-monitor-command") {
		t.Errorf("read-only sent %v", rec.calls)
	}
	m.input.SetValue("")
	m, _ = typeText(m, "query-status")
	_, cmd := press(m, "enter")
	run(t, m, cmd)
	if !rec.sent("query-status") {
		t.Error("read-only refused a query")
	}
}

func TestHMP(t *testing.T) {
	rec := newRecorder()
	rec.reply["human-monitor-command"] = `"VM status: paused\r\n"`
	m := testModel(t, rec, Config{})
	m, cmd := typeText(m, "!info st")
	m, _ = run(t, m, cmd) // fetches help once
	m, cmd = press(m, "enter")
	m, _ = run(t, m, cmd)
	want := `human-monitor-command {"command-line":"info st"}`
	found := false
	for _, c := range rec.calls {
		found = found || c == want
	}
	if !found {
		t.Errorf("calls %v", rec.calls)
	}
	if !strings.Contains(m.View(), "VM status: paused") {
		t.Error("HMP output not shown")
	}
	// The toggle: lines go to HMP without the '!'.
	m, _ = press(m, "ctrl+t")
	if !strings.Contains(m.View(), "[HMP]") {
		t.Error("mode not shown")
	}
	m, _ = typeText(m, "info status")
	m, cmd = press(m, "enter")
	run(t, m, cmd)
	if rec.calls[len(rec.calls)-1] != `human-monitor-command {"command-line":"info status"}` {
		t.Errorf("toggle mode sent %v", rec.calls[len(rec.calls)-1])
	}
}

func TestHistoryWalkAndSearch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "qscope", "history")
	rec := newRecorder()
	m := testModel(t, rec, Config{HistoryPath: path})
	for _, line := range []string{"query-status", "cont", "device_add driver=e1000 id=n1"} {
		m.input.SetValue("")
		m, _ = typeText(m, line)
		var cmd tea.Cmd
		m, cmd = press(m, "enter")
		m, _ = run(t, m, cmd)
	}
	m, _ = press(m, "up")
	if m.Value() != "device_add driver=e1000 id=n1" {
		t.Errorf("up: %q", m.Value())
	}
	m, _ = press(m, "up")
	m, _ = press(m, "up")
	if m.Value() != "query-status" {
		t.Errorf("up x3: %q", m.Value())
	}
	m, _ = press(m, "down")
	m, _ = press(m, "down")
	m, _ = press(m, "down")
	if m.Value() != "" {
		t.Errorf("back to the new line: %q", m.Value())
	}
	m, _ = press(m, "ctrl+r")
	m, _ = typeText(m, "stat")
	if v := m.View(); !strings.Contains(v, "── 1 match ") {
		t.Errorf("search pop-up does not count one match:\n%s", v)
	}
	m, _ = press(m, "enter")
	if m.Value() != "query-status" {
		t.Errorf("search took %q", m.Value())
	}
	// Persisted: a new console reads them back.
	entries, err := LoadHistory(path)
	if err != nil || len(entries) != 3 || entries[2].Line != "device_add driver=e1000 id=n1" || entries[0].QEMU != "7.2.22" {
		t.Fatalf("history file: %+v %v", entries, err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("history file mode: %v %v", st.Mode(), err)
	}
	if st, err := os.Stat(filepath.Dir(path)); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("history directory mode: %v %v", st.Mode(), err)
	}
	// Lines that do not parse are skipped; the rest is kept.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("not json\n")
	f.Close()
	m2 := testModel(t, rec, Config{HistoryPath: path})
	m2, _ = run(t, m2, m2.Init())
	m2, _ = press(m2, "up")
	if m2.Value() != "device_add driver=e1000 id=n1" {
		t.Errorf("history not loaded: %q", m2.Value())
	}
}

// History is kept per kind of guest: a libvirt guest's console does not
// offer what was sent to plain QEMU processes, and the other way round;
// entries without a kind (older files) are offered to every kind.
func TestHistoryPerGuestKind(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history")
	for _, e := range []HistoryEntry{
		{Line: "query-status"},
		{Line: "device_add driver=e1000 id=n1", Kind: "process"},
		{Line: "query-name", Kind: "libvirt"},
	} {
		if err := AppendHistory(path, e); err != nil {
			t.Fatal(err)
		}
	}
	rec := newRecorder()
	walk := func(m Model) []string {
		var got []string
		for range 4 {
			m, _ = press(m, "up")
			if v := m.Value(); len(got) == 0 || got[len(got)-1] != v {
				got = append(got, v)
			}
		}
		return got
	}
	lv := testModel(t, rec, Config{HistoryPath: path, Guest: discover.Guest{Name: "dom1", Owner: discover.OwnerLibvirt}})
	lv, _ = lv.Update(loadHistoryCmd(path)())
	if got := walk(lv); !slices.Equal(got, []string{"query-name", "query-status"}) {
		t.Errorf("libvirt guest's history: %q", got)
	}
	pr := testModel(t, rec, Config{HistoryPath: path, Guest: discover.Guest{Name: "vm1", Owner: discover.OwnerProcess}})
	pr, _ = pr.Update(loadHistoryCmd(path)())
	if got := walk(pr); !slices.Equal(got, []string{"device_add driver=e1000 id=n1", "query-status"}) {
		t.Errorf("process guest's history: %q", got)
	}
	// What a console sends is recorded with its guest's kind.
	pr, _ = typeText(pr, "query-status")
	pr, cmd := press(pr, "enter")
	run(t, pr, cmd)
	entries, err := LoadHistory(path)
	if err != nil || len(entries) != 4 || entries[3].Line != "query-status" || entries[3].Kind != "process" {
		t.Fatalf("history file: %+v %v", entries, err)
	}
}

func TestLibvirtForce(t *testing.T) {
	rec := newRecorder()
	rec.err["device_del"] = fmt.Errorf("wrapped: %w", &virt.TrackedError{Domain: "vm1", Command: "device_del", Hint: "virsh detach-device"})
	forced := newRecorder()
	opened := 0
	m := testModel(t, rec, Config{Force: func(context.Context) (qmp.Monitor, error) { opened++; return forced, nil }})
	m, _ = typeText(m, "device_del id=nic0")
	m, cmd := press(m, "enter")
	m, _ = typeText(m, "vm1")
	m, cmd = press(m, "enter") // confirm the destructive command
	m, _ = run(t, m, cmd)
	if st, _ := m.Status(); !strings.Contains(st, "libvirt tracks device_del") || !strings.Contains(st, "virsh detach-device") {
		t.Fatalf("status %q", st)
	}
	if opened != 0 || forced.sent("device_del") {
		t.Fatal("forced without asking")
	}
	m, _ = typeText(m, "vm1")
	m, cmd = press(m, "enter")
	m, _ = run(t, m, cmd)
	if opened != 1 || !forced.sent("device_del") {
		t.Fatalf("force: opened %d, calls %v", opened, forced.calls)
	}
	if ex := m.Exchanges(); len(ex) != 1 || !ex[0].Forced || ex[0].Err != nil {
		t.Errorf("exchanges %+v", ex)
	}
	if !errors.Is(rec.err["device_del"], virt.ErrTrackedByLibvirt) {
		t.Fatal("sentinel")
	}
}

func TestCopy(t *testing.T) {
	rec := newRecorder()
	rec.err["device_add"] = &qmp.Error{Command: "device_add", Class: "GenericError", Desc: "Duplicate ID 'n 1'"}
	m := testModel(t, rec, Config{})
	m, _ = typeText(m, `device_add driver=e1000 id="n 1"`)
	m, cmd := press(m, "enter")
	m, _ = run(t, m, cmd)
	if !strings.Contains(m.View(), "error GenericError: Duplicate ID 'n 1'") {
		t.Errorf("error not shown:\n%s", m.View())
	}
	_, cmd = press(m, "ctrl+y")
	got := fmt.Sprint(cmd())
	want := `{"execute":"device_add","arguments":{"driver":"e1000","id":"n 1"}}` + "\n" + `{"error":{"class":"GenericError","desc":"Duplicate ID 'n 1'"}}`
	if got != want {
		t.Errorf("copied JSON:\n%s\nwant\n%s", got, want)
	}
	_, cmd = press(m, "alt+y")
	if got := fmt.Sprint(cmd()); got != `qscope qmp vm1 device_add driver=e1000 'id="n 1"'` {
		t.Errorf("copied command line: %s", got)
	}
}

func TestViewFitsSize(t *testing.T) {
	m := testModel(t, newRecorder(), Config{})
	for _, sz := range [][2]int{{80, 24}, {120, 40}} {
		m.SetSize(sz[0], sz[1])
		m, _ = typeText(m, "q")
		m.guest.Name = strings.Repeat("long-guest-name-", 10)
		m.exchanges = append(m.exchanges, Exchange{Line: "x", Request: schema.Request{Command: "query-status"}, Reply: []byte(`{"status":"` + strings.Repeat("y", 300) + `"}`)})
		m.refresh()
		lines := strings.Split(m.View(), "\n")
		if len(lines) != sz[1] {
			t.Errorf("%dx%d: %d lines", sz[0], sz[1], len(lines))
		}
		for i, l := range lines {
			if w := lipgloss.Width(l); w > sz[0] {
				t.Errorf("%dx%d: line %d is %d wide: %q", sz[0], sz[1], i, w, l)
			}
		}
		m.input.SetValue("")
	}
	_ = time.Second
}

// A raw JSON request completes inside its strings, and Enter sends it.
func TestRawJSONCompletes(t *testing.T) {
	rec := newRecorder()
	rec.reply["query-status"] = `{"running":true,"status":"running"}`
	m := testModel(t, rec, Config{})
	m, _ = typeText(m, `{"execute":"query-st`)
	if cands, sel := m.Candidates(); len(cands) == 0 || cands[sel].Text != "query-status" {
		t.Fatalf("pop-up on a raw request: %+v", cands)
	}
	m, _ = press(m, "tab")
	if m.Value() != `{"execute":"query-status"` {
		t.Fatalf("after tab: %q", m.Value())
	}
	m, _ = typeText(m, "}")
	m, cmd := press(m, "enter")
	m, _ = run(t, m, cmd)
	if !rec.sent("query-status") || len(m.Exchanges()) != 1 {
		t.Fatalf("raw request not sent: calls %v", rec.calls)
	}
}

// A device_add property typed only by device-list-properties takes any
// text: what reads as the reported type is sent as that type, anything
// else as a string for QEMU to judge (a PCI addr "07.0" or "0x9").
func TestDevicePropTextIsSentAsString(t *testing.T) {
	rec := newRecorder()
	m := testModel(t, rec, Config{})
	m.live.DeviceTypes = []string{"virtio-net-pci"}
	m.live.DeviceProps = map[string][]schema.DeviceProp{"virtio-net-pci": {
		{Name: "addr", Type: "int32"}, {Name: "host_mtu", Type: "uint16"}, {Name: "mq", Type: "bool"},
	}}
	m.typesAsk, m.propsAsk["virtio-net-pci"] = true, true
	for _, tc := range []struct{ line, sent string }{
		{"device_add driver=virtio-net-pci id=nx1 addr=07.0", `{"driver":"virtio-net-pci","id":"nx1","addr":"07.0"}`},
		{"device_add driver=virtio-net-pci id=nx2 addr=0x9", `{"driver":"virtio-net-pci","id":"nx2","addr":"0x9"}`},
		{"device_add driver=virtio-net-pci id=nx3 addr=5 host_mtu=1500 mq=true", `{"driver":"virtio-net-pci","id":"nx3","addr":5,"host_mtu":1500,"mq":true}`},
		{`device_add driver=virtio-net-pci id=nx4 addr="6" mq=on`, `{"driver":"virtio-net-pci","id":"nx4","addr":"6","mq":"on"}`},
	} {
		m.input.SetValue("")
		var cmd tea.Cmd
		m, _ = typeText(m, tc.line)
		m, cmd = press(m, "enter")
		m, _ = run(t, m, cmd)
		if st, isErr := m.Status(); isErr {
			t.Errorf("%s: refused: %s", tc.line, st)
		}
		if want := "device_add " + tc.sent; !slices.Contains(rec.calls, want) {
			t.Errorf("%s: want %s sent; calls %v", tc.line, want, rec.calls)
		}
	}
}

// HMP prints its errors in a reply QMP counts as a success: the console
// shows such an exchange as failed, with the message and the output.
func TestHMPFailureShownAsFailed(t *testing.T) {
	for _, tc := range []struct{ line, output, msg string }{
		{"!system_wakeup", "Error: Unable to wake up: guest is not in suspended state\r\n", "Unable to wake up: guest is not in suspended state"},
		{"!nosuchcmd", "unknown command: 'nosuchcmd'\r\n", "unknown command: 'nosuchcmd'"},
	} {
		rec := newRecorder()
		out, _ := json.Marshal(tc.output)
		rec.reply["human-monitor-command"] = string(out)
		m := testModel(t, rec, Config{})
		m, cmd := typeText(m, tc.line)
		m, _ = run(t, m, cmd)
		m, cmd = press(m, "enter")
		m, _ = run(t, m, cmd)
		w := strings.Fields(tc.line[1:])[0]
		if st, isErr := m.Status(); !isErr || !strings.HasPrefix(st, "HMP "+w+" failed in ") {
			t.Errorf("%s: status %q (error %v)", tc.line, st, isErr)
		}
		ex := m.Exchanges()
		if len(ex) != 1 || ex[0].HMPFailed != tc.msg {
			t.Fatalf("%s: exchanges %+v", tc.line, ex)
		}
		v := m.View()
		if !strings.Contains(v, "error HMP: "+tc.msg) || !strings.Contains(v, strings.TrimSpace(tc.output)) {
			t.Errorf("%s: view lacks the failure or the output:\n%s", tc.line, v)
		}
	}
	// Output that is not an error is still ok.
	rec := newRecorder()
	rec.reply["human-monitor-command"] = `"VM status: paused\r\n"`
	m := testModel(t, rec, Config{})
	m, _ = typeText(m, "!info status")
	m, cmd := press(m, "enter")
	m, _ = run(t, m, cmd)
	if st, isErr := m.Status(); isErr || !strings.HasPrefix(st, "HMP info: ok") || strings.Contains(m.View(), "error HMP") {
		t.Errorf("info status: %q %v", st, isErr)
	}
}

// When libvirt refuses a command, the confirmation prompt itself says that
// typing the guest's name forces it past libvirt, and fits 80 columns.
func TestLibvirtForcePromptSaysForce(t *testing.T) {
	rec := newRecorder()
	rec.err["device_add"] = &virt.TrackedError{Domain: "review-1", Command: "device_add", Hint: "virsh attach-device"}
	m := testModel(t, rec, Config{Guest: discover.Guest{Name: "review-1", Owner: discover.OwnerLibvirt},
		Force: func(context.Context) (qmp.Monitor, error) { return newRecorder(), nil }})
	m.SetSize(80, 24)
	m, _ = typeText(m, "device_add driver=e1000 id=n1")
	m, cmd := press(m, "enter")
	m, _ = run(t, m, cmd)
	want := "confirm> type review-1 to force device_add past libvirt · esc cancels"
	screen := screenOf(t, m.View(), 80, 24)
	if !strings.Contains(screen, want) {
		t.Errorf("the prompt does not say it forces:\n%s", screen)
	}
	for i, l := range strings.Split(m.View(), "\n") {
		if w := lipgloss.Width(l); w > 80 {
			t.Errorf("line %d is %d wide", i, w)
		}
	}
	// Narrower, it keeps the part that says what typing the name does.
	m.SetSize(60, 24)
	if screen := screenOf(t, m.View(), 60, 24); !strings.Contains(screen, "confirm> type review-1 to force device_add past libvirt") {
		t.Errorf("at 60 columns:\n%s", screen)
	}
	m, _ = press(m, "esc")
	if m.Value() != "device_add driver=e1000 id=n1" {
		t.Errorf("cancel gave back %q", m.Value())
	}
}

// A schema that failed to load (QEMU stopped while the console opened) is
// loaded again on Enter; the line waits for a second Enter.
func TestSchemaReloadsOnEnter(t *testing.T) {
	rec := newRecorder()
	rec.err["query-version"] = errors.New("context deadline exceeded")
	m := New(Config{Monitor: rec, Guest: discover.Guest{Name: "vm1"}, HistoryPath: "-", Schema: &schema.Loader{NoCache: true}})
	m, _ = run(t, m, m.Init())
	if m.Schema() != nil || !strings.Contains(m.View(), "no schema (enter tries again)") {
		t.Fatalf("no hint in the error state:\n%s", m.View())
	}
	m, _ = typeText(m, "query-status")
	// Still stopped: the load fails again, and says so.
	m, cmd := press(m, "enter")
	if cmd == nil || !strings.Contains(m.View(), "loading schema…") {
		t.Fatalf("enter did not load the schema again:\n%s", m.View())
	}
	m, _ = run(t, m, cmd)
	if st, _ := m.Status(); !strings.Contains(st, "enter tries again") {
		t.Errorf("status after a second failure: %q", st)
	}
	// QEMU runs again.
	delete(rec.err, "query-version")
	rec.reply["query-version"] = `{"qemu":{"major":7,"minor":2,"micro":22},"package":""}`
	rec.reply["query-qmp-schema"] = mini
	m, cmd = press(m, "enter")
	m, _ = run(t, m, cmd)
	if m.Schema() == nil {
		t.Fatal("schema not loaded")
	}
	if st, _ := m.Status(); !strings.Contains(st, "enter sends the line") || m.Value() != "query-status" || rec.sent("query-status") {
		t.Errorf("after loading: status %q, line %q, calls %v", st, m.Value(), rec.calls)
	}
	m, cmd = press(m, "enter")
	m, _ = run(t, m, cmd)
	if !rec.sent("query-status") || len(m.Exchanges()) != 1 {
		t.Errorf("second enter did not send: %v", rec.calls)
	}
}

// Cancelling a confirmation gives back the line exactly as typed: an HMP
// line keeps its "!", so Enter sends it as HMP again.
func TestCancelKeepsHMPPrefix(t *testing.T) {
	rec := newRecorder()
	m := testModel(t, rec, Config{})
	m, _ = typeText(m, "!q")
	m, _ = press(m, "enter")
	if !m.WantsEsc() {
		t.Fatal("!q not held for confirmation")
	}
	m, _ = press(m, "esc")
	if m.Value() != "!q" {
		t.Fatalf("cancel gave back %q, want !q", m.Value())
	}
	m, _ = press(m, "enter")
	if st, _ := m.Status(); !strings.Contains(st, "HMP q is destructive") {
		t.Errorf("enter after cancel: %q", st)
	}
	m, _ = press(m, "esc")
	// Forcing an HMP line past libvirt, cancelled.
	rec.err["human-monitor-command"] = &virt.TrackedError{Domain: "vm1", Command: "human-monitor-command"}
	m = testModel(t, rec, Config{Force: func(context.Context) (qmp.Monitor, error) { return newRecorder(), nil }})
	m, _ = typeText(m, "!stop")
	m, cmd := press(m, "enter")
	m, _ = run(t, m, cmd)
	if !strings.Contains(m.View(), "to force HMP stop past libvirt") {
		t.Errorf("force prompt:\n%s", m.View())
	}
	m, _ = press(m, "esc")
	if m.Value() != "!stop" {
		t.Errorf("cancelled force gave back %q, want !stop", m.Value())
	}
}

// A line with a secret is not kept for ↑ either.
func TestSecretLineNotRecalled(t *testing.T) {
	rec := newRecorder()
	m := testModel(t, rec, Config{})
	m, _ = typeText(m, "!info status")
	m, cmd := press(m, "enter")
	m, _ = run(t, m, cmd)
	m, _ = typeText(m, "!set_password vnc hunter2")
	m, cmd = press(m, "enter")
	m, _ = run(t, m, cmd)
	m, _ = press(m, "up")
	if strings.Contains(m.Value(), "hunter2") {
		t.Fatalf("↑ recalls the secret line: %q", m.Value())
	}
	if m.Value() != "!info status" && m.Value() != "info status" {
		t.Errorf("↑ gives %q, want the line before the secret one", m.Value())
	}
}

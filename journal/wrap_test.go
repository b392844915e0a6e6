package journal_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/internal/qemutest"
	"github.com/qscope/qscope/journal"
	"github.com/qscope/qscope/qmp"
	"github.com/qscope/qscope/qmp/qmptest"
)

// TestWrapRealQEMU sends read-only, changing and failing commands through
// a wrapped monitor to real QEMU and checks what the journal holds.
func TestWrapRealQEMU(t *testing.T) {
	for _, b := range qemutest.Binaries(t) {
		t.Run(b.String(), func(t *testing.T) {
			inst := qemutest.Start(t, b, qemutest.Options{Machine: "none", MemoryMB: 16, Name: "jw"})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c, err := qmp.Dial(ctx, inst.Monitors[0].Network, inst.Monitors[0].Address)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "journal.jsonl")
			j, err := journal.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			g := discover.Guest{Name: "jw", PID: inst.PID, UUID: "u-1", Owner: discover.OwnerProcess, Monitor: inst.Monitors[0].Address}
			m := journal.Wrap(c, j, journal.SessionFor(g, "test"))
			defer m.Close()

			var st struct{ Status string }
			if err := m.Execute(ctx, "query-status", nil, &st); err != nil || st.Status != "running" {
				t.Fatalf("query-status: %v %+v", err, st)
			}
			if err := m.Execute(ctx, "stop", nil, nil); err != nil {
				t.Fatal(err)
			}
			var hmp string
			if err := m.Execute(ctx, "human-monitor-command", map[string]any{"command-line": "info status"}, &hmp); err != nil || hmp == "" {
				t.Fatalf("hmp info: %v %q", err, hmp)
			}
			err = m.Execute(ctx, "device_del", json.RawMessage(`{"id":"no-such-device"}`), nil)
			var qe *qmp.Error
			if !errors.As(err, &qe) || qe.Class != "DeviceNotFound" && qe.Class != "GenericError" {
				t.Fatalf("device_del of nothing: %v", err)
			}
			if err := m.Execute(ctx, "object-add", map[string]any{"qom-type": "secret", "id": "s0", "data": "hunter2"}, nil); err != nil {
				t.Fatal(err)
			}
			// An HMP command that fails succeeds for QMP: the failure is in
			// its output, and the journal records it as one.
			var wake string
			if err := m.Execute(ctx, "human-monitor-command", map[string]any{"command-line": "system_wakeup"}, &wake); err != nil {
				t.Fatal(err)
			}
			if err := m.Execute(ctx, "stop", "not an object", nil); !errors.Is(err, qmp.ErrInvalid) {
				t.Fatalf("bad arguments: %v", err)
			}

			var recs []journal.Record
			for r, err := range journal.Read(ctx, path, journal.Filter{Target: "jw"}) {
				if err != nil {
					t.Fatal(err)
				}
				recs = append(recs, r)
			}
			if len(recs) != 4 {
				t.Fatalf("%d records, want 4 (stop, device_del, object-add, HMP system_wakeup): %+v", len(recs), recs)
			}
			if r := recs[3]; r.Command != "human-monitor-command" || r.Error == nil || r.Error.Class != journal.HMPErrorClass || r.Error.Desc == "" || len(r.Result) == 0 {
				t.Errorf("failed HMP command recorded as %+v (output %q)", r, wake)
			}
			if r := recs[0]; r.Command != "stop" || r.Class != "changing" || r.Route != "socket" || r.Guest.PID != inst.PID || r.Guest.UUID != "u-1" || r.Client != "test" || string(r.Result) != "{}" || r.Error != nil || r.Via != inst.Monitors[0].Address {
				t.Errorf("stop record %+v", r)
			}
			if r := recs[1]; r.Command != "device_del" || r.Class != "destructive" || r.Error == nil || r.Error.Class != qe.Class || r.Error.Desc != qe.Desc || string(r.Arguments) != `{"id":"no-such-device"}` {
				t.Errorf("device_del record %+v", r)
			}
			if r := recs[2]; r.Command != "object-add" || string(r.Arguments) != `{"data":"(redacted)","id":"s0","qom-type":"secret"}` {
				t.Errorf("object-add record %+v args %s", r, r.Arguments)
			}
			raw, _ := os.ReadFile(path)
			if json.Valid(raw) || len(raw) == 0 {
				t.Errorf("journal is not JSON lines: %q", raw)
			}
		})
	}
}

// TestWrapJournalFailure: when the record cannot be written the command
// has still run and the caller is told.
func TestWrapJournalFailure(t *testing.T) {
	srv := &qmptest.Server{}
	c, err := qmp.NewClient(context.Background(), srv.Pipe(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	j, err := journal.Open(filepath.Join(t.TempDir(), "j.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	j.Close() // appends now fail
	m := journal.Wrap(c, j, journal.Session{Guest: journal.Target{Name: "x"}})
	err = m.Execute(context.Background(), "stop", nil, nil)
	if !errors.Is(err, journal.ErrNotJournaled) {
		t.Errorf("unjournaled command: %v", err)
	}
	if err := m.Execute(context.Background(), "query-status", nil, nil); err != nil {
		t.Errorf("read-only commands need no journal: %v", err)
	}
}

// Wrap journals what changes a guest and lets queries through.
func ExampleWrap() {
	srv := &qmptest.Server{Handle: func(c *qmptest.Conn, r qmptest.Request) {
		if r.Command() == "device_del" {
			c.ReplyError(r, "DeviceNotFound", "Device 'net9' not found")
			return
		}
		c.Reply(r, map[string]any{})
	}}
	dir, _ := os.MkdirTemp("", "journal-example")
	defer os.RemoveAll(dir)
	l, _ := net.Listen("unix", filepath.Join(dir, "qmp.sock"))
	go srv.Serve(l)
	defer func() { l.Close(); srv.Close() }()
	c, err := qmp.Dial(context.Background(), "unix", filepath.Join(dir, "qmp.sock"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	j, _ := journal.Open(filepath.Join(dir, "journal.jsonl"))
	defer j.Close()
	m := journal.Wrap(c, j, journal.Session{Guest: journal.Target{Name: "vm1", PID: 42}, Route: "socket", Client: "example"})
	ctx := context.Background()
	m.Execute(ctx, "query-status", nil, nil)
	m.Execute(ctx, "stop", nil, nil)
	m.Execute(ctx, "device_del", map[string]string{"id": "net9"}, nil)

	for r := range j.Records(ctx, journal.Filter{Target: "vm1"}) {
		outcome := "ok"
		if r.Error != nil {
			outcome = r.Error.Class
		}
		fmt.Println(r.Guest.Name, r.Command, r.Class, string(r.Arguments), outcome)
	}
	// Output:
	// vm1 stop changing  ok
	// vm1 device_del destructive {"id":"net9"} DeviceNotFound
}

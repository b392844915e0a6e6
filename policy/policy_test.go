package policy

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/qscope/qscope/internal/qemutest"
	"github.com/qscope/qscope/qmp"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestClassify(t *testing.T) {
	tests := []struct {
		cmd  string
		args string
		want Class
	}{
		{"query-status", "", ReadOnly},
		{"query-qmp-schema", "", ReadOnly},
		{"x-query-virtio", "", ReadOnly},
		{"x-debug-query-block-graph", "", ReadOnly},
		{"qom-get", `{"path":"/machine","property":"type"}`, ReadOnly},
		{"qom-list", `{"path":"/"}`, ReadOnly},
		{"qom-list-types", "", ReadOnly},
		{"qom-list-properties", `{"typename":"virtio-net-pci"}`, ReadOnly},
		{"device-list-properties", `{"typename":"e1000"}`, ReadOnly},
		{"qmp_capabilities", "", ReadOnly},
		{"human-monitor-command", `{"command-line":"info status"}`, ReadOnly},
		{"human-monitor-command", `{"command-line":"  info   registers"}`, ReadOnly},
		{"human-monitor-command", `{"command-line":"x/4x 0"}`, ReadOnly},
		{"human-monitor-command", `{"command-line":"help"}`, ReadOnly},

		{"stop", "", Changing},
		{"cont", "", Changing},
		{"device_add", `{"driver":"e1000"}`, Changing},
		{"qom-set", `{"path":"/x","property":"y","value":1}`, Changing},
		{"blockdev-add", `{"driver":"null-co","node-name":"n"}`, Changing},
		{"ringbuf-read", `{"device":"r","size":10}`, Changing}, // reading drains the buffer
		{"job-dismiss", `{"id":"j"}`, Changing},
		{"migrate_cancel", "", Changing},
		{"human-monitor-command", `{"command-line":"stop"}`, Changing},
		{"human-monitor-command", `{"command-line":""}`, Changing},
		{"human-monitor-command", "", Changing},
		{"human-monitor-command", `not json`, Changing},
		{"some-future-command", "", Changing},
		{"Query-status", "", Changing}, // names match exactly
		{"__com.redhat_drive_add", "", Changing},
		{"", "", Changing},
		{"transaction", `{"actions":[{"type":"block-dirty-bitmap-add","data":{}}]}`, Changing},

		{"quit", "", Destructive},
		{"system_reset", "", Destructive},
		{"system_powerdown", "", Destructive},
		{"device_del", `{"id":"net0"}`, Destructive},
		{"blockdev-del", `{"node-name":"n"}`, Destructive},
		{"block-job-cancel", `{"device":"j"}`, Destructive},
		{"job-cancel", `{"id":"j"}`, Destructive},
		{"migrate", `{"uri":"tcp:1.2.3.4:4444"}`, Destructive},
		{"object-del", `{"id":"o"}`, Destructive},
		{"netdev_del", `{"id":"n"}`, Destructive},
		{"chardev-remove", `{"id":"c"}`, Destructive},
		{"eject", `{"id":"cd0"}`, Destructive},
		{"inject-nmi", "", Destructive},
		{"snapshot-load", "", Destructive},
		{"human-monitor-command", `{"command-line":"q"}`, Destructive},
		{"human-monitor-command", `{"command-line":"quit"}`, Destructive},
		{"human-monitor-command", `{"command-line":"system_reset"}`, Destructive},
		{"human-monitor-command", `{"command-line":"device_del net0"}`, Destructive},
		{"human-monitor-command", `{"command-line":"drive_del d0"}`, Destructive},
		{"transaction", `{"actions":[{"type":"block-dirty-bitmap-add"},{"type":"block-dirty-bitmap-clear"}]}`, Destructive},
		// Keys: ctrl-alt-delete and sysrq reboot or crash a guest; others type.
		{"send-key", `{"keys":[{"type":"qcode","data":"ctrl"},{"type":"qcode","data":"alt"},{"type":"qcode","data":"delete"}]}`, Destructive},
		{"send-key", `{"keys":[{"type":"qcode","data":"alt"},{"type":"qcode","data":"sysrq"},{"type":"qcode","data":"b"}]}`, Destructive},
		{"send-key", `{"keys":[{"type":"qcode","data":"ctrl"},{"type":"qcode","data":"alt"},{"type":"qcode","data":"f2"}]}`, Changing},
		{"send-key", `{"keys":[{"type":"number","data":29}]}`, Changing},
		{"send-key", "", Changing},
		{"human-monitor-command", `{"command-line":"sendkey ctrl-alt-delete"}`, Destructive},
		{"human-monitor-command", `{"command-line":"sendkey  alt-sysrq-b 100"}`, Destructive},
		{"human-monitor-command", `{"command-line":"sendkey ctrl-c"}`, Changing},
		// QEMU splits HMP lines on any whitespace; keys may be scancodes.
		{"human-monitor-command", "{\"command-line\":\"device_del\\tnet0\"}", Destructive},
		{"human-monitor-command", "{\"command-line\":\"quit\\tnow\"}", Destructive},
		{"human-monitor-command", "{\"command-line\":\"sendkey\\tctrl-alt-delete\"}", Destructive},
		{"human-monitor-command", `{"command-line":"sendkey 0x1d-0x38-0xd3"}`, Destructive},
		{"human-monitor-command", `{"command-line":"sendkey alt-print-b"}`, Destructive},
		{"send-key", `{"keys":[{"type":"number","data":29},{"type":"number","data":56},{"type":"number","data":211}]}`, Destructive},
		{"send-key", `{"keys":[{"type":"qcode","data":"alt"},{"type":"qcode","data":"print"}]}`, Destructive},
		// Writing a file on the host, as QEMU's user.
		{"screendump", `{"filename":"/etc/passwd"}`, Destructive},
		{"pmemsave", "", Destructive},
		{"dump-guest-memory", "", Destructive},
		{"human-monitor-command", `{"command-line":"screendump /etc/passwd"}`, Destructive},
		{"human-monitor-command", `{"command-line":"memsave 0 10 /etc/passwd"}`, Destructive},
	}
	for _, tt := range tests {
		var args json.RawMessage
		if tt.args != "" {
			args = json.RawMessage(tt.args)
		}
		if got := Classify(tt.cmd, args); got != tt.want {
			t.Errorf("Classify(%q, %s) = %s, want %s", tt.cmd, tt.args, got, tt.want)
		}
		if IsReadOnly(tt.cmd, args) != (tt.want == ReadOnly) {
			t.Errorf("IsReadOnly(%q) disagrees with Classify", tt.cmd)
		}
	}
}

// TestNamesAreRealCommands asks real QEMU 7.2 and 10.0 for their command
// lists: every name the tables give a class must exist in at least one of
// them (a typo would silently fall back to Changing), and every command
// the schema marks as a query must be read-only.
func TestNamesAreRealCommands(t *testing.T) {
	real := map[string]bool{}
	for _, b := range qemutest.Binaries(t) {
		inst := qemutest.Start(t, b, qemutest.Options{Machine: "none", MemoryMB: 16})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		c, err := qmp.Dial(ctx, inst.Monitors[0].Network, inst.Monitors[0].Address)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		var schema []struct {
			Name     string `json:"name"`
			MetaType string `json:"meta-type"`
		}
		err = c.Execute(ctx, "query-qmp-schema", nil, &schema)
		c.Close()
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range schema {
			if e.MetaType == "command" {
				real[e.Name] = true
				n++
				if (strings.HasPrefix(e.Name, "query-") || strings.HasPrefix(e.Name, "x-query-")) && Classify(e.Name, nil) != ReadOnly {
					t.Errorf("%s: %s is not read-only", b, e.Name)
				}
			}
		}
		if n < 200 {
			t.Fatalf("%s: only %d commands in the schema", b, n)
		}
	}
	// Names kept for other QEMU versions or builds than the two tested.
	elsewhere := map[string]bool{"x-blockdev-del": true, "cpu-del": true, "drive_del": true, "qom-list-get": true, "snapshot-load": false}
	for _, table := range []map[string]bool{readOnly, destructive} {
		for name := range table {
			if !real[name] && !elsewhere[name] {
				t.Errorf("%q is classed but is not a command of the QEMU versions tested", name)
			}
		}
	}
}

func TestClassText(t *testing.T) {
	b, err := json.Marshal(map[string]Class{"a": ReadOnly, "b": Changing, "c": Destructive})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"a":"read-only","b":"changing","c":"destructive"}` {
		t.Errorf("%s", b)
	}
}

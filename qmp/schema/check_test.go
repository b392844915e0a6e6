package schema_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/qscope/qscope/internal/qemutest"
	"github.com/qscope/qscope/qmp"
	"github.com/qscope/qscope/qmp/schema"
)

// liveOf fetches the device types and properties a console would.
//
// The device types need qom-list-types, which makes QEMU load every
// module: each build runs with its own modules (qemutest's Binary.Env).
// liveSchema starts a guest of b and loads its schema (uncached) and its
// live values for completion and checks.
func liveSchema(t testing.TB, b qemutest.Binary) (*guest, *schema.Schema, *schema.Live) {
	t.Helper()
	g := startGuest(t, b)
	s, err := (&schema.Loader{NoCache: true}).Load(context.Background(), g.client)
	if err != nil {
		t.Fatal(err)
	}
	return g, s, liveOf(t, b, g.client)
}

func liveOf(t testing.TB, b qemutest.Binary, c qmp.Monitor) *schema.Live {
	t.Helper()
	ctx := context.Background()
	live := &schema.Live{DeviceProps: map[string][]schema.DeviceProp{}}
	var types []struct{ Name string }
	if err := c.Execute(ctx, "qom-list-types", map[string]any{"implements": "device", "abstract": false}, &types); err != nil {
		t.Fatalf("%s: qom-list-types: %v", b, err)
	}
	for _, x := range types {
		live.DeviceTypes = append(live.DeviceTypes, x.Name)
	}
	slices.Sort(live.DeviceTypes)
	var props []schema.DeviceProp
	if err := c.Execute(ctx, "device-list-properties", map[string]any{"typename": "virtio-net-pci"}, &props); err != nil {
		t.Fatal(err)
	}
	live.DeviceProps["virtio-net-pci"] = props
	return live
}

// TestCheckSendsNothingOnBadInput checks lines against the live schema
// of real QEMUs: bad lines get a message naming the problem and QEMU never
// sees them (the transcript has no request); good lines are accepted by
// QEMU as they are built.
func TestCheckSendsNothingOnBadInput(t *testing.T) {
	for _, b := range qemutest.Binaries(t) {
		t.Run(b.String(), func(t *testing.T) {
			g, s, live := liveSchema(t, b)
			ctx := context.Background()
			bad := []struct{ line, want string }{
				{"query-status foo=1", `query-status: unknown argument "foo"`},
				{"device_add", `device_add: missing required argument "driver"`},
				{"device_add id=x", `device_add: missing required argument "driver"`},
				{"query-stauts", `unknown command "query-stauts"; did you mean query-status?`},
				{"set_link name=n0 up=yes", `set_link: up: want bool (true or false), got "yes"`},
				{"balloon value=lots", `balloon: value: want int, got "lots"`},
				{"blockdev-add driver=raw node-name=n file=f discard=bogus", `blockdev-add: discard: "bogus" is not one of ignore|unmap`},
				{"blockdev-add driver=nosuch node-name=n", `blockdev-add: driver: "nosuch" is not one of`},
				{"blockdev-add node-name=n filename=/x", `blockdev-add: missing required argument "driver"`},
				{"blockdev-add driver=file node-name=n", `blockdev-add: missing required argument "filename"`},
				{"chardev-add id=c backend.type=socket backend.data.nope=1", `chardev-add: unknown argument "backend.data.nope"`},
				{`{"execute":"query-status","arguments":{"x":1}}`, `query-status: unknown argument "x"`},
				{`{"execute":"balloon","arguments":{"value":"1"}}`, `balloon: value: want int, got "1"`},
				{`{"execute":"nope"}`, `unknown command "nope"`},
				{"migrate-set-capabilities capabilities=[{\"capability\":\"bogus\",\"state\":true}]", `is not one of`},
				{"qom-get path=/machine", `qom-get: missing required argument "property"`},
				{"query-status x", `query-status: "x" is not key=value`},
				{"human-monitor-command command-line='info status", `unterminated quote`},
				{"migrate-set-capabilities capabilities.x.state=true", `index it with 0, 1, 2`},
				{"migrate-set-capabilities capabilities.1.capability=xbzrle capabilities.1.state=true", `leaves a gap`},
			}
			before := len(g.tr.Sent())
			for _, tc := range bad {
				_, err := s.Check(tc.line, live)
				var ie *schema.InputError
				if !errors.As(err, &ie) {
					t.Errorf("%s: got %v, want an InputError", tc.line, err)
					continue
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s:\n got  %s\n want %s", tc.line, err, tc.want)
				}
			}
			if sent := g.tr.Sent()[before:]; len(sent) != 0 {
				t.Errorf("bad input reached QEMU: %q", sent)
			}

			// Good lines: typed by the schema, and QEMU accepts them.
			good := []struct{ line, args string }{
				{"query-status", ``},
				{"qom-get path=/machine property=type", `{"path":"/machine","property":"type"}`},
				{"human-monitor-command command-line=\"info status\"", `{"command-line":"info status"}`},
				{"blockdev-add driver=null-co node-name=n0 size=4096", `{"driver":"null-co","node-name":"n0","size":4096}`},
				{"blockdev-add driver=raw node-name=r0 file=n0 read-only=true", `{"driver":"raw","node-name":"r0","file":"n0","read-only":true}`},
				{"block-dirty-bitmap-add node=r0 name=123", `{"node":"r0","name":"123"}`},
				{"chardev-add id=c0 backend.type=null backend.data={}", `{"id":"c0","backend":{"type":"null","data":{}}}`},
				{"device_add driver=virtio-net-pci id=nic9 mac=52:54:00:12:34:56 mq=true", `{"driver":"virtio-net-pci","id":"nic9","mac":"52:54:00:12:34:56","mq":true}`},
				{`{"execute":"query-name"}`, ``},
				{"migrate-set-capabilities capabilities=[{\"capability\":\"xbzrle\",\"state\":true}]", `{"capabilities":[{"capability":"xbzrle","state":true}]}`},
				// Dotted keys index arrays, as QEMU's own key=value syntax does.
				{"migrate-set-capabilities capabilities.0.capability=xbzrle capabilities.0.state=true capabilities.1.capability=events capabilities.1.state=false",
					`{"capabilities":[{"capability":"xbzrle","state":true},{"capability":"events","state":false}]}`},
			}
			for _, tc := range good {
				req, err := s.Check(tc.line, live)
				if err != nil {
					t.Errorf("%s: %v", tc.line, err)
					continue
				}
				if string(req.Args) != tc.args {
					t.Errorf("%s: args %s, want %s", tc.line, req.Args, tc.args)
				}
				var args any
				if len(req.Args) > 0 {
					args = json.RawMessage(req.Args)
				}
				if err := g.client.Execute(ctx, req.Command, args, nil); err != nil {
					t.Errorf("%s: QEMU refused what Check built: %v", tc.line, err)
				}
			}
		})
	}
}

// TestNamesOnlyFallback: a QEMU without query-qmp-schema (injected: real
// ones all have it) gets a names-only schema from query-commands.
func TestNamesOnly(t *testing.T) {
	s, err := schema.FromCommandNames([]string{"query-status", "cont", "stop"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Check("query-status anything=1", nil); err != nil {
		t.Errorf("names-only schema checked arguments: %v", err)
	}
	if _, err := s.Check("query-nope", nil); err == nil {
		t.Error("unknown command accepted")
	}
	c := s.Complete("co", 2, nil)
	if len(c.Candidates) != 1 || c.Candidates[0].Text != "cont" {
		t.Errorf("completion: %+v", c.Candidates)
	}
	if _, err := schema.FromCommandNames(nil); err == nil {
		t.Error("empty command list accepted")
	}
}

func TestParseErrors(t *testing.T) {
	for name, raw := range map[string]string{
		"not json":       `{`,
		"not an array":   `{"name":"x"}`,
		"undefined type": `[{"name":"q","meta-type":"command","arg-type":"7","ret-type":"7"}]`,
		"bad meta-type":  `[{"name":"q","meta-type":"thing"}]`,
		"no commands":    `[{"name":"str","meta-type":"builtin","json-type":"string"}]`,
	} {
		if _, err := schema.Parse([]byte(raw)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestDevicePropsTakeStrings: device-list-properties reports addr as an
// integer, but QEMU takes a PCI address as a string (slot.function, or
// hex). A device property typed only from device-list-properties is sent
// as a string when its text does not read as the reported type, and QEMU
// accepts it; text that reads as the type keeps it. Arguments typed by the
// QMP schema itself stay strict.
func TestDevicePropsTakeStrings(t *testing.T) {
	for _, b := range qemutest.Binaries(t) {
		t.Run(b.String(), func(t *testing.T) {
			g, s, live := liveSchema(t, b)
			ctx := context.Background()
			// 7.2 reports addr as int32, 10.0 as str; host_mtu is uint16 and
			// mq bool in both.
			types := map[string]string{}
			for _, p := range live.DeviceProps["virtio-net-pci"] {
				types[p.Name] = p.Type
			}
			if b.Major() < 10 && types["addr"] != "int32" {
				t.Errorf("7.2 reports addr as %q, not int32", types["addr"])
			}
			if types["host_mtu"] != "uint16" || types["mq"] != "bool" {
				t.Errorf("host_mtu is %q, mq %q", types["host_mtu"], types["mq"])
			}
			for _, tc := range []struct{ line, args string }{
				{"device_add driver=virtio-net-pci id=nx1 addr=07.0", `{"driver":"virtio-net-pci","id":"nx1","addr":"07.0"}`},
				{"device_add driver=virtio-net-pci id=nx2 addr=0x9", `{"driver":"virtio-net-pci","id":"nx2","addr":"0x9"}`},
				{"device_add driver=virtio-net-pci id=nx3 host_mtu=1500 mq=true", `{"driver":"virtio-net-pci","id":"nx3","host_mtu":1500,"mq":true}`},
			} {
				req, err := s.Check(tc.line, live)
				if err != nil {
					t.Errorf("%s: %v", tc.line, err)
					continue
				}
				if string(req.Args) != tc.args {
					t.Errorf("%s: args %s, want %s", tc.line, req.Args, tc.args)
				}
				if err := g.client.Execute(ctx, req.Command, json.RawMessage(req.Args), nil); err != nil {
					t.Errorf("%s: QEMU refused what Check built: %v", tc.line, err)
				}
			}
			// Check leaves the rest to QEMU: 7.2 reads device_add's
			// arguments as -device options and takes mq=on, 10.0 wants a
			// boolean for mq and says so.
			req, err := s.Check("device_add driver=virtio-net-pci id=nx4 mq=on", live)
			if err != nil || string(req.Args) != `{"driver":"virtio-net-pci","id":"nx4","mq":"on"}` {
				t.Fatalf("mq=on: %s %v", req.Args, err)
			}
			err = g.client.Execute(ctx, req.Command, json.RawMessage(req.Args), nil)
			if b.Major() < 10 && err != nil {
				t.Errorf("7.2 refused mq=on: %v", err)
			}
			if b.Major() >= 10 && (err == nil || !strings.Contains(err.Error(), "boolean")) {
				t.Errorf("10.0 on mq=on: %v", err)
			}
			// The QMP schema's own types are not loosened.
			for _, tc := range []struct{ line, want string }{
				{"blockdev-add driver=null-co node-name=z0 size=1G", `blockdev-add: size: want int, got "1G"`},
			} {
				if _, err := s.Check(tc.line, live); err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: got %v, want %s", tc.line, err, tc.want)
				}
			}
		})
	}
}

package virt

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	libvirt "github.com/digitalocean/go-libvirt"
	"go.uber.org/goleak"

	"github.com/qscope/qscope/qmp"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseURI(t *testing.T) {
	for _, tc := range []struct {
		in        string
		transport string
		open      string
		local     bool
		socket    string
		err       string
	}{
		{in: "", transport: "unix", open: "qemu:///system", local: true},
		{in: "qemu:///system", transport: "unix", open: "qemu:///system", local: true},
		{in: "qemu+unix:///system?socket=/tmp/x.sock", transport: "unix", open: "qemu:///system", local: true, socket: "/tmp/x.sock"},
		{in: "qemu:///session", transport: "unix", open: "qemu:///session", local: true},
		{in: "qemu+ssh://root@host.example/system", transport: "ssh", open: "qemu:///system"},
		{in: "qemu+libssh2://host.example:2222/system?known_hosts_verify=auto", transport: "libssh", open: "qemu:///system"},
		{in: "qemu+tls://host.example/system", transport: "tls", open: "qemu:///system"},
		{in: "qemu://host.example/system", transport: "tls", open: "qemu:///system"},
		{in: "qemu+tcp://host.example:16509/session", transport: "tcp", open: "qemu:///session"},
		{in: "xen:///system", err: `driver "xen" is not qemu`},
		{in: "qemu:///nothing", err: `path "/nothing"`},
		{in: "qemu+carrier-pigeon://h/system", err: `unsupported transport "carrier-pigeon"`},
		{in: "qemu+ssh:///system", err: "needs a host"},
		{in: "qemu+unix:///system?socket=relative.sock", err: "not an absolute path"},
		{in: "qemu+unix://host/system", err: "takes no host"},
	} {
		got, err := ParseURI(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseURI(%q) = %+v, %v; want error containing %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseURI(%q): %v", tc.in, err)
			continue
		}
		if got.Transport != tc.transport || got.Open != tc.open || got.Local() != tc.local {
			t.Errorf("ParseURI(%q) = %+v (local %v); want transport %s, open %s, local %v", tc.in, got, got.Local(), tc.transport, tc.open, tc.local)
		}
		if tc.socket != "" && got.Socket != tc.socket {
			t.Errorf("ParseURI(%q).Socket = %q, want %q", tc.in, got.Socket, tc.socket)
		}
		if _, err := got.dialer(); err != nil {
			t.Errorf("ParseURI(%q).dialer(): %v", tc.in, err)
		}
	}
}

// packet builds one libvirt RPC packet as the daemon sends it.
func packet(program, proc, typ uint32, payload []byte) []byte {
	b := make([]byte, headerLen, headerLen+len(payload))
	binary.BigEndian.PutUint32(b[0:], uint32(headerLen+len(payload)))
	binary.BigEndian.PutUint32(b[4:], program)
	binary.BigEndian.PutUint32(b[8:], 1)
	binary.BigEndian.PutUint32(b[12:], proc)
	binary.BigEndian.PutUint32(b[16:], typ)
	return append(b, payload...)
}

type xdrWriter []byte

func (w *xdrWriter) u32(v uint32) { *w = binary.BigEndian.AppendUint32(*w, v) }
func (w *xdrWriter) str(s string) {
	w.u32(uint32(len(s)))
	*w = append(*w, s...)
	for len(*w)%4 != 0 {
		*w = append(*w, 0)
	}
}
func (w *xdrWriter) dom(name string, uuid byte, id int32) {
	w.str(name)
	u := make([]byte, 16)
	u[15] = uuid
	*w = append(*w, u...)
	w.u32(uint32(id))
}

func monitorEvent(dom string, uuid byte, name string, data *string) []byte {
	var w xdrWriter
	w.u32(7) // callback id
	w.dom(dom, uuid, 3)
	w.str(name)
	w = binary.BigEndian.AppendUint64(w, 1700000000)
	w.u32(250)
	if data == nil {
		w.u32(0)
	} else {
		w.u32(1)
		w.str(*data)
	}
	return packet(programQEMU, procQEMUMonitorEvent, typeMessage, w)
}

func TestWireFollowsEventsWithAndWithoutData(t *testing.T) {
	data := `{"reason":"host-qmp-system-reset","guest":false}`
	var stream []byte
	// A reply to a call (same program and procedure numbers as nothing
	// we keep), then events, then a lifecycle event, then a stream packet.
	stream = append(stream, packet(programQEMU, 1, 1, []byte(`{"return":{}}`+"\x00\x00\x00"))...)
	stream = append(stream, monitorEvent("vm1", 1, "STOP", nil)...)
	stream = append(stream, monitorEvent("vm-two", 2, "RESET", &data)...)
	var lc xdrWriter
	lc.u32(9)
	lc.dom("vm1", 1, 3)
	lc.u32(lifecycleStopped)
	lc.u32(1)
	stream = append(stream, packet(programRemote, procLifecycleEvent, typeMessage, lc)...)
	stream = append(stream, packet(programRemote, 209, 3, make([]byte, 4096))...)
	stream = append(stream, monitorEvent("vm1", 1, "RESUME", nil)...)

	for _, chunk := range []int{1, 3, 7, 64, len(stream)} {
		var evs []wireEvent
		var lcs []lifecycle
		c := &tapConn{onEvent: func(e wireEvent) { evs = append(evs, e) }, onLifecycle: func(l lifecycle) { lcs = append(lcs, l) }}
		for b := stream; len(b) > 0; {
			k := min(chunk, len(b))
			c.follow(b[:k])
			b = b[k:]
		}
		if len(evs) != 3 || len(lcs) != 1 {
			t.Fatalf("chunk %d: got %d events and %d lifecycle events, want 3 and 1", chunk, len(evs), len(lcs))
		}
		if evs[0].name != "STOP" || evs[0].data != nil || evs[0].domain.Name != "vm1" || evs[0].domain.UUID[15] != 1 {
			t.Errorf("chunk %d: first event %+v, want STOP without data for vm1", chunk, evs[0])
		}
		if evs[1].name != "RESET" || string(evs[1].data) != data || evs[1].seconds != 1700000000 || evs[1].micros != 250 {
			t.Errorf("chunk %d: second event %+v, want RESET with %s", chunk, evs[1], data)
		}
		if evs[2].name != "RESUME" || evs[2].data != nil {
			t.Errorf("chunk %d: third event %+v, want RESUME without data", chunk, evs[2])
		}
		if lcs[0].event != lifecycleStopped || lcs[0].detail != 1 || lcs[0].domain.Name != "vm1" {
			t.Errorf("chunk %d: lifecycle %+v, want stopped/destroyed for vm1", chunk, lcs[0])
		}
	}
}

func TestWireStopsOnBadFraming(t *testing.T) {
	var n int
	c := &tapConn{onEvent: func(wireEvent) { n++ }}
	bad := packet(programQEMU, procQEMUMonitorEvent, typeMessage, nil)
	binary.BigEndian.PutUint32(bad[0:], 3) // shorter than a header
	c.follow(bad)
	c.follow(monitorEvent("vm", 1, "STOP", nil))
	if !c.broken || n != 0 {
		t.Fatalf("after a bad length: broken=%v events=%d, want broken and none", c.broken, n)
	}
}

func TestParseReply(t *testing.T) {
	ret, err := parseReply("query-status", `{"return":{"status":"running","running":true},"id":"libvirt-12"}`)
	if err != nil || string(ret) != `{"status":"running","running":true}` {
		t.Errorf("return reply: %s, %v", ret, err)
	}
	_, err = parseReply("nosuch", `{"id":"libvirt-13","error":{"class":"CommandNotFound","desc":"The command nosuch has not been found"}}`)
	var qe *qmp.Error
	if !errors.As(err, &qe) || qe.Class != "CommandNotFound" || qe.Command != "nosuch" || !strings.Contains(qe.Desc, "nosuch") {
		t.Errorf("error reply: %v (%#v)", err, qe)
	}
	if _, err := parseReply("x", `not json`); !errors.Is(err, qmp.ErrProtocol) {
		t.Errorf("garbage reply: %v, want ErrProtocol", err)
	}
	if _, err := parseReply("x", `{"id":"libvirt-1"}`); !errors.Is(err, qmp.ErrProtocol) {
		t.Errorf("reply without return: %v, want ErrProtocol", err)
	}
}

func TestHarmlessHMP(t *testing.T) {
	for line, want := range map[string]bool{"info status": true, "  info  registers": true, "i status": true, "stop": false, "device_add e1000": false, "": false} {
		a, _ := json.Marshal(map[string]string{"command-line": line})
		if got := harmlessHMP("human-monitor-command", a); got != want {
			t.Errorf("harmlessHMP(%q) = %v, want %v", line, got, want)
		}
	}
}

func TestParseTaints(t *testing.T) {
	got := parseTaints([]string{"tainted: custom monitor control commands issued", "tainted: something new", "deprecated configuration: x"})
	if strings.Join(got, ",") != "custom-monitor,something new" {
		t.Errorf("parseTaints = %q", got)
	}
}

func TestFormatUUID(t *testing.T) {
	var u libvirt.UUID
	for i := range u {
		u[i] = byte(i * 17)
	}
	if got := formatUUID(u); got != "00112233-4455-6677-8899-aabbccddeeff" {
		t.Errorf("formatUUID = %s", got)
	}
}

func TestTrackedErrorIs(t *testing.T) {
	err := error(&TrackedError{Domain: "web", Command: "device_add", Hint: "virsh attach-device"})
	if !errors.Is(err, ErrTrackedByLibvirt) || !errors.Is(err, qmp.ErrInvalid) || !strings.Contains(err.Error(), "virsh attach-device") || !strings.Contains(err.Error(), `"web"`) {
		t.Errorf("TrackedError: %v", err)
	}
}

func TestNativeOp(t *testing.T) {
	for _, tc := range []struct {
		command string
		args    string
		native  bool
	}{
		{"stop", "", true},
		{"cont", "{}", true},
		{"system_reset", "{ }", true},
		{"system_powerdown", "", true},
		{"system_reset", `{"x":1}`, false}, // QEMU answers for itself
		{"quit", "", false},
		{"query-status", "", false},
		{"human-monitor-command", `{"command-line":"stop"}`, false},
	} {
		var a json.RawMessage
		if tc.args != "" {
			a = json.RawMessage(tc.args)
		}
		if got := nativeOp(tc.command, a) != nil; got != tc.native {
			t.Errorf("nativeOp(%s, %s) = %v, want %v", tc.command, tc.args, got, tc.native)
		}
	}
}

package virt

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/qscope/qscope/qmp"
	"github.com/qscope/qscope/qmp/virt/virttest"
)

func dialRoute(t *testing.T, cfg Config) *Route {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if cfg.URI == "" {
		cfg.URI = virttest.URI
	}
	r, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("Dial(%s): %v", cfg.URI, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// openMonitor opens d's monitor through r, closed when the test ends.
func openMonitor(t *testing.T, ctx context.Context, r *Route, d libvirt.Domain) *Monitor {
	t.Helper()
	m, err := r.Open(ctx, d.Name)
	if err != nil {
		t.Fatalf("opening %s: %v", d.Name, err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

type status struct {
	Status  string `json:"status"`
	Running bool   `json:"running"`
}

func TestCommandsAndEvents(t *testing.T) {
	virttest.Require(t)
	l := virttest.Conn(t)
	d := virttest.StartDomain(t, l, "cmd")
	r := dialRoute(t, Config{})
	ctx := testCtx(t, 60*time.Second)

	m := openMonitor(t, ctx, r, d)
	if m.UUID() != formatUUID(d.UUID) || m.Domain() != d.Name || m.URI() != virttest.URI {
		t.Errorf("monitor identity: %s %s %s", m.Domain(), m.UUID(), m.URI())
	}

	var st status
	if err := m.Execute(ctx, "query-status", nil, &st); err != nil {
		t.Fatal(err)
	}
	if st.Status != "running" || !st.Running {
		t.Fatalf("query-status = %+v, want running", st)
	}

	// Arguments travel.
	var typ string
	if err := m.Execute(ctx, "qom-get", map[string]string{"path": "/machine", "property": "type"}, &typ); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(typ, "pc-i440fx-") {
		t.Errorf("qom-get /machine type = %q, want pc-i440fx-*", typ)
	}

	// QEMU's error replies keep their class.
	err := m.Execute(ctx, "no-such-command", nil, nil)
	var qe *qmp.Error
	if !errors.As(err, &qe) || qe.Class != "CommandNotFound" || qe.Command != "no-such-command" {
		t.Errorf("unknown command: %v, want *qmp.Error CommandNotFound", err)
	}
	err = m.Execute(ctx, "qom-get", map[string]string{"path": "/nowhere", "property": "x"}, nil)
	if !errors.As(err, &qe) || qe.Class != "DeviceNotFound" {
		t.Errorf("bad path: %v, want *qmp.Error DeviceNotFound", err)
	}

	// Events without data (STOP, RESUME) arrive, and libvirt follows them.
	sub := m.Subscribe("STOP", "RESUME", "RESET")
	defer sub.Close()
	all := m.Subscribe()
	defer all.Close()
	if err := m.Execute(ctx, "stop", nil, nil); err != nil {
		t.Fatal(err)
	}
	ev, err := sub.Next(ctx)
	if err != nil || ev.Name != "STOP" || len(ev.Data) != 0 || ev.Time().Before(time.Now().Add(-time.Minute)) {
		t.Fatalf("after stop: %+v, %v; want STOP without data, timestamped now", ev, err)
	}
	if err := m.Execute(ctx, "query-status", nil, &st); err != nil || st.Status != "paused" {
		t.Fatalf("query-status after stop = %+v, %v", st, err)
	}
	if s, _, err := l.DomainGetState(d, 0); err != nil || libvirt.DomainState(s) != libvirt.DomainPaused {
		t.Errorf("libvirt's state after stop = %d, %v; want paused", s, err)
	}
	if err := m.Execute(ctx, "cont", nil, nil); err != nil {
		t.Fatal(err)
	}
	if ev, err := sub.Next(ctx); err != nil || ev.Name != "RESUME" || len(ev.Data) != 0 {
		t.Fatalf("after cont: %+v, %v; want RESUME", ev, err)
	}
	// An event with data.
	if err := m.Execute(ctx, "system_reset", nil, nil); err != nil {
		t.Fatal(err)
	}
	ev, err = sub.Next(ctx)
	var reset struct {
		Guest  bool   `json:"guest"`
		Reason string `json:"reason"`
	}
	if err != nil || ev.Name != "RESET" || ev.DecodeData(&reset) != nil || reset.Guest {
		t.Fatalf("after system_reset: %+v (%+v), %v", ev, reset, err)
	}
	// The unfiltered subscription saw the same three, in order.
	var names []string
	for len(names) < 3 {
		ev, err := all.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, ev.Name)
	}
	if strings.Join(names, ",") != "STOP,RESUME,RESET" {
		t.Errorf("all events: %v, want STOP,RESUME,RESET", names)
	}

	// libvirt marked the domain.
	taints, err := m.Taints(ctx)
	if err != nil || !slices.Contains(taints, "custom-monitor") {
		t.Errorf("taints = %v, %v; want custom-monitor", taints, err)
	}

	// A cancelled context returns at once; the monitor stays usable.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := m.Execute(cctx, "query-status", nil, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled call: %v", err)
	}
	if err := m.Execute(ctx, "query-status", nil, nil); err != nil {
		t.Errorf("after a cancelled call: %v", err)
	}

	// Close ends it.
	m.Close()
	<-m.Done()
	if err := m.Execute(ctx, "query-status", nil, nil); !errors.Is(err, qmp.ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
	if _, err := sub.Next(ctx); !errors.Is(err, qmp.ErrClosed) {
		t.Errorf("subscription after Close: %v, want ErrClosed", err)
	}
}

func TestOpenErrors(t *testing.T) {
	virttest.Require(t)
	l := virttest.Conn(t)
	off := virttest.DefineDomain(t, l, "off")
	r := dialRoute(t, Config{})
	ctx := testCtx(t, 30*time.Second)
	if _, err := r.Open(ctx, "qscope-no-such-domain-here"); !errors.Is(err, ErrDomainNotFound) {
		t.Errorf("unknown domain: %v, want ErrDomainNotFound", err)
	}
	if _, err := r.Open(ctx, off.Name); !errors.Is(err, ErrDomainNotRunning) {
		t.Errorf("defined, not started: %v, want ErrDomainNotRunning", err)
	}
	if _, err := r.Open(ctx, "a/b"); !errors.Is(err, qmp.ErrInvalid) {
		t.Errorf("bad name: %v, want ErrInvalid", err)
	}
	// Starting it makes it openable: the cache does not hold the stale lookup.
	if err := l.DomainCreate(off); err != nil {
		t.Fatal(err)
	}
	m, err := r.Open(ctx, off.Name)
	if err != nil {
		t.Fatalf("after start: %v", err)
	}
	m.Close()
}

func TestDomainsListing(t *testing.T) {
	virttest.Require(t)
	l := virttest.Conn(t)
	run := virttest.StartDomain(t, l, "list")
	off := virttest.DefineDomain(t, l, "list-off")
	r := dialRoute(t, Config{})
	ctx := testCtx(t, 30*time.Second)

	find := func() (a, b DomainInfo) {
		t.Helper()
		ds, err := r.Domains(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			switch d.Name {
			case run.Name:
				a = d
			case off.Name:
				b = d
			}
		}
		return a, b
	}
	a, b := find()
	pid, err := virttest.PID(run.Name)
	if err != nil {
		t.Fatal(err)
	}
	if a.State != "running" || a.Reason != "booted" || a.PID != pid || a.ID != int(run.ID) || a.UUID != formatUUID(run.UUID) || !a.Running() {
		t.Errorf("running domain listed as %+v; want running/booted, pid %d, id %d", a, pid, run.ID)
	}
	if b.Name != off.Name || b.State != "shut off" || b.PID != 0 || b.ID != -1 || b.Running() || b.Taints != nil {
		t.Errorf("defined domain listed as %+v; want shut off, pid 0", b)
	}
	if err := l.DomainSuspend(run); err != nil {
		t.Fatal(err)
	}
	if a, _ = find(); a.State != "paused" || a.Reason != "user" || a.PID != pid {
		t.Errorf("suspended domain listed as %+v; want paused/user", a)
	}
}

func TestRefusalAndForce(t *testing.T) {
	virttest.Require(t)
	l := virttest.Conn(t)
	d := virttest.StartDomain(t, l, "force")
	r := dialRoute(t, Config{})
	ctx := testCtx(t, 30*time.Second)
	m := openMonitor(t, ctx, r, d)

	objects := func() []string {
		t.Helper()
		var props []struct {
			Name string `json:"name"`
		}
		if err := m.Execute(ctx, "qom-list", map[string]string{"path": "/objects"}, &props); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range props {
			out = append(out, p.Name)
		}
		return out
	}
	args := map[string]any{"qom-type": "memory-backend-ram", "id": "qs-mem0", "size": 1 << 20}
	err := m.Execute(ctx, "object-add", args, nil)
	var te *TrackedError
	if !errors.Is(err, ErrTrackedByLibvirt) || !errors.As(err, &te) || te.Command != "object-add" || te.Domain != d.Name || !strings.Contains(te.Hint, "virsh") {
		t.Fatalf("object-add without force: %v, want a TrackedError naming virsh", err)
	}
	if slices.Contains(objects(), "qs-mem0") {
		t.Fatal("the refused object-add reached QEMU")
	}
	for _, c := range []string{"device_add", "netdev_add", "blockdev-add", "migrate", "block_resize", "chardev-add"} {
		if err := m.Execute(ctx, c, map[string]string{"id": "x"}, nil); !errors.Is(err, ErrTrackedByLibvirt) {
			t.Errorf("%s without force: %v, want ErrTrackedByLibvirt", c, err)
		}
	}
	// HMP: info lines pass, anything else is refused.
	var out string
	if err := m.Execute(ctx, "human-monitor-command", map[string]string{"command-line": "info status"}, &out); err != nil || !strings.Contains(out, "running") {
		t.Errorf("HMP info status: %q, %v", out, err)
	}
	if err := m.Execute(ctx, "human-monitor-command", map[string]string{"command-line": "stop"}, nil); !errors.Is(err, ErrTrackedByLibvirt) {
		t.Errorf("HMP stop: %v, want ErrTrackedByLibvirt", err)
	}

	f, err := r.Open(ctx, d.Name, WithForce())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !f.Forced() || m.Forced() {
		t.Error("Forced() does not tell the monitors apart")
	}
	if err := f.Execute(ctx, "object-add", args, nil); err != nil {
		t.Fatalf("forced object-add: %v", err)
	}
	if !slices.Contains(objects(), "qs-mem0") {
		t.Fatal("forced object-add did not reach QEMU")
	}
	if err := f.Execute(ctx, "object-del", map[string]string{"id": "qs-mem0"}, nil); err != nil {
		t.Fatalf("forced object-del: %v", err)
	}
}

func TestDomainDestroyedMidCall(t *testing.T) {
	virttest.Require(t)
	l := virttest.Conn(t)
	d := virttest.StartDomain(t, l, "destroy")
	r := dialRoute(t, Config{})
	ctx := testCtx(t, 90*time.Second)
	m := openMonitor(t, ctx, r, d)
	pid, err := virttest.PID(d.Name)
	if err != nil {
		t.Fatal(err)
	}
	// A stopped process cannot answer: the call stays pending.
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(pid, syscall.SIGCONT)
	errc := make(chan error, 1)
	go func() { errc <- m.Execute(ctx, "query-status", nil, nil) }()
	select {
	case err := <-errc:
		t.Fatalf("query-status answered by a stopped QEMU: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	destroyed := make(chan error, 1)
	go func() { destroyed <- l.DomainDestroy(d) }() // libvirt waits ~10 s before SIGKILL
	select {
	case err := <-errc:
		if err == nil || !(errors.Is(err, ErrDomainStopped) || errors.Is(err, ErrDomainNotRunning)) {
			t.Errorf("pending call ended with %v, want ErrDomainStopped", err)
		}
	case <-ctx.Done():
		t.Fatal("the pending call hangs after the domain was destroyed")
	}
	select {
	case <-m.Done():
		if !errors.Is(m.Err(), ErrDomainStopped) {
			t.Errorf("monitor ended with %v, want ErrDomainStopped", m.Err())
		}
	case <-ctx.Done():
		t.Fatal("monitor not ended after its domain was destroyed")
	}
	if err := <-destroyed; err != nil {
		t.Errorf("destroy: %v", err)
	}
	if err := m.Execute(ctx, "query-status", nil, nil); !errors.Is(err, ErrDomainStopped) {
		t.Errorf("call after destroy: %v, want ErrDomainStopped", err)
	}
}

func TestLibvirtdRestart(t *testing.T) {
	virttest.RequireRestartable(t)
	l := virttest.Conn(t)
	d := virttest.StartDomain(t, l, "restart")
	r := dialRoute(t, Config{MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	ctx := testCtx(t, 120*time.Second)
	m := openMonitor(t, ctx, r, d)
	if err := m.Execute(ctx, "query-status", nil, nil); err != nil {
		t.Fatal(err)
	}
	pid, err := virttest.PID(d.Name)
	if err != nil {
		t.Fatal(err)
	}
	// Leave a call pending when the daemon goes.
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(pid, syscall.SIGCONT)
	errc := make(chan error, 1)
	go func() { errc <- m.Execute(ctx, "query-status", nil, nil) }()
	select {
	case err := <-errc:
		t.Fatalf("query-status answered by a stopped QEMU: %v", err)
	case <-time.After(300 * time.Millisecond):
	}

	virttest.RestartLibvirtd(t, func() {
		lostBy := time.After(5 * time.Second)
		select {
		case err := <-errc:
			if !errors.Is(err, qmp.ErrDisconnected) || !errors.Is(err, ErrUnreachable) {
				t.Errorf("pending call when libvirtd went: %v, want ErrDisconnected and ErrUnreachable", err)
			}
		case <-lostBy:
			t.Error("pending call still pending 5 s after libvirtd went away")
		}
		select {
		case <-m.Done():
		case <-lostBy:
			t.Error("monitor not ended when libvirtd went away")
		}
		if !errors.Is(m.Err(), qmp.ErrDisconnected) {
			t.Errorf("monitor ended with %v, want ErrDisconnected", m.Err())
		}
		if r.Connected() || !errors.Is(r.Err(), ErrUnreachable) {
			t.Errorf("route while libvirtd is down: connected=%v err=%v", r.Connected(), r.Err())
		}
		start := time.Now()
		if _, err := r.Open(ctx, d.Name); !errors.Is(err, ErrUnreachable) {
			t.Errorf("Open while libvirtd is down: %v, want ErrUnreachable", err)
		}
		if _, err := r.Domains(ctx); !errors.Is(err, ErrUnreachable) {
			t.Errorf("Domains while libvirtd is down: %v, want ErrUnreachable", err)
		}
		if el := time.Since(start); el > time.Second {
			t.Errorf("calls while libvirtd is down took %v: they should fail at once", el)
		}
		syscall.Kill(pid, syscall.SIGCONT)
	})

	if err := r.Wait(ctx); err != nil {
		t.Fatalf("route did not reconnect: %v", err)
	}
	m2, err := r.Open(ctx, d.Name)
	if err != nil {
		t.Fatalf("Open after reconnect: %v", err)
	}
	defer m2.Close()
	sub := m2.Subscribe("STOP")
	defer sub.Close()
	var st status
	if err := m2.Execute(ctx, "query-status", nil, &st); err != nil || st.Status != "running" {
		t.Fatalf("query-status after reconnect: %+v, %v", st, err)
	}
	if err := m2.Execute(ctx, "stop", nil, nil); err != nil {
		t.Fatal(err)
	}
	if ev, err := sub.Next(ctx); err != nil || ev.Name != "STOP" {
		t.Fatalf("events after reconnect: %+v, %v", ev, err)
	}
}

func TestRouteUnreachable(t *testing.T) {
	r, err := NewRoute(Config{URI: "qemu+unix:///system?socket=/nonexistent/libvirt-sock", MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := testCtx(t, 10*time.Second)
	if _, err := r.Domains(ctx); !errors.Is(err, ErrUnreachable) {
		t.Errorf("Domains: %v, want ErrUnreachable", err)
	}
	if _, err := r.Open(ctx, "x"); !errors.Is(err, ErrUnreachable) {
		t.Errorf("Open: %v, want ErrUnreachable", err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := r.Wait(short); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrUnreachable) {
		t.Errorf("Wait: %v, want DeadlineExceeded wrapping ErrUnreachable", err)
	}
	r.Close()
	if _, err := r.Open(ctx, "x"); !errors.Is(err, qmp.ErrClosed) {
		t.Errorf("Open after Close: %v, want ErrClosed", err)
	}
}

var _ = json.RawMessage(nil)

// One Route carries several domains' Monitors; each gets its own domain's
// events only, and two Monitors of one domain both get them.
func TestSharedRouteRoutesEventsByDomain(t *testing.T) {
	virttest.Require(t)
	l := virttest.Conn(t)
	d1 := virttest.StartDomain(t, l, "shared-a")
	d2 := virttest.StartDomain(t, l, "shared-b")
	r := dialRoute(t, Config{})
	ctx := testCtx(t, 30*time.Second)
	open := func(name string) *Monitor {
		t.Helper()
		m, err := r.Open(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	}
	a, a2, b := open(d1.Name), open(d1.Name), open(d2.Name)
	sa, sa2, sb := a.Subscribe("STOP"), a2.Subscribe("STOP"), b.Subscribe()
	if err := a.Execute(ctx, "stop", nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*qmp.Subscription{sa, sa2} {
		if ev, err := s.Next(ctx); err != nil || ev.Name != "STOP" {
			t.Fatalf("monitor of %s: %+v, %v", d1.Name, ev, err)
		}
	}
	// b's domain did nothing: run a command on it, then check that no
	// event of d1 leaked into its queue.
	if err := b.Execute(ctx, "query-status", nil, nil); err != nil {
		t.Fatal(err)
	}
	if evs := sb.Drain(); len(evs) != 0 {
		t.Errorf("monitor of %s got %s's events: %+v", d2.Name, d1.Name, evs)
	}
	// Closing one Monitor leaves the others and the connection alone.
	a2.Close()
	if err := a.Execute(ctx, "cont", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Execute(ctx, "stop", nil, nil); err != nil {
		t.Fatal(err)
	}
	if ev, err := sb.Next(ctx); err != nil || ev.Name != "STOP" {
		t.Fatalf("monitor of %s after another closed: %+v, %v", d2.Name, ev, err)
	}
	if !r.Connected() {
		t.Error("route disconnected after a Monitor closed")
	}
}

// domainState reads libvirt's state and reason for d.
func domainState(t *testing.T, l *libvirt.Libvirt, d libvirt.Domain) (libvirt.DomainState, int32) {
	t.Helper()
	s, reason, err := l.DomainGetState(d, 0)
	if err != nil {
		t.Fatalf("DomainGetState(%s): %v", d.Name, err)
	}
	return libvirt.DomainState(s), reason
}

// stop, cont, system_reset and system_powerdown go through libvirt's own
// API: libvirt records the pause as the user's and sets no taint.
func TestLifecycleThroughLibvirtAPI(t *testing.T) {
	virttest.Require(t)
	l := virttest.Conn(t)
	d := virttest.StartDomain(t, l, "native")
	r := dialRoute(t, Config{})
	ctx := testCtx(t, 60*time.Second)
	m := openMonitor(t, ctx, r, d)
	customMonitor := func() bool {
		t.Helper()
		taints, err := m.Taints(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return slices.Contains(taints, "custom-monitor")
	}
	if customMonitor() {
		t.Fatal("a fresh domain is already tainted custom-monitor")
	}
	sub := m.Subscribe("STOP", "RESUME", "RESET", "POWERDOWN")
	defer sub.Close()
	event := func(name string) {
		t.Helper()
		if ev, err := sub.Next(ctx); err != nil || ev.Name != name {
			t.Fatalf("event %+v, %v; want %s", ev, err, name)
		}
	}

	// What QEMU returns: an empty object.
	var ret map[string]any
	if err := m.Execute(ctx, "stop", nil, &ret); err != nil {
		t.Fatal(err)
	}
	if ret == nil || len(ret) != 0 {
		t.Errorf("stop returned %v, want {}", ret)
	}
	if s, reason := domainState(t, l, d); s != libvirt.DomainPaused || libvirt.DomainPausedReason(reason) != libvirt.DomainPausedUser {
		t.Errorf("after stop libvirt says %s (reason %d %q), want paused (user)", stateName(int32(s)), reason, reasonName(int32(s), reason))
	}
	event("STOP")

	// Empty arguments take the same way.
	if err := m.Execute(ctx, "cont", json.RawMessage(`{ }`), nil); err != nil {
		t.Fatal(err)
	}
	if s, reason := domainState(t, l, d); s != libvirt.DomainRunning || libvirt.DomainRunningReason(reason) != libvirt.DomainRunningUnpaused {
		t.Errorf("after cont libvirt says %s (reason %d %q), want running (unpaused)", stateName(int32(s)), reason, reasonName(int32(s), reason))
	}
	event("RESUME")

	if err := m.Execute(ctx, "system_reset", map[string]any{}, nil); err != nil {
		t.Fatal(err)
	}
	event("RESET")
	if err := m.Execute(ctx, "system_powerdown", nil, nil); err != nil {
		t.Fatal(err)
	}
	event("POWERDOWN")
	if s, _ := domainState(t, l, d); s != libvirt.DomainRunning {
		t.Errorf("after reset and powerdown libvirt says %s, want running", stateName(int32(s)))
	}

	if customMonitor() {
		t.Error("stop, cont, system_reset and system_powerdown tainted the domain custom-monitor")
	}
	// The check can see the taint: one passthrough command sets it.
	if err := m.Execute(ctx, "query-status", nil, nil); err != nil {
		t.Fatal(err)
	}
	if !customMonitor() {
		t.Error("no custom-monitor taint after a passthrough command")
	}
}

// libvirt's refusals come back as errors; a refusal in the domain's
// present state leaves the Monitor open, a domain gone ends it.
func TestLifecycleThroughLibvirtAPIErrors(t *testing.T) {
	virttest.Require(t)
	l := virttest.Conn(t)
	d := virttest.StartDomain(t, l, "native-err")
	r := dialRoute(t, Config{})
	ctx := testCtx(t, 60*time.Second)
	m := openMonitor(t, ctx, r, d)

	err := m.Execute(ctx, "cont", nil, nil)
	if !errors.Is(err, ErrInvalidState) || errors.Is(err, ErrDomainNotRunning) || !strings.Contains(err.Error(), "cont") {
		t.Errorf("cont while running: %v, want ErrInvalidState naming cont", err)
	}
	if err := m.Execute(ctx, "stop", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := m.Execute(ctx, "system_powerdown", nil, nil); !errors.Is(err, ErrInvalidState) {
		t.Errorf("system_powerdown while paused: %v, want ErrInvalidState", err)
	}
	if m.Err() != nil {
		t.Fatalf("monitor ended by a refusal: %v", m.Err())
	}
	if err := m.Execute(ctx, "cont", nil, nil); err != nil {
		t.Fatalf("cont after the refusals: %v", err)
	}
	if s, _ := domainState(t, l, d); s != libvirt.DomainRunning {
		t.Errorf("libvirt says %s, want running", stateName(int32(s)))
	}

	// A persistent domain shut off under the Monitor: stop fails and the
	// Monitor ends, whether libvirt's lifecycle event or its answer to
	// the call comes first.
	p := virttest.DefineDomain(t, l, "native-off")
	if err := l.DomainCreate(p); err != nil {
		t.Fatal(err)
	}
	pm, err := r.Open(ctx, p.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	if err := l.DomainDestroy(p); err != nil {
		t.Fatal(err)
	}
	if err := pm.Execute(ctx, "stop", nil, nil); !errors.Is(err, ErrDomainStopped) && !errors.Is(err, ErrDomainNotRunning) {
		t.Errorf("stop on a shut-off domain: %v, want ErrDomainStopped or ErrDomainNotRunning", err)
	}
	select {
	case <-pm.Done():
		if !errors.Is(pm.Err(), ErrDomainStopped) {
			t.Errorf("monitor ended with %v, want ErrDomainStopped", pm.Err())
		}
	case <-ctx.Done():
		t.Fatal("monitor not ended after its domain was shut off")
	}
	// The same through libvirt's answer alone: a Monitor that gets no
	// lifecycle events (not registered with the session) asks libvirt,
	// which refuses "domain is not running"; that is the domain gone, not
	// a refusal in its present state.
	late := &Monitor{r: r, s: pm.s, dom: pm.dom, name: pm.name, done: make(chan struct{})}
	err = late.Execute(ctx, "stop", nil, nil)
	if !errors.Is(err, ErrDomainNotRunning) || errors.Is(err, ErrInvalidState) {
		t.Errorf("stop on a shut-off domain, answered by libvirt: %v, want ErrDomainNotRunning", err)
	}
	select {
	case <-late.Done():
		if !errors.Is(late.Err(), ErrDomainStopped) {
			t.Errorf("monitor ended with %v, want ErrDomainStopped", late.Err())
		}
	default:
		t.Error("monitor not ended when libvirt said its domain is not running")
	}
}

package discover_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/journal"
	"github.com/qscope/qscope/qmp/virt"
	"github.com/qscope/qscope/qmp/virt/virttest"
)

func libvirtCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// The libvirt API source joins the process scan: one entry per pid, owned
// by libvirt, with libvirt's name, state, uuid and taints, and /proc facts.
func TestLibvirtSourceMergedWithProcessScan(t *testing.T) {
	virttest.Require(t)
	l := virttest.Conn(t)
	run := virttest.StartDomain(t, l, "src")
	off := virttest.DefineDomain(t, l, "src-off")
	ctx := libvirtCtx(t)
	pid, err := virttest.PID(run.Name)
	if err != nil {
		t.Fatal(err)
	}
	s := &discover.Scanner{Extra: []discover.Source{&discover.LibvirtSource{URI: virttest.URI}}}

	list := func() (g, o discover.Guest) {
		t.Helper()
		gs, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var n, no int
		for _, x := range gs {
			if x.PID == pid {
				g, n = x, n+1
			}
			if x.Name == off.Name {
				o, no = x, no+1
			}
		}
		if n != 1 || no != 1 {
			t.Fatalf("pid %d listed %d times, %s listed %d times; want once each", pid, n, off.Name, no)
		}
		return g, o
	}
	g, o := list()
	if g.Name != run.Name || g.Domain != run.Name || g.Owner != discover.OwnerLibvirt || g.Monitor != virttest.URI ||
		g.State != discover.StateRunning || g.UUID == "" || g.StartTicks == 0 || g.RSS == 0 || len(g.Cmdline) == 0 {
		t.Errorf("running domain: %+v", g)
	}
	if len(g.Monitors) != 1 || g.Monitors[0].Network != "libvirt" || g.Monitors[0].Address != virttest.URI {
		t.Errorf("running domain's monitors: %+v", g.Monitors)
	}
	if o.PID != 0 || o.State != discover.StateShutOff || o.Owner != discover.OwnerLibvirt || o.Domain != off.Name || o.UUID == "" {
		t.Errorf("defined domain: %+v", o)
	}

	// libvirt's state wins over the process's placeholder, and the taint
	// set by the passthrough shows (stop goes through libvirt's own API,
	// query-status through the passthrough).
	m, err := virt.OpenDomain(ctx, virt.Config{URI: virttest.URI}, run.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Execute(ctx, "stop", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := m.Execute(ctx, "query-status", nil, nil); err != nil {
		t.Fatal(err)
	}
	g, _ = list()
	if g.State != discover.StatePaused || !slices.Contains(g.Taints, "custom-monitor") {
		t.Errorf("after stop through libvirt: state %q, taints %v; want paused and custom-monitor", g.State, g.Taints)
	}
}

// An unreachable libvirtd is reported as the libvirt source's error; the
// listing goes on.
func TestLibvirtSourceUnreachable(t *testing.T) {
	ctx := libvirtCtx(t)
	src := &discover.LibvirtSource{URI: "qemu+unix:///system?socket=/nonexistent/libvirt-sock"}
	if src.Name() != "libvirt" {
		t.Errorf("Name() = %q", src.Name())
	}
	gs, err := src.Scan(ctx)
	if gs != nil || !errors.Is(err, virt.ErrUnreachable) {
		t.Fatalf("Scan = %v, %v; want no guests and ErrUnreachable", gs, err)
	}
	s := &discover.Scanner{Extra: []discover.Source{src}}
	gs, err = s.List(ctx)
	var se *discover.SourceError
	if !errors.As(err, &se) || se.Source != "libvirt" || !errors.Is(err, virt.ErrUnreachable) {
		t.Fatalf("List error = %v, want a SourceError of source libvirt wrapping ErrUnreachable", err)
	}
	// The process scan still ran: with libvirtd present, its domains are
	// still listed (through /proc and the status files).
	if virttest.Available() {
		virttest.Lock(t, false)
		l := virttest.Conn(t)
		d := virttest.StartDomain(t, l, "src-unreach")
		pid, err := virttest.PID(d.Name)
		if err != nil {
			t.Fatal(err)
		}
		gs, err = s.List(ctx)
		if !errors.Is(err, virt.ErrUnreachable) {
			t.Errorf("List error = %v", err)
		}
		i := slices.IndexFunc(gs, func(g discover.Guest) bool { return g.PID == pid })
		if i < 0 || gs[i].Owner != discover.OwnerLibvirt {
			t.Errorf("domain %s (pid %d) missing or not libvirt's while the API is unreachable: %+v", d.Name, pid, gs)
		}
	}
}

// Connecting by name reaches a libvirt guest through libvirt; what is sent
// is journaled with route "libvirt"; tracked commands are refused (and not
// journaled) unless forced.
func TestConnectByNameThroughLibvirtJournaled(t *testing.T) {
	virttest.Require(t)
	l := virttest.Conn(t)
	d := virttest.StartDomain(t, l, "byname")
	ctx := libvirtCtx(t)
	pid, err := virttest.PID(d.Name)
	if err != nil {
		t.Fatal(err)
	}
	force := false
	c := &discover.Connector{
		Scanner: &discover.Scanner{Extra: []discover.Source{&discover.LibvirtSource{URI: virttest.URI}}},
		Libvirt: discover.LibvirtRoute("", func() []virt.Option {
			if force {
				return []virt.Option{virt.WithForce()}
			}
			return nil
		}),
	}
	m, g, err := c.Connect(ctx, d.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, ok := m.(*virt.Monitor); !ok || g.PID != pid {
		t.Fatalf("Connect(%s) = %T for pid %d; want a *virt.Monitor for pid %d", d.Name, m, g.PID, pid)
	}
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	jm := journal.Wrap(m, j, journal.SessionFor(g, "test"))

	var st struct{ Status string }
	if err := jm.Execute(ctx, "query-status", nil, &st); err != nil || st.Status != "running" {
		t.Fatalf("query-status: %+v, %v", st, err)
	}
	if err := jm.Execute(ctx, "stop", nil, nil); err != nil {
		t.Fatal(err)
	}
	memArgs := json.RawMessage(`{"qom-type":"memory-backend-ram","id":"jm0","size":1048576}`)
	if err := jm.Execute(ctx, "object-add", memArgs, nil); !errors.Is(err, virt.ErrTrackedByLibvirt) {
		t.Fatalf("object-add without force: %v, want ErrTrackedByLibvirt", err)
	}
	force = true
	fm, _, err := c.Connect(ctx, d.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer fm.Close()
	jf := journal.Wrap(fm, j, journal.SessionFor(g, "test"))
	if err := jf.Execute(ctx, "object-add", memArgs, nil); err != nil {
		t.Fatalf("forced object-add: %v", err)
	}

	var recs []journal.Record
	for r, err := range j.Records(ctx, journal.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	var cmds []string
	for _, r := range recs {
		cmds = append(cmds, r.Command)
		if r.Route != "libvirt" || r.Guest.Domain != d.Name || r.Guest.PID != pid || r.Error != nil {
			t.Errorf("journal record %+v: want route libvirt, domain %s, pid %d, no error", r, d.Name, pid)
		}
	}
	if !slices.Equal(cmds, []string{"stop", "object-add"}) {
		t.Errorf("journaled %v; want stop and the forced object-add only (reads and refusals are not)", cmds)
	}
}

// The one-call discover.Connect reaches a libvirt guest by name through
// libvirt, not with ErrNeedsLibvirt.
func TestPackageConnectReachesLibvirtGuest(t *testing.T) {
	virttest.Require(t)
	l := virttest.Conn(t)
	d := virttest.StartDomain(t, l, "oneshot")
	ctx := libvirtCtx(t)
	m, g, err := discover.Connect(ctx, d.Name)
	if err != nil {
		t.Fatalf("discover.Connect(%s): %v", d.Name, err)
	}
	defer m.Close()
	if _, ok := m.(*virt.Monitor); !ok || g.Owner != discover.OwnerLibvirt || g.Domain != d.Name {
		t.Fatalf("connected %T to %+v; want a *virt.Monitor to libvirt's %s", m, g, d.Name)
	}
	var n struct{ Name string }
	if err := m.Execute(ctx, "query-name", nil, &n); err != nil || n.Name != d.Name {
		t.Errorf("query-name through the route: %+v, %v", n, err)
	}
}

// A remote daemon's connection is kept between scans (and redialled in the
// background) until Close; while it is unreachable every scan says so.
func TestLibvirtSourceRemoteKeepsRoute(t *testing.T) {
	ctx := libvirtCtx(t)
	src := &discover.LibvirtSource{URI: "qemu+tcp://127.0.0.1:1/system"} // nothing listens on port 1
	for i := 0; i < 2; i++ {
		if gs, err := src.Scan(ctx); gs != nil || !errors.Is(err, virt.ErrUnreachable) {
			t.Fatalf("scan %d: %v, %v; want ErrUnreachable", i, gs, err)
		}
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	// A Scanner closes the sources it scans with.
	s := &discover.Scanner{Sources: []discover.Source{}, Extra: []discover.Source{&discover.LibvirtSource{URI: "qemu+tcp://127.0.0.1:1/system"}}}
	if _, err := s.List(ctx); !errors.Is(err, virt.ErrUnreachable) {
		t.Fatalf("scanner list: %v; want ErrUnreachable", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// goleak (TestMain) checks that Close stopped the redialling.
}

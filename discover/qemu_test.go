package discover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/qscope/qscope/internal/qemutest"
	"github.com/qscope/qscope/qmp"
)

// onlyPIDs is a source that passes on another source's guests whose pid is
// in a set, so tests see their own QEMUs and not the rest of the host's.
type onlyPIDs struct {
	Source
	mu    sync.Mutex
	pids  map[int]bool
	after func(gs []Guest) // runs after each scan, before probing
}

func (o *onlyPIDs) add(pids ...int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.pids == nil {
		o.pids = map[int]bool{}
	}
	for _, p := range pids {
		o.pids[p] = true
	}
}

func (o *onlyPIDs) Scan(ctx context.Context) ([]Guest, error) {
	gs, err := o.Source.Scan(ctx)
	o.mu.Lock()
	var out []Guest
	for _, g := range gs {
		if o.pids[g.PID] {
			out = append(out, g)
		}
	}
	after := o.after
	o.mu.Unlock()
	if after != nil {
		after(out)
	}
	return out, err
}

const testProbeTimeout = 5 * time.Second

// scannerFor is a Scanner over the real /proc that sees only pids.
func scannerFor(root string, pids ...int) (*Scanner, *onlyPIDs) {
	f := &onlyPIDs{Source: &ProcSource{Root: root}}
	f.add(pids...)
	// A generous probe timeout: these tests check what a scan reports,
	// not how fast, and the machine they run on may be loaded.
	return &Scanner{Root: root, Sources: []Source{f}, ProbeTimeout: testProbeTimeout}, f
}

func find(t *testing.T, gs []Guest, pid int) Guest {
	t.Helper()
	for _, g := range gs {
		if g.PID == pid {
			return g
		}
	}
	t.Fatalf("pid %d not listed in %+v", pid, gs)
	return Guest{}
}

// ready waits until every monitor of inst greets: a QEMU still starting
// does not greet yet, which a scan would rightly call busy.
func ready(t testing.TB, inst *qemutest.Instance) *qemutest.Instance {
	t.Helper()
	for _, m := range inst.Monitors {
		ctx, cancel := context.WithTimeout(context.Background(), qemutest.ReadyTimeout)
		c, err := qmp.Dial(ctx, m.Network, m.Address)
		cancel()
		if err != nil {
			t.Fatalf("QEMU never greeted on %s: %v", m.Address, err)
		}
		c.Close()
	}
	return inst
}

func startReady(t testing.TB, b qemutest.Binary, o qemutest.Options) *qemutest.Instance {
	t.Helper()
	return ready(t, qemutest.Start(t, b, o))
}

func small(o qemutest.Options) qemutest.Options {
	o.Machine = "none"
	o.MemoryMB = 16
	return o
}

// TestMonitorStyles starts QEMU with every monitor set-up discovery must
// read, on both QEMU versions, and checks what a scan reports.
func TestMonitorStyles(t *testing.T) {
	for _, b := range qemutest.Binaries(t) {
		t.Run(b.String(), func(t *testing.T) {
			t.Parallel()
			type want struct {
				name  string
				state State
				mons  int
			}
			cases := []struct {
				label string
				opts  qemutest.Options
				want  want
			}{
				{"fd", qemutest.Options{Name: "guest=st-fd,debug-threads=on"}, want{"st-fd", StateRunning, 1}},
				{"qmp-unix", qemutest.Options{Name: "st-unix", Monitors: []qemutest.MonitorStyle{qemutest.MonitorQMPUnix}, Paused: true}, want{"st-unix", "prelaunch", 1}},
				{"qmp-tcp", qemutest.Options{Name: "guest=st-tcp,process=qs-st-tcp", Monitors: []qemutest.MonitorStyle{qemutest.MonitorQMPTCP}}, want{"st-tcp", StateRunning, 1}},
				{"qmp-pretty", qemutest.Options{Name: "st-pretty", Monitors: []qemutest.MonitorStyle{qemutest.MonitorQMPPretty}}, want{"st-pretty", StateRunning, 1}},
				{"chardev", qemutest.Options{Name: "st-chardev", Monitors: []qemutest.MonitorStyle{qemutest.MonitorChardev}}, want{"st-chardev", StateRunning, 1}},
				{"several", qemutest.Options{Name: "st-several", Monitors: []qemutest.MonitorStyle{qemutest.MonitorQMPUnix, qemutest.MonitorChardev, qemutest.MonitorFD}}, want{"st-several", StateRunning, 3}},
				{"none", qemutest.Options{Name: "st-none", Monitors: []qemutest.MonitorStyle{qemutest.MonitorNone}}, want{"st-none", StateNoMonitor, 0}},
				{"no-name", qemutest.Options{Monitors: []qemutest.MonitorStyle{qemutest.MonitorQMPUnix}}, want{"", StateRunning, 1}},
				{"hmp-only", qemutest.Options{Name: "st-hmp", Monitors: []qemutest.MonitorStyle{qemutest.MonitorNone}, Args: []string{"-chardev", "socket,id=h,path=" + filepath.Join(shortRoot(t), "h.sock") + ",server=on,wait=off", "-mon", "chardev=h"}}, want{"st-hmp", StateNoMonitor, 0}},
			}
			var pids []int
			insts := map[string]*qemutest.Instance{}
			for _, c := range cases {
				i := startReady(t, b, small(c.opts))
				insts[c.label] = i
				pids = append(pids, i.PID)
			}
			s, _ := scannerFor("", pids...)
			gs, err := s.List(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cases {
				inst := insts[c.label]
				g := find(t, gs, inst.PID)
				name := c.want.name
				if name == "" {
					name = "pid-" + strconv.Itoa(inst.PID)
				}
				if g.Name != name || g.State != c.want.state || len(g.Monitors) != c.want.mons || g.Owner != OwnerProcess {
					t.Errorf("%s: got name %q state %q (%s) monitors %d owner %s; want %q %q %d", c.label, g.Name, g.State, g.Reason, len(g.Monitors), g.Owner, name, c.want.state, c.want.mons)
				}
				// None is started with -uuid: QEMU's all-zero default
				// names no guest and is not reported.
				if g.UUID != "" {
					t.Errorf("%s: uuid %q for a QEMU started without -uuid", c.label, g.UUID)
				}
				if c.want.mons > 0 {
					if g.Version != b.Version {
						t.Errorf("%s: version %q, want %q", c.label, g.Version, b.Version)
					}
					if m := inst.Monitors[0]; g.Monitors[0].Address != m.Address || g.Monitors[0].Network != m.Network || g.Monitors[0].Pretty != m.Pretty {
						t.Errorf("%s: monitor %+v, want %s %s pretty=%v", c.label, g.Monitors[0], m.Network, m.Address, m.Pretty)
					}
				}
				if g.Started.IsZero() || g.RSS == 0 || g.Threads == 0 || g.Key() != strconv.Itoa(inst.PID)+"@"+strconv.FormatUint(g.StartTicks, 10) {
					t.Errorf("%s: /proc facts missing: %+v", c.label, g)
				}
			}
			if g := find(t, gs, insts["hmp-only"].PID); !strings.Contains(g.Reason, "HMP") {
				t.Errorf("HMP-only guest's reason %q does not say why", g.Reason)
			}
			// -machine none has no vCPU; a guest with two has two "CPU n/…" threads.
			i := startReady(t, b, qemutest.Options{Name: "guest=st-smp,debug-threads=on", MemoryMB: 16, Args: []string{"-smp", "2"}})
			s2, _ := scannerFor("", i.PID)
			gs2, err := s2.List(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if g := find(t, gs2, i.PID); g.VCPUs != 2 {
				t.Errorf("vcpus = %d, want 2", g.VCPUs)
			}
			// Without -smp and without named threads: QEMU's one vCPU.
			one := startReady(t, b, qemutest.Options{Name: "st-one", MemoryMB: 16})
			s3, _ := scannerFor("", one.PID)
			gs3, err := s3.List(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if g := find(t, gs3, one.PID); g.VCPUs != 1 {
				t.Errorf("vcpus without -smp = %d, want 1", g.VCPUs)
			}
		})
	}
}

// TestBusyAndSeveralMonitors: a held monitor shows busy; with a second free
// monitor the guest is still reached through it.
func TestBusyAndSeveralMonitors(t *testing.T) {
	b := qemutest.Binaries(t)[0]
	one := startReady(t, b, small(qemutest.Options{Name: "busy-one"}))
	two := startReady(t, b, small(qemutest.Options{Name: "busy-two", Monitors: []qemutest.MonitorStyle{qemutest.MonitorQMPUnix, qemutest.MonitorChardev}}))
	ctx := context.Background()
	for _, inst := range []*qemutest.Instance{one, two} {
		c, err := qmp.Dial(ctx, inst.Monitors[0].Network, inst.Monitors[0].Address)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	s, _ := scannerFor("", one.PID, two.PID)
	// A held monitor costs a whole probe timeout: keep it short enough.
	s.ProbeTimeout = 2 * time.Second
	gs, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	g1 := find(t, gs, one.PID)
	if g1.State != StateBusy || !strings.Contains(g1.Reason, "another client") {
		t.Errorf("held monitor: state %q reason %q", g1.State, g1.Reason)
	}
	g2 := find(t, gs, two.PID)
	if g2.State != StateRunning || g2.Monitor != two.Monitors[1].Address {
		t.Errorf("second monitor: state %q (%s) monitor %q, want running on %s", g2.State, g2.Reason, g2.Monitor, two.Monitors[1].Address)
	}
	// The answering monitor is remembered and probed first next time.
	gs, _ = s.List(ctx)
	if g := find(t, gs, two.PID); g.State != StateRunning || g.Monitor != two.Monitors[1].Address {
		t.Errorf("second scan: %q on %q", g.State, g.Monitor)
	}

	conn := &Connector{Scanner: s, GreetingTimeout: 200 * time.Millisecond}
	_, _, err = conn.Connect(ctx, "busy-one")
	if !errors.Is(err, qmp.ErrBusy) || !strings.Contains(err.Error(), "held by another client") {
		t.Errorf("connecting to a held monitor: %v", err)
	}
	// Connect goes first to the monitor the scan reached: the held one
	// never greets, and waiting for it would outlast this deadline.
	patient := &Connector{Scanner: s, GreetingTimeout: 10 * time.Minute}
	pctx, pcancel := context.WithTimeout(ctx, 30*time.Second)
	m, g, err := patient.Connect(pctx, "busy-two")
	pcancel()
	if err != nil {
		t.Fatalf("connecting through the free monitor: %v", err)
	}
	defer m.Close()
	var st struct{ Status string }
	if err := m.Execute(ctx, "query-status", nil, &st); err != nil || st.Status != "running" || g.PID != two.PID {
		t.Errorf("query-status over Connect: %v %+v", err, st)
	}
}

// TestHeldMonitorProbedThroughIt: while this process holds a guest's only
// monitor (opened by a Connector with the Scanner), scans go through that
// connection and see the guest's real state, not "busy"; once it is
// closed they dial their own again.
func TestHeldMonitorProbedThroughIt(t *testing.T) {
	for _, b := range qemutest.Binaries(t) {
		t.Run(b.String(), func(t *testing.T) {
			inst := startReady(t, b, small(qemutest.Options{Name: "held-" + b.Version}))
			s, _ := scannerFor("", inst.PID)
			s.ProbeTimeout = 2 * time.Second
			ctx := context.Background()
			conn := &Connector{Scanner: s}
			m, _, err := conn.Connect(ctx, "held-"+b.Version)
			if err != nil {
				t.Fatal(err)
			}
			list := func() Guest {
				t.Helper()
				gs, err := s.List(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return find(t, gs, inst.PID)
			}
			if g := list(); g.State != StateRunning || g.Version != b.Version {
				t.Errorf("held: state %q (%s), version %q; want running, %s", g.State, g.Reason, g.Version, b.Version)
			}
			if err := m.Execute(ctx, "stop", nil, nil); err != nil {
				t.Fatal(err)
			}
			if g := list(); g.State != StatePaused {
				t.Errorf("held, after stop: state %q (%s), want paused", g.State, g.Reason)
			}
			m.Close()
			s.mu.Lock()
			n := len(s.held)
			s.mu.Unlock()
			if n != 0 {
				t.Errorf("%d monitors still held after Close", n)
			}
			if g := list(); g.State != StatePaused {
				t.Errorf("released: state %q (%s), want paused", g.State, g.Reason)
			}
		})
	}
}

// TestStoppedProcess: a SIGSTOPped QEMU is "stopped" without a probe, and
// one stopped between the /proc scan and the probe costs one probe timeout
// and still ends "stopped".
func TestStoppedProcess(t *testing.T) {
	b := qemutest.Binaries(t)[0]
	inst := startReady(t, b, small(qemutest.Options{Name: "stopme"}))
	if err := inst.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitState(t, inst.PID, 'T')
	s, _ := scannerFor("", inst.PID)
	ctx := context.Background()
	gs, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g := find(t, gs, inst.PID); g.State != StateStopped || !strings.Contains(g.Reason, "SIGCONT") {
		t.Errorf("stopped QEMU: %q %q", g.State, g.Reason)
	}
	_, _, err = (&Connector{Scanner: s}).Connect(ctx, "stopme")
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "stopped") {
		t.Errorf("connecting to a stopped QEMU: %v", err)
	}
	if err := inst.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitNotState(t, inst.PID, 'T')

	// Stopped after /proc was read, before the probe.
	s2, f := scannerFor("", inst.PID)
	s2.ProbeTimeout = 150 * time.Millisecond
	f.after = func([]Guest) {
		inst.Signal(syscall.SIGSTOP)
		waitState(t, inst.PID, 'T')
	}
	gs, err = s2.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g := find(t, gs, inst.PID); g.State != StateStopped {
		t.Errorf("stopped mid-scan: %q %q", g.State, g.Reason)
	}
	inst.Signal(syscall.SIGCONT)
}

func procState(pid int) byte {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	st, err := parseStat(b)
	if err != nil {
		return 0
	}
	return st.state
}

func waitState(t *testing.T, pid int, want byte) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if procState(pid) == want {
			return
		}
	}
	t.Fatalf("pid %d never reached state %c", pid, want)
}

func waitNotState(t *testing.T, pid int, not byte) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if s := procState(pid); s != not && s != 0 {
			return
		}
	}
	t.Fatalf("pid %d stayed in state %c", pid, not)
}

// TestExitDuringScan: a QEMU that exits between the /proc scan and its
// probe is left out, without an error.
func TestExitDuringScan(t *testing.T) {
	b := qemutest.Binaries(t)[0]
	stay := startReady(t, b, small(qemutest.Options{Name: "stays"}))
	leave := startReady(t, b, small(qemutest.Options{Name: "leaves", Monitors: []qemutest.MonitorStyle{qemutest.MonitorQMPUnix}}))
	s, f := scannerFor("", stay.PID, leave.PID)
	f.after = func(gs []Guest) {
		if len(gs) != 2 {
			t.Errorf("source saw %d guests before the exit", len(gs))
		}
		leave.Kill()
		leave.Wait()
	}
	gs, err := s.List(context.Background())
	if err != nil {
		t.Fatalf("a process exiting mid-scan broke the listing: %v", err)
	}
	if len(gs) != 1 || gs[0].PID != stay.PID || gs[0].State != StateRunning {
		t.Errorf("listing after the exit: %+v", gs)
	}
}

// TestWatch: guests appearing, changing and vanishing under a watch.
func TestWatch(t *testing.T) {
	b := qemutest.Binaries(t)[0]
	a := startReady(t, b, small(qemutest.Options{Name: "watch-a"}))
	s, f := scannerFor("", a.PID)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var bInst *qemutest.Instance
	step := 0
	var log []string
	for changes, err := range s.Watch(ctx, 50*time.Millisecond) {
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range changes {
			log = append(log, c.String())
		}
		switch step {
		case 0: // the first scan: a is there
			if len(changes) != 1 || changes[0].Kind != Added || changes[0].Guest.PID != a.PID || changes[0].Guest.State != StateRunning {
				t.Fatalf("first yield %v", changes)
			}
			bInst = startReady(t, b, small(qemutest.Options{Name: "watch-b"}))
			f.add(bInst.PID)
			step++
		case 1:
			if hasChange(changes, Added, bInst.PID, StateRunning) || hasChange(changes, Updated, bInst.PID, StateRunning) {
				a.Kill()
				a.Wait()
				step++
			}
		case 2:
			if hasChange(changes, Removed, a.PID, "") {
				bInst.Signal(syscall.SIGSTOP)
				step++
			}
		case 3:
			if hasChange(changes, Updated, bInst.PID, StateStopped) {
				bInst.Signal(syscall.SIGCONT)
				step++
			}
		case 4:
			if hasChange(changes, Updated, bInst.PID, StateRunning) {
				cancel()
			}
		}
	}
	if step != 4 {
		t.Errorf("watch stopped at step %d; changes seen: %q", step, log)
	}
}

func hasChange(cs []Change, kind ChangeKind, pid int, state State) bool {
	for _, c := range cs {
		if c.Kind == kind && c.Guest.PID == pid && (state == "" || c.Guest.State == state) {
			return true
		}
	}
	return false
}

// startWithArgs starts QEMU without qemutest's monitors and waits until
// the unix socket at sock accepts connections.
func startWithArgs(t *testing.T, b qemutest.Binary, name, sock string, args ...string) *qemutest.Instance {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(sock), 0o700); err != nil {
		t.Fatal(err)
	}
	inst := startReady(t, b, small(qemutest.Options{Name: name, Monitors: []qemutest.MonitorStyle{qemutest.MonitorNone}, Args: args}))
	for deadline := time.Now().Add(qemutest.ReadyTimeout); ; time.Sleep(10 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := qmp.Dial(ctx, "unix", sock)
		cancel()
		if err == nil {
			c.Close()
			return inst
		}
		if time.Now().After(deadline) || inst.Exited() {
			t.Fatalf("monitor %s never came up: %v\n%s", sock, err, inst.Stderr())
		}
	}
}

// shortRoot is a temporary "/" for launcher layouts, short enough for unix
// socket paths (108 bytes).
func shortRoot(t *testing.T) string {
	d, err := os.MkdirTemp("", "qsr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// TestLauncherLayouts: real QEMUs whose monitors sit where libvirt, Incus
// and Proxmox put them (under a temporary root) are recognised.
func TestLauncherLayouts(t *testing.T) {
	for _, b := range qemutest.Binaries(t) {
		t.Run(b.String(), func(t *testing.T) {
			root := shortRoot(t)
			chardev := func(id, path string) []string {
				return []string{"-chardev", "socket,id=" + id + ",path=" + path + ",server=on,wait=off", "-mon", "chardev=" + id + ",mode=control"}
			}
			lvSock := filepath.Join(root, "var/lib/libvirt/qemu/domain-7-web/monitor.sock")
			lv := startWithArgs(t, b, "guest=web,debug-threads=on", lvSock, chardev("charmonitor", lvSock)...)
			inSock := filepath.Join(root, "run/incus/proj_box/qemu.monitor")
			in := startWithArgs(t, b, "box", inSock, chardev("monitor", inSock)...)
			pxSock := filepath.Join(root, "var/run/qemu-server/101.qmp")
			px := startWithArgs(t, b, "", pxSock, chardev("qmp", pxSock)...)

			s, _ := scannerFor(root, lv.PID, in.PID, px.PID)
			gs, err := s.List(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			g := find(t, gs, lv.PID)
			if g.Owner != OwnerLibvirt || g.Name != "web" || g.Domain != "web" || g.Monitor != "qemu:///system" || g.State != StateRunning || g.Version != "" {
				t.Errorf("libvirt layout: %+v", g)
			}
			g = find(t, gs, in.PID)
			if g.Owner != OwnerIncus || g.Name != "box" || g.State != StateRunning || g.Monitor != inSock {
				t.Errorf("incus layout: owner %s name %q state %q monitor %q", g.Owner, g.Name, g.State, g.Monitor)
			}
			g = find(t, gs, px.PID)
			if g.Owner != OwnerProxmox || g.Name != "101" || g.State != StateRunning {
				t.Errorf("proxmox layout: owner %s name %q state %q", g.Owner, g.Name, g.State)
			}
		})
	}
}

// TestLibvirtStatusFile: libvirt's status file names a running QEMU as its
// domain; the process is then never probed.
func TestLibvirtStatusFile(t *testing.T) {
	b := qemutest.Binaries(t)[0]
	inst := startReady(t, b, small(qemutest.Options{Name: "guest=qemu-side-name", Args: []string{"-uuid", "0f0e0d0c-0b0a-0908-0706-050403020100"}}))
	root := shortRoot(t)
	dir := filepath.Join(root, "run/libvirt/qemu")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	status := fmt.Sprintf(`<domstatus state='running' reason='booted' pid='%d'>
  <taint flag='custom-monitor'/>
  <taint flag='high-privileges'/>
  <monitor path='%s/var/lib/libvirt/qemu/domain-2-db/monitor.sock' type='unix'/>
  <domain type='kvm' id='2'><name>db</name><uuid>0f0e0d0c-0b0a-0908-0706-050403020100</uuid></domain>
</domstatus>`, inst.PID, root)
	if err := os.WriteFile(filepath.Join(dir, "db.xml"), []byte(status), 0o600); err != nil {
		t.Fatal(err)
	}
	// A stale status file of a process long gone is ignored.
	if err := os.WriteFile(filepath.Join(dir, "gone.xml"), []byte(`<domstatus pid='999999999'><domain><name>gone</name></domain></domstatus>`), 0o600); err != nil {
		t.Fatal(err)
	}
	src := &DomainStatusSource{Dir: dir}
	alone, err := src.Scan(context.Background())
	if err != nil || len(alone) != 1 || alone[0].PID != inst.PID || alone[0].Name != "db" || !slices.Equal(alone[0].Taints, []string{"custom-monitor", "high-privileges"}) {
		t.Fatalf("status source alone: %+v, %v", alone, err)
	}
	procs := &onlyPIDs{Source: &ProcSource{Root: root}}
	procs.add(inst.PID)
	s := &Scanner{Root: root, Sources: []Source{procs, src}, ProbeTimeout: testProbeTimeout}
	gs, err := s.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 1 {
		t.Fatalf("guests %+v", gs)
	}
	g := gs[0]
	if g.Name != "db" || g.Owner != OwnerLibvirt || g.Monitor != "qemu:///system" || g.State != StateRunning || g.Version != "" || g.RSS == 0 || len(g.Taints) != 2 {
		t.Errorf("libvirt guest from its status file: %+v", g)
	}
}

// TestDefaultScannerSeesEverything: the zero Scanner over the whole host
// lists a QEMU started by the test.
func TestDefaultScannerSeesEverything(t *testing.T) {
	b := qemutest.Binaries(t)[0]
	inst := startReady(t, b, small(qemutest.Options{Name: "zero-scanner-guest"}))
	s := Scanner{ProbeTimeout: 2 * time.Second}
	gs, err := s.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	g := find(t, gs, inst.PID)
	if g.Name != "zero-scanner-guest" || g.State != StateRunning {
		t.Errorf("%+v", g)
	}
	m, g2, err := Connect(context.Background(), strconv.Itoa(inst.PID))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if g2.Name != "zero-scanner-guest" {
		t.Errorf("connected to %+v", g2)
	}
}

const helperEnv = "QSCOPE_DISCOVER_HELPER"

// runHelper is the test binary re-run as another user: it lists the pids
// given in the environment and prints them as JSON.
func runHelper() int {
	var pids []int
	for _, p := range strings.Split(os.Getenv("QSCOPE_HELPER_PIDS"), ",") {
		if n, err := strconv.Atoi(p); err == nil {
			pids = append(pids, n)
		}
	}
	s, _ := scannerFor("", pids...)
	gs, err := s.List(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	json.NewEncoder(os.Stdout).Encode(gs)
	return 0
}

// TestUnprivilegedUser runs a scan as "nobody": root's QEMUs are listed,
// with a state that says why their monitors cannot be reached.
func TestUnprivilegedUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a scan as another user")
	}
	b := qemutest.Binaries(t)[0]
	bySocket := startReady(t, b, small(qemutest.Options{Name: "root-sock", Monitors: []qemutest.MonitorStyle{qemutest.MonitorQMPUnix}}))
	byFD := startReady(t, b, small(qemutest.Options{Name: "root-fd"}))

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "qs-nobody")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	copyExe := filepath.Join(dir, "discover.test")
	src, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := os.OpenFile(copyExe, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(dst, src)
	src.Close()
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(copyExe)
	cmd.Env = []string{helperEnv + "=1", "QSCOPE_HELPER_PIDS=" + strconv.Itoa(bySocket.PID) + "," + strconv.Itoa(byFD.PID), "HOME=/", "PATH=/usr/bin:/bin"}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("scan as nobody failed: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var gs []Guest
	if err := json.Unmarshal(out, &gs); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	g := find(t, gs, bySocket.PID)
	if g.Name != "root-sock" || g.State != StateDenied || !strings.Contains(g.Reason, "permission denied") {
		t.Errorf("root's socket as nobody: name %q state %q reason %q", g.Name, g.State, g.Reason)
	}
	g = find(t, gs, byFD.PID)
	if g.Name != "root-fd" || g.State != StateDenied || !strings.Contains(g.Reason, "descriptor") {
		t.Errorf("root's descriptor monitor as nobody: name %q state %q reason %q", g.Name, g.State, g.Reason)
	}
	if !slices.ContainsFunc(gs, func(g Guest) bool { return g.RSS > 0 }) {
		t.Error("no /proc facts as nobody")
	}
}

// TestReadConfig: a monitor defined in a -readconfig file is found like
// one on the command line; a file owned by neither root nor the QEMU's
// user is not trusted, and the reason says so.
func TestReadConfig(t *testing.T) {
	for _, b := range qemutest.Binaries(t) {
		t.Run(b.String(), func(t *testing.T) {
			dir := shortRoot(t)
			sock := filepath.Join(dir, "cfg.qmp")
			cfg := filepath.Join(dir, "vm.cfg")
			text := "[chardev \"qmp\"]\n  backend = \"socket\"\n  path = \"" + sock + "\"\n  server = \"on\"\n  wait = \"off\"\n\n[mon]\n  mode = \"control\"\n  chardev = \"qmp\"\n"
			if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			inst := startWithArgs(t, b, "readcfg-"+b.Version, sock, "-readconfig", cfg)
			s, _ := scannerFor("", inst.PID)
			gs, err := s.List(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if g := find(t, gs, inst.PID); g.State != StateRunning || g.Monitor != sock {
				t.Errorf("guest from -readconfig: state %q (%s), monitor %q; want running on %s", g.State, g.Reason, g.Monitor, sock)
			}

			if os.Getuid() != 0 {
				return
			}
			if err := os.Chown(cfg, 65534, 65534); err != nil {
				t.Fatal(err)
			}
			s2, _ := scannerFor("", inst.PID)
			gs, err = s2.List(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if g := find(t, gs, inst.PID); g.State != StateNoMonitor || !strings.Contains(g.Reason, "not read") || !strings.Contains(g.Reason, "uid 65534") {
				t.Errorf("config of another user: state %q reason %q; want no-monitor, not read", g.State, g.Reason)
			}
		})
	}
}

const impostorEnv = "QSCOPE_TEST_IMPOSTOR"

// TestImpostorCannotClaimAMonitor: any process can name any socket in its
// command line. One that calls itself qemu-system-x86_64 and names a real
// QEMU's monitors (unix and tcp) gets no monitor: discovery never dials a
// socket the process does not itself listen on, so neither a probe nor a
// Connect by the impostor's name reaches the real guest.
func TestImpostorCannotClaimAMonitor(t *testing.T) {
	b := qemutest.Binaries(t)[0]
	victim := startReady(t, b, small(qemutest.Options{Name: "victim", Monitors: []qemutest.MonitorStyle{qemutest.MonitorQMPUnix, qemutest.MonitorQMPTCP}}))
	name := "impostor-" + strconv.Itoa(os.Getpid())
	cmd := &exec.Cmd{
		Path: os.Args[0],
		Args: []string{"qemu-system-x86_64", "-name", "guest=" + name,
			"-qmp", "unix:" + victim.Monitors[0].Address + ",server=on,wait=off",
			"-qmp", "tcp:" + victim.Monitors[1].Address + ",server=on,wait=off"},
		Env: append(os.Environ(), impostorEnv+"=1"),
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	s, _ := scannerFor("", cmd.Process.Pid, victim.PID)
	s.ProbeTimeout = 2 * time.Second
	ctx := context.Background()
	gs, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	imp := find(t, gs, cmd.Process.Pid)
	if imp.State != StateNoMonitor || len(imp.Monitors) != 0 || !strings.Contains(imp.Reason, "not a socket this process listens on") {
		t.Errorf("impostor: state %q, monitors %v, reason %q; want no-monitor and no endpoint", imp.State, imp.Monitors, imp.Reason)
	}
	if v := find(t, gs, victim.PID); v.State != StateRunning || len(v.Monitors) != 2 {
		t.Errorf("the real QEMU: state %q (%s), monitors %v; want running on both", v.State, v.Reason, v.Monitors)
	}
	conn := &Connector{Scanner: s, GreetingTimeout: time.Second}
	if m, _, err := conn.Connect(ctx, name); err == nil {
		var who struct{ Name string }
		m.Execute(ctx, "query-name", nil, &who)
		m.Close()
		t.Fatalf("connected through the impostor to %q", who.Name)
	} else if !errors.Is(err, ErrUnreachable) {
		t.Errorf("connecting to the impostor: %v, want ErrUnreachable", err)
	}
}

// TestImpostorOfLibvirt: a process that puts libvirt's paths on its
// command line and a domain's name in -name is not taken for that domain
// when libvirtd's status files can be read and none names its pid: it is
// a plain process, and its borrowed monitor path is not dialled either.
func TestImpostorOfLibvirt(t *testing.T) {
	root := shortRoot(t)
	status := filepath.Join(root, "run/libvirt/qemu")
	if err := os.MkdirAll(status, 0o700); err != nil {
		t.Fatal(err)
	}
	// libvirtd's status files name other processes only.
	if err := os.WriteFile(filepath.Join(status, "real.xml"), []byte(`<domstatus pid='1'><domain><name>real</name></domain></domstatus>`), 0o600); err != nil {
		t.Fatal(err)
	}
	mon := filepath.Join(root, "var/lib/libvirt/qemu/domain-1-real/monitor.sock")
	cmd := &exec.Cmd{
		Path: os.Args[0],
		Args: []string{"qemu-system-x86_64", "-name", "guest=real",
			"-chardev", "socket,id=charmonitor,path=" + mon + ",server=on,wait=off", "-mon", "chardev=charmonitor,id=monitor,mode=control"},
		Env: append(os.Environ(), impostorEnv+"=1"),
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	s, _ := scannerFor(root, cmd.Process.Pid)
	// Young, it is given the benefit of the doubt (libvirtd writes the
	// status file just after starting QEMU): libvirt's, never dialled.
	gs, err := s.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if g := find(t, gs, cmd.Process.Pid); g.Owner != OwnerLibvirt || len(g.Monitors) != 1 || g.Monitors[0].Network != "libvirt" {
		t.Errorf("young libvirt look-alike: owner %s, monitors %v", g.Owner, g.Monitors)
	}
	// Past that age, with no status file naming it, it is a plain process.
	time.Sleep(time.Until(started.Add(youngProcess + 100*time.Millisecond)))
	gs, err = s.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	g := find(t, gs, cmd.Process.Pid)
	if g.Owner != OwnerProcess || g.Domain != "" || len(g.Monitors) != 0 || g.State != StateNoMonitor {
		t.Errorf("libvirt impostor listed as owner %s, domain %q, monitors %v, state %q (%s)", g.Owner, g.Domain, g.Monitors, g.State, g.Reason)
	}
}

// TestHeldTCPMonitorIsBusy: QEMU's tcp monitor queues one connection
// while a client holds it; later probes cannot even connect. Every scan
// still says busy, not no-monitor or unresponsive.
func TestHeldTCPMonitorIsBusy(t *testing.T) {
	b := qemutest.Binaries(t)[0]
	inst := startReady(t, b, small(qemutest.Options{Name: "held-tcp", Monitors: []qemutest.MonitorStyle{qemutest.MonitorQMPTCP}}))
	ctx := context.Background()
	c, err := qmp.Dial(ctx, inst.Monitors[0].Network, inst.Monitors[0].Address)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, _ := scannerFor("", inst.PID)
	s.ProbeTimeout = 500 * time.Millisecond
	for i := range 3 {
		gs, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if g := find(t, gs, inst.PID); g.State != StateBusy || !strings.Contains(g.Reason, "another client") {
			t.Errorf("scan %d: state %q (%s), want busy", i, g.State, g.Reason)
		}
	}
}

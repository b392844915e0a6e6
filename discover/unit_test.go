package discover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/qscope/qscope/qmp"
	"github.com/qscope/qscope/qmp/qmptest"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(runHelper())
	}
	if os.Getenv(impostorEnv) != "" {
		// An impostor: a process whose command line claims a QEMU's
		// monitor. It only waits to be killed.
		time.Sleep(time.Hour)
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

func TestParseSpecMonitors(t *testing.T) {
	type mon struct {
		net, addr string
		fd        int
		pretty    bool
	}
	tests := []struct {
		name     string
		argv     string // split at '|'
		guest    string
		process  string
		uuid     string
		monitors []mon
		hmp      int
		clients  int
		readcfg  []string
	}{
		{name: "qmp unix new syntax", argv: "-qmp|unix:/run/a.sock,server=on,wait=off", monitors: []mon{{"unix", "/run/a.sock", -1, false}}},
		{name: "qmp unix old syntax", argv: "-qmp|unix:/run/a.sock,server,nowait", monitors: []mon{{"unix", "/run/a.sock", -1, false}}},
		{name: "qmp unix client", argv: "-qmp|unix:/run/a.sock", clients: 1},
		{name: "double dash", argv: "--qmp|unix:/x,server=on|--name|vm", guest: "vm", monitors: []mon{{"unix", "/x", -1, false}}},
		{name: "comma escaped", argv: "-qmp|unix:/tmp/a,,b.sock,server=on|-name|guest=a,,b,process=p", guest: "a,b", process: "p", monitors: []mon{{"unix", "/tmp/a,b.sock", -1, false}}},
		{name: "qmp tcp", argv: "-qmp|tcp:127.0.0.1:4444,server=on,wait=off", monitors: []mon{{"tcp", "127.0.0.1:4444", -1, false}}},
		{name: "qmp tcp any host", argv: "-qmp|tcp::4444,server,nowait", monitors: []mon{{"tcp", "127.0.0.1:4444", -1, false}}},
		{name: "qmp tcp ipv6", argv: "-qmp|tcp:[::1]:4444,server=on", monitors: []mon{{"tcp", "[::1]:4444", -1, false}}},
		{name: "qmp-pretty", argv: "-qmp-pretty|unix:/p,server=on", monitors: []mon{{"unix", "/p", -1, true}}},
		{name: "chardev + mon control", argv: "-chardev|socket,id=m0,path=/c.sock,server=on,wait=off|-mon|chardev=m0,mode=control", monitors: []mon{{"unix", "/c.sock", -1, false}}},
		{name: "chardev + mon pretty", argv: "-chardev|socket,id=m0,path=/c.sock,server=on|-mon|m0,mode=control,pretty=on", monitors: []mon{{"unix", "/c.sock", -1, true}}},
		{name: "chardev fd", argv: "-chardev|socket,id=charmonitor,fd=23,server=on,wait=off|-mon|chardev=charmonitor,id=monitor,mode=control", monitors: []mon{{"unix", "", 23, false}}},
		{name: "mon readline is HMP", argv: "-chardev|socket,id=h,path=/h.sock,server=on|-mon|chardev=h", hmp: 1},
		{name: "monitor is HMP", argv: "-monitor|unix:/h.sock,server,nowait", hmp: 1},
		{name: "abstract socket", argv: "-chardev|socket,id=m,path=qs,abstract=on,server=on|-mon|chardev=m,mode=control", monitors: []mon{{"unix", "@qs", -1, false}}},
		{name: "qmp chardev reference", argv: "-chardev|socket,id=m,path=/r.sock,server=on|-qmp|chardev:m", monitors: []mon{{"unix", "/r.sock", -1, false}}},
		{name: "several monitors", argv: "-qmp|unix:/1,server=on|-chardev|socket,id=m,host=0.0.0.0,port=5555,server=on|-mon|chardev=m,mode=control|-monitor|stdio", hmp: 1,
			monitors: []mon{{"unix", "/1", -1, false}, {"tcp", "127.0.0.1:5555", -1, false}}},
		{name: "no monitor, name plain", argv: "-name|plain|-uuid|AAAAAAAA-bbbb-cccc-dddd-eeeeeeeeeeee", guest: "plain", uuid: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"},
		{name: "flags do not eat arguments", argv: "-S|-nodefaults|-no-user-config|-name|x|-enable-kvm|-qmp|unix:/f,server=on", guest: "x", monitors: []mon{{"unix", "/f", -1, false}}},
		{name: "readconfig noted", argv: "-readconfig|/etc/vm.cfg|-readconfig|b.cfg", readcfg: []string{"/etc/vm.cfg", "b.cfg"}},
		{name: "qmp stdio is not reachable", argv: "-qmp|stdio"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := parseSpec(append([]string{"qemu-system-x86_64"}, strings.Split(tt.argv, "|")...))
			if sp.name != tt.guest || sp.process != tt.process || sp.uuid != tt.uuid {
				t.Errorf("name/process/uuid = %q/%q/%q, want %q/%q/%q", sp.name, sp.process, sp.uuid, tt.guest, tt.process, tt.uuid)
			}
			var got []mon
			for _, m := range sp.monitors {
				got = append(got, mon{m.ep.Network, m.ep.Address, m.fd, m.ep.Pretty})
			}
			if !slices.Equal(got, tt.monitors) {
				t.Errorf("monitors = %+v, want %+v", got, tt.monitors)
			}
			if sp.hmp != tt.hmp || sp.clients != tt.clients || !slices.Equal(sp.readcfg, tt.readcfg) {
				t.Errorf("hmp/clients/readconfig = %d/%d/%v, want %d/%d/%v", sp.hmp, sp.clients, sp.readcfg, tt.hmp, tt.clients, tt.readcfg)
			}
		})
	}
}

func TestParseSpecSMP(t *testing.T) {
	for argv, want := range map[string]int{"-smp|4": 4, "-smp|cpus=2,maxcpus=8": 2, "-smp|sockets=2,cores=3": 6, "-m|64": 1, "-machine|pc|-m|64": 1, "-machine|none": 0, "-M|type=none,accel=tcg": 0} {
		if got := parseSpec(append([]string{"qemu-system-x86_64"}, strings.Split(argv, "|")...)).smp; got != want {
			t.Errorf("%s: smp = %d, want %d", argv, got, want)
		}
	}
}

func TestParseStat(t *testing.T) {
	// comm with a space and a parenthesis, as a -name process= can make it.
	line := "1234 (qs (vm) 1) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 130 0 0 20 0 7 0 98765 1000000 4321 18446744073709551615 0 0 0 0 0 0 0 4096 0 0 0 17 1 0 0 0 0 0\n"
	st, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if st.comm != "qs (vm) 1" || st.state != 'S' || st.utime != 250 || st.stime != 130 || st.threads != 7 || st.startTicks != 98765 || st.rssPages != 4321 {
		t.Errorf("parsed %+v", st)
	}
	if st.cpuTime() != 3800*time.Millisecond {
		t.Errorf("cpu time %v, want 3.8s", st.cpuTime())
	}
	if _, err := parseStat([]byte("1234 (x) S 1")); err == nil {
		t.Error("a short stat parsed without error")
	}
}

func TestIsVCPUThread(t *testing.T) {
	for comm, want := range map[string]bool{"CPU 0/KVM": true, "CPU 12/TCG": true, "CPU x/KVM": false, "qemu-system-x86": false, "CPU 1": false, "IO mon_iothread": false} {
		if isVCPUThread(comm) != want {
			t.Errorf("isVCPUThread(%q) = %v", comm, !want)
		}
	}
}

func TestClassifyLayouts(t *testing.T) {
	root := "/tmp/fake-root"
	l := layout{root: root}
	mk := func(path string) []Endpoint { return []Endpoint{{Network: "unix", Address: path}} }
	tests := []struct {
		name  string
		sp    spec
		eps   []Endpoint
		owner Owner
		id    string
		uri   string
	}{
		{name: "libvirt monitor", eps: mk(root + "/var/lib/libvirt/qemu/domain-3-web/monitor.sock"), owner: OwnerLibvirt, uri: "qemu:///system"},
		{name: "libvirt run dir", eps: mk(root + "/run/libvirt/qemu/x.monitor"), owner: OwnerLibvirt, uri: "qemu:///system"},
		{name: "libvirt by other path", sp: spec{paths: []string{root + "/var/lib/libvirt/qemu/domain-3-web/master-key.aes"}}, owner: OwnerLibvirt, uri: "qemu:///system"},
		{name: "libvirt session", eps: mk("/home/u/.config/libvirt/qemu/lib/domain-1-x/monitor.sock"), owner: OwnerLibvirt, uri: "qemu:///session"},
		{name: "libvirt charmonitor fd", sp: spec{libvirtID: true, monitors: []monitorSpec{{fd: 25, chardev: "charmonitor"}}}, owner: OwnerLibvirt, uri: "qemu:///system"},
		{name: "incus", eps: mk(root + "/run/incus/proj_inst1/qemu.monitor"), owner: OwnerIncus, id: "proj_inst1"},
		{name: "proxmox", eps: mk(root + "/var/run/qemu-server/101.qmp"), owner: OwnerProxmox, id: "101"},
		{name: "proxmox pidfile", sp: spec{pidfile: root + "/var/run/qemu-server/103.pid"}, owner: OwnerProxmox, id: "103"},
		{name: "proxmox run", eps: mk(root + "/run/qemu-server/102.qmp"), owner: OwnerProxmox, id: "102"},
		{name: "real root path is not the fake root", eps: mk("/run/incus/x/qemu.monitor"), owner: OwnerProcess},
		{name: "plain", eps: mk("/tmp/vm.sock"), owner: OwnerProcess},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := l.classify(tt.sp, tt.eps, DefaultLibvirtURI)
			if got.owner != tt.owner || got.id != tt.id || got.libvirtURI != tt.uri {
				t.Errorf("classify = %+v, want owner %s id %q uri %q", got, tt.owner, tt.id, tt.uri)
			}
		})
	}
}

// TestLocalGuestsKeepTheirLocalURI: a libvirt guest found in this host's
// process table or status files belongs to the local daemon of its layout,
// whatever URI the caller configured for the libvirt API (a session or a
// remote one): its monitor is that local daemon's URI, so a connection by
// name goes to the daemon that really holds it.
func TestLocalGuestsKeepTheirLocalURI(t *testing.T) {
	p := newFakeProc(t)
	root := t.TempDir()
	p.process(610, 1, 'S', 0, []string{"/usr/bin/qemu-system-x86_64", "-name", "guest=sys,debug-threads=on",
		"-chardev", "socket,id=charmonitor,path=" + root + "/var/lib/libvirt/qemu/domain-1-sys/monitor.sock,server=on,wait=off",
		"-mon", "chardev=charmonitor,id=monitor,mode=control"}, 1)
	p.process(611, 1, 'S', 0, []string{"/usr/bin/qemu-system-x86_64", "-name", "guest=ses,debug-threads=on",
		"-chardev", "socket,id=charmonitor,path=/home/u/.config/libvirt/qemu/lib/domain-2-ses/monitor.sock,server=on,wait=off",
		"-mon", "chardev=charmonitor,id=monitor,mode=control"}, 1)
	dir := filepath.Join(root, "run/libvirt/qemu")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sys.xml"), []byte(`<domstatus pid='610'><domain><name>sys</name></domain></domstatus>`), 0o600); err != nil {
		t.Fatal(err)
	}
	for configured, want := range map[string][2]string{
		"":                                   {"qemu:///system", "qemu:///session"},
		"qemu:///system":                     {"qemu:///system", "qemu:///session"},
		"qemu:///session":                    {"qemu:///system", "qemu:///session"},
		"qemu+ssh://root@far.example/system": {"qemu:///system", "qemu:///session"},
		"qemu:///system?socket=/x/sock":      {"qemu:///system?socket=/x/sock", "qemu:///session"},
	} {
		gs, err := (&ProcSource{ProcRoot: p.root, Root: root, LibvirtURI: configured}).Scan(context.Background())
		if err != nil || len(gs) != 2 {
			t.Fatalf("%q: %+v, %v", configured, gs, err)
		}
		for _, g := range gs {
			w := want[0]
			if g.PID == 611 {
				w = want[1]
			}
			if g.Owner != OwnerLibvirt || g.Monitor != w || len(g.Monitors) != 1 || g.Monitors[0].Address != w {
				t.Errorf("configured %q: pid %d listed with monitor %q (%+v), want %q", configured, g.PID, g.Monitor, g.Monitors, w)
			}
		}
		st, err := (&DomainStatusSource{Dir: dir, ProcRoot: p.root, LibvirtURI: configured}).Scan(context.Background())
		if err != nil || len(st) != 1 || st[0].Monitor != want[0] {
			t.Errorf("configured %q: status file guest %+v, %v; want monitor %q", configured, st, err, want[0])
		}
	}
}

func TestParseDomStatus(t *testing.T) {
	x := `<domstatus state='running' reason='booted' pid='4242'>
  <taint flag='high-privileges'/>
  <monitor path='/var/lib/libvirt/qemu/domain-1-web/monitor.sock' type='unix'/>
  <domain type='kvm' id='1'>
    <name>web</name>
    <uuid>6A1B0F6E-3D1C-4C6B-9F6E-2F1B6A7C8D9E</uuid>
  </domain>
</domstatus>`
	ds, err := parseDomStatus([]byte(x))
	if err != nil {
		t.Fatal(err)
	}
	if ds.PID != 4242 || ds.Name != "web" || !slices.Equal(ds.Taints, []string{"high-privileges"}) || ds.UUID != "6A1B0F6E-3D1C-4C6B-9F6E-2F1B6A7C8D9E" || !strings.HasSuffix(ds.Monitor, "/monitor.sock") {
		t.Errorf("parsed %+v", ds)
	}
	if _, err := parseDomStatus([]byte("<domain/>")); err == nil {
		t.Error("a file that is not domstatus parsed without error")
	}
}

func TestMerge(t *testing.T) {
	proc := []Guest{
		{Name: "web", PID: 10, Owner: OwnerProcess, State: StateDenied, RSS: 100},
		{Name: "db", PID: 11, Owner: OwnerProcess, State: StateStopped, UUID: "u-11"},
	}
	state := []Guest{
		{Name: "web-domain", Domain: "web-domain", PID: 10, Owner: OwnerLibvirt, UUID: "u-10", Monitor: "qemu:///system", Monitors: []Endpoint{{Network: "libvirt", Address: "qemu:///system"}}, Reason: "libvirt"},
	}
	api := []Guest{
		{Name: "db", Domain: "db", UUID: "U-11", Owner: OwnerLibvirt, Reason: "from api"},
		{Name: "off", Domain: "off", Owner: OwnerLibvirt, State: StateShutOff},
	}
	remote := []Guest{{Name: "far", Domain: "far", PID: 10, UUID: "u-remote", Owner: OwnerLibvirt, State: StatePaused}}
	got := Merge(proc, state, api, remote)
	if len(got) != 4 {
		t.Fatalf("merged %d guests, want 3: %+v", len(got), got)
	}
	byName := map[string]Guest{}
	for _, g := range got {
		byName[g.Name] = g
	}
	w := byName["web-domain"]
	if w.PID != 10 || w.Owner != OwnerLibvirt || w.UUID != "u-10" || w.RSS != 100 || w.Monitor != "qemu:///system" || w.State != StateRunning {
		t.Errorf("web merged as %+v", w)
	}
	d := byName["db"]
	if d.PID != 11 || d.Owner != OwnerLibvirt || d.State != StateStopped {
		t.Errorf("db (matched by uuid, any case) merged as %+v", d)
	}
	if f := byName["far"]; f.State != StatePaused || f.RSS != 0 || byName["web-domain"].UUID != "u-10" {
		t.Errorf("a remote guest with a colliding pid was joined: %+v", f)
	}
	if o := byName["off"]; o.PID != 0 || o.State != StateShutOff || o.Key() != "libvirt/off" {
		t.Errorf("shut-off domain kept as %+v", o)
	}
}

func TestDiffAndKey(t *testing.T) {
	a := Guest{Name: "a", PID: 1, StartTicks: 5, State: StateRunning}
	b := Guest{Name: "b", PID: 2, StartTicks: 5, State: StateRunning}
	b2 := b
	b2.State = StatePaused
	c := Guest{Name: "c", PID: 3, StartTicks: 5, State: StateRunning}
	reused := Guest{Name: "a", PID: 1, StartTicks: 9, State: StateRunning}
	got := Diff([]Guest{a, b, c}, []Guest{reused, b2, c})
	want := []string{"added a (pid 1, running)", "updated b (pid 2, paused)", "removed a (pid 1, running)"}
	var s []string
	for _, ch := range got {
		s = append(s, ch.String())
	}
	if !slices.Equal(s, want) {
		t.Errorf("Diff = %q, want %q", s, want)
	}
	if Diff([]Guest{a}, []Guest{a}) != nil {
		t.Error("no change reported a change")
	}
}

// TestDiffSeesEveryShownField: a guest whose taints or monitor endpoints
// change (libvirt sets "custom-monitor" after the first passthrough; a
// monitor answers in another order) is Updated, so a live view shows it at
// once rather than at the guest's next other change.
func TestDiffSeesEveryShownField(t *testing.T) {
	base := Guest{Name: "web", PID: 7, StartTicks: 3, State: StateRunning, Owner: OwnerLibvirt, Domain: "web",
		Taints:   []string{"high-privileges"},
		Monitors: []Endpoint{{Network: "libvirt", Address: "qemu:///system"}}}
	clone := func() Guest {
		g := base
		g.Taints = slices.Clone(base.Taints)
		g.Monitors = slices.Clone(base.Monitors)
		return g
	}
	if ch := Diff([]Guest{base}, []Guest{clone()}); ch != nil {
		t.Fatalf("equal copies differ: %v", ch)
	}
	tainted := clone()
	tainted.Taints = append(tainted.Taints, "custom-monitor")
	sameCount := clone()
	sameCount.Taints = []string{"custom-monitor"}
	moved := clone()
	moved.Monitors = []Endpoint{{Network: "libvirt", Address: "qemu:///session"}}
	pretty := clone()
	pretty.Monitors[0].Pretty = true
	for name, g := range map[string]Guest{"taint added": tainted, "taint replaced": sameCount, "monitor address": moved, "monitor pretty": pretty} {
		ch := Diff([]Guest{base}, []Guest{g})
		if len(ch) != 1 || ch[0].Kind != Updated {
			t.Errorf("%s: Diff = %v, want one update", name, ch)
		}
	}
}

func TestMatch(t *testing.T) {
	gs := []Guest{
		{Name: "web", PID: 100, StartTicks: 1, UUID: "aaaaaaaa-0000-0000-0000-000000000001", Owner: OwnerProcess},
		{Name: "web", PID: 200, StartTicks: 1, Owner: OwnerLibvirt, Domain: "web"},
		{Name: "db", PID: 300, StartTicks: 7, Owner: OwnerProcess},
	}
	for target, pid := range map[string]int{"db": 300, "DB": 300, "100": 100, "AAAAAAAA-0000-0000-0000-000000000001": 100, "300@7": 300} {
		g, err := Match(gs, target)
		if err != nil || g.PID != pid {
			t.Errorf("Match(%q) = pid %d, %v; want pid %d", target, g.PID, err, pid)
		}
	}
	_, err := Match(gs, "web")
	var amb *AmbiguousError
	if !errors.As(err, &amb) || !errors.Is(err, ErrAmbiguous) || len(amb.Candidates) != 2 || !strings.Contains(err.Error(), "pid 100") || !strings.Contains(err.Error(), "pid 200") {
		t.Errorf("ambiguous name: %v", err)
	}
	_, err = Match(gs, "nope")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "db (pid 300") {
		t.Errorf("not found: %v", err)
	}
}

// fakeProc is a procfs tree under a temporary directory.
type fakeProc struct {
	t    *testing.T
	root string
}

func newFakeProc(t *testing.T) *fakeProc {
	root := t.TempDir()
	p := &fakeProc{t: t, root: root}
	p.write("stat", "cpu  1 2 3\nbtime 1700000000\n")
	p.write("net/unix", "Num       RefCount Protocol Flags    Type St Inode Path\n")
	return p
}

func (p *fakeProc) write(name, content string) {
	p.t.Helper()
	f := filepath.Join(p.root, name)
	if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// process adds (or replaces) a process: its stat, cmdline and vCPU threads.
func (p *fakeProc) process(pid int, start uint64, state byte, cpuTicks uint64, argv []string, vcpus int) {
	p.t.Helper()
	dir := strconv.Itoa(pid)
	os.RemoveAll(filepath.Join(p.root, dir))
	threads := vcpus + 2
	p.write(dir+"/stat", fmt.Sprintf("%d (qemu-system-x86) %c 1 %d %d 0 -1 0 0 0 0 0 %d 0 0 0 20 0 %d 0 %d 0 2048 0\n", pid, state, pid, pid, cpuTicks, threads, start))
	p.write(dir+"/cmdline", strings.Join(argv, "\x00")+"\x00")
	p.write(dir+"/task/"+dir+"/comm", "qemu-system-x86\n")
	p.write(dir+"/task/"+strconv.Itoa(pid+1)+"/comm", "IO mon_iothread\n")
	for i := 0; i < vcpus; i++ {
		p.write(dir+"/task/"+strconv.Itoa(pid+10+i)+"/comm", fmt.Sprintf("CPU %d/KVM\n", i))
	}
}

func (p *fakeProc) remove(pid int) { os.RemoveAll(filepath.Join(p.root, strconv.Itoa(pid))) }

func TestPIDReuseIsANewGuest(t *testing.T) {
	p := newFakeProc(t)
	p.process(4242, 100, 'S', 50, []string{"qemu-system-x86_64", "-name", "first", "-nodefaults"}, 2)
	p.process(77, 10, 'S', 0, []string{"/usr/sbin/sshd", "-D"}, 0)
	s := &Scanner{ProcRoot: p.root, Root: t.TempDir()}
	ctx := context.Background()
	first, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 1 || first[0].Name != "first" || first[0].Key() != "4242@100" || first[0].VCPUs != 2 || first[0].State != StateNoMonitor {
		t.Fatalf("first scan: %+v", first)
	}
	if first[0].Started != time.Unix(1700000000+1, 0) || first[0].RSS != 2048*uint64(os.Getpagesize()) {
		t.Errorf("start %v rss %d", first[0].Started, first[0].RSS)
	}

	// The pid is reused by another QEMU: a new start time, a new command line.
	p.process(4242, 900, 'S', 0, []string{"qemu-system-x86_64", "-name", "second", "-smp", "3"}, 0)
	second, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(second) != 1 || second[0].Name != "second" || second[0].Key() != "4242@900" || second[0].VCPUs != 3 {
		t.Fatalf("after reuse: %+v", second)
	}
	ch := Diff(first, second)
	if len(ch) != 2 || ch[0].Kind != Added || ch[0].Guest.Name != "second" || ch[1].Kind != Removed || ch[1].Guest.Name != "first" {
		t.Errorf("changes %v", ch)
	}

	// SIGSTOP shows as stopped; the process leaving removes it.
	p.process(4242, 900, 'T', 0, []string{"qemu-system-x86_64", "-name", "second"}, 0)
	third, _ := s.List(ctx)
	if len(third) != 1 || third[0].State != StateStopped {
		t.Errorf("stopped: %+v", third)
	}
	p.remove(4242)
	if gs, _ := s.List(ctx); len(gs) != 0 {
		t.Errorf("after exit: %+v", gs)
	}
}

func TestFDMonitorFoundThroughNetUnix(t *testing.T) {
	p := newFakeProc(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "passed  two spaces.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p.process(500, 1, 'S', 0, []string{"qemu-system-x86_64", "-chardev", "socket,id=m,fd=7,server=on,wait=off", "-mon", "chardev=m,mode=control"}, 0)
	if err := os.Symlink("socket:[987654]", filepath.Join(p.root, "500/fd/7")); err != nil {
		if err := os.MkdirAll(filepath.Join(p.root, "500/fd"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("socket:[987654]", filepath.Join(p.root, "500/fd/7")); err != nil {
			t.Fatal(err)
		}
	}
	p.write("net/unix", "Num       RefCount Protocol Flags    Type St Inode Path\n"+
		"0000000000000000: 00000002 00000000 00010000 0001 01 987654 "+sock+"\n"+
		"0000000000000000: 00000003 00000000 00000000 0001 03 987655 "+sock+"\n")
	src := &ProcSource{ProcRoot: p.root}
	gs, err := src.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 1 || len(gs[0].Monitors) != 1 || gs[0].Monitors[0].Address != sock {
		t.Fatalf("guests %+v", gs)
	}
}

// TestNeverProbesLibvirtMonitor: a process in libvirt's layout is listed as
// libvirt's and its monitor socket is never connected to.
func TestNeverProbesLibvirtMonitor(t *testing.T) {
	p := newFakeProc(t)
	root := t.TempDir()
	dom := filepath.Join(root, "var/lib/libvirt/qemu/domain-1-web")
	if err := os.MkdirAll(dom, 0o700); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dom, "monitor.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	p.process(600, 1, 'S', 0, []string{"/usr/bin/qemu-system-x86_64", "-name", "guest=web,debug-threads=on",
		"-chardev", "socket,id=charmonitor,path=" + sock + ",server=on,wait=off", "-mon", "chardev=charmonitor,id=monitor,mode=control"}, 1)
	defer func() { l.Close(); <-done }()
	// connections reports how many connections the socket got before
	// now: it connects once itself, says "M", and counts the connections
	// the listen queue delivers before that one.
	connections := func() int {
		m, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if _, err := m.Write([]byte("M")); err != nil {
			t.Fatal(err)
		}
		n := 0
		for {
			select {
			case c := <-conns:
				b := make([]byte, 1)
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, err := c.Read(b)
				c.Close()
				if err == nil && b[0] == 'M' {
					return n
				}
				n++
			case <-time.After(10 * time.Second):
				t.Fatal("the marker connection was never accepted")
			}
		}
	}
	s := &Scanner{ProcRoot: p.root, Root: root}
	gs, err := s.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 1 {
		t.Fatalf("guests %+v", gs)
	}
	g := gs[0]
	if g.Owner != OwnerLibvirt || g.Domain != "web" || g.Monitor != "qemu:///system" || g.State != StateRunning || !strings.Contains(g.Reason, "libvirt") {
		t.Errorf("libvirt guest listed as %+v", g)
	}
	if n := connections(); n != 0 {
		t.Errorf("the scanner connected %d times to libvirt's monitor", n)
	}
	_, err = (&Connector{Scanner: s}).ConnectGuest(context.Background(), g)
	if !errors.Is(err, ErrNeedsLibvirt) {
		t.Errorf("connecting without a libvirt route: %v", err)
	}
	if n := connections(); n != 0 {
		t.Errorf("Connect dialled libvirt's monitor %d times", n)
	}

	// With a libvirt route, Connect hands the guest to it.
	srv := &qmptest.Server{}
	var routed Guest
	c := &Connector{Scanner: s, Libvirt: func(ctx context.Context, g Guest) (qmp.Monitor, error) {
		routed = g
		return qmp.NewClient(ctx, srv.Pipe(t))
	}}
	m, g2, err := c.Connect(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if routed.Domain != "web" || g2.PID != 600 {
		t.Errorf("libvirt route got %+v", routed)
	}
	if n := connections(); n != 0 {
		t.Errorf("the libvirt route's Connect dialled the monitor %d times", n)
	}
}

func TestGuestJSONIsPlainData(t *testing.T) {
	g := Guest{Name: "vm", PID: 1, State: StateRunning, Owner: OwnerProcess, Monitor: "/s"}
	b, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"name":"vm"`, `"pid":1`, `"state":"running"`, `"owner":"process"`, `"monitor":"/s"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("%s lacks %s", b, k)
		}
	}
}

// A -readconfig file's chardev, mon, name and smp-opts groups become the
// options they stand for; other groups are left out; a malformed file is
// an error naming its line.
func TestConfigArgs(t *testing.T) {
	text := `# qemu config file

[name]
  guest = "cfg-vm"

[smp-opts]
  cpus = "2"

[drive]
  file = "/var/lib/vm/disk.qcow2"

[chardev "qmp"]
  backend = "socket"
  path = "/run/vm,1.qmp"
  server = "on"
  wait = "off"

[mon]
  mode = "control"
  chardev = "qmp"
`
	args, err := configArgs(text)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"-name", "guest=cfg-vm", "-smp", "cpus=2",
		"-chardev", "id=qmp,backend=socket,path=/run/vm,,1.qmp,server=on,wait=off",
		"-mon", "mode=control,chardev=qmp"}
	if !slices.Equal(args, want) {
		t.Errorf("args = %q\nwant   %q", args, want)
	}
	sp := parseSpec(append([]string{"qemu-system-x86_64", "-readconfig", "x.cfg"}, args...))
	if sp.name != "cfg-vm" || sp.smp != 2 || len(sp.monitors) != 1 || sp.monitors[0].ep.Address != "/run/vm,1.qmp" {
		t.Errorf("spec from the config: name %q smp %d monitors %+v", sp.name, sp.smp, sp.monitors)
	}
	for _, bad := range []string{"[chardev \"x\"\n", "[mon]\nmode control\n", "[mon]\nmode = control\n"} {
		if _, err := configArgs(bad); err == nil || !strings.Contains(err.Error(), "line ") {
			t.Errorf("configArgs(%q) = %v, want an error naming the line", bad, err)
		}
	}
}

// Listings order names as people read them, as the UI does: vm-2 before
// vm-10, case ignored.
func TestListOrderIsNatural(t *testing.T) {
	gs := []Guest{{Name: "vm-10", PID: 1}, {Name: "vm-2", PID: 2}, {Name: "Vm-3", PID: 3}, {Name: "vm-1", PID: 4}}
	sortGuests(gs)
	var got []string
	for _, g := range gs {
		got = append(got, g.Name)
	}
	if want := []string{"vm-1", "vm-2", "Vm-3", "vm-10"}; !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

// CPU% is computed over at least minCPUWindow: two scans a few
// milliseconds apart would otherwise turn one 10 ms clock tick into
// hundreds of percent.
func TestCPURateWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	started := t0.Add(-100 * time.Second)
	// First sample: the average since start (50 s of CPU in 100 s).
	r, s := cpuRate(cpuSample{}, false, 50*time.Second, started, t0)
	if r != 50 {
		t.Fatalf("first sample: %v%%, want the average since start, 50", r)
	}
	// 2 ms later one tick (10 ms) more: too soon to say, the baseline stays.
	r, s2 := cpuRate(s, true, 50*time.Second+10*time.Millisecond, started, t0.Add(2*time.Millisecond))
	if r > 100 || s2.at != t0 {
		t.Errorf("2 ms after the first sample: %v%%, baseline %v; want no spike and the old baseline", r, s2.at)
	}
	// 500 ms after the baseline, 100 ms more: 20%.
	r, s3 := cpuRate(s2, true, 50*time.Second+100*time.Millisecond, started, t0.Add(500*time.Millisecond))
	if r < 19.9 || r > 20.1 || s3.at != t0.Add(500*time.Millisecond) {
		t.Errorf("over 500 ms: %v%%, want 20", r)
	}
	// Again too soon: the last rate, not a spike.
	if r, _ := cpuRate(s3, true, 50*time.Second+110*time.Millisecond, started, t0.Add(503*time.Millisecond)); r != s3.rate {
		t.Errorf("3 ms after a rate: %v%%, want the last rate %v", r, s3.rate)
	}
}

// readConfig refuses what is not a regular file without opening it, and
// a malformed file's error never quotes its content (root may read files
// a process names that their owner could not).
func TestReadConfigRefusals(t *testing.T) {
	pid := os.Getpid()
	if _, err := readConfig("/proc", pid, "/dev/null"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("/dev/null: %v, want not a regular file", err)
	}
	dir := t.TempDir()
	link := filepath.Join(dir, "link.cfg")
	os.Symlink("/etc/hostname", link)
	if _, err := readConfig("/proc", pid, link); err == nil {
		t.Error("a symlink was followed")
	}
	secret := filepath.Join(dir, "secret.cfg")
	os.WriteFile(secret, []byte("[chardev \"x\"]\n  path = hunter2-secret\n"), 0o600)
	text, err := readConfig("/proc", pid, secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := configArgs(text); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("configArgs error %v quotes the file's content", err)
	}
}

// A guest name with control characters cannot fake lines or escapes in
// the errors that list guests.
func TestNotFoundQuotesOddNames(t *testing.T) {
	err := &NotFoundError{Target: "x", Known: []Guest{{Name: "evil\nqscope: all fine\x1b[2J", PID: 7, Owner: OwnerProcess}, {Name: "plain", PID: 8}}}
	msg := err.Error()
	if strings.ContainsAny(msg, "\n\x1b") || !strings.Contains(msg, `"evil\nqscope: all fine\x1b[2J"`) || !strings.Contains(msg, "plain (pid 8") {
		t.Errorf("message %q", msg)
	}
}

// holds matches a tcp monitor by the process's listener on its port: the
// address itself, a wildcard listener, or any listener for a host name.
func TestHoldsTCP(t *testing.T) {
	l := listeners{tcp: map[uint64]net.Addr{
		1: &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 4444},
		2: &net.TCPAddr{IP: net.IPv4zero, Port: 5555},
		3: &net.TCPAddr{IP: net.ParseIP("::1"), Port: 6666},
	}}
	mine := map[uint64]bool{1: true, 2: true, 3: true}
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:4444", true},
		{"10.0.0.1:4444", false},
		{"10.0.0.1:5555", true},
		{"[::1]:6666", true},
		{"localhost:4444", true},
		{"127.0.0.1:7777", false},
	} {
		if got := l.holds(mine, Endpoint{Network: "tcp", Address: tc.addr}); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.addr, got, tc.want)
		}
	}
	if l.holds(map[uint64]bool{}, Endpoint{Network: "tcp", Address: "127.0.0.1:4444"}) {
		t.Error("a listener of another process counted")
	}
	if got := procIP("0100007F"); !got.Equal(net.ParseIP("127.0.0.1")) {
		t.Errorf("procIP(0100007F) = %v", got)
	}
}

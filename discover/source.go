package discover

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Source finds guests of one kind. The Scanner runs its sources in
// parallel and merges what they report (see [Merge]).
//
// A source reports plain facts and never probes a monitor: probing is the
// Scanner's job. Scan must return when ctx ends, must be safe to call from
// several goroutines at once, and should treat "not permitted" as "sees
// nothing" rather than as an error, because an unprivileged user is
// expected to see less.
type Source interface {
	// Name names the source in errors ("proc", "libvirt-state", …).
	Name() string
	// Scan reports the guests this source sees now.
	Scan(ctx context.Context) ([]Guest, error)
}

var (
	_ Source = (*ProcSource)(nil)
	_ Source = (*DomainStatusSource)(nil)
)

// ProcSource finds every qemu-system-* process in /proc that the caller
// may see and reads its command line: name, uuid, monitors (including a
// monitor handed over as a listening descriptor, found through
// /proc/PID/fd and /proc/net/unix), and who launched it judging by the
// paths it uses (libvirt, Incus, Proxmox; else "process"). It also fills
// the /proc facts: start time, CPU time, RSS, threads and vCPUs.
//
// What does not change for a process (its command line, monitors,
// launcher) is cached per pid and start time. The zero value reads the
// host's /proc.
type ProcSource struct {
	// ProcRoot is where procfs is mounted; "" means "/proc".
	ProcRoot string
	// Root prefixes the run-time directories used to recognise
	// launchers (/run/libvirt, /run/incus, /run/qemu-server); "" means "/".
	Root string
	// LibvirtURI is shown as the monitor of libvirt's guests when it
	// names the local daemon that runs them; otherwise (a remote URI, or
	// the session daemon for a system guest) the local default is shown:
	// qemu:///system, or qemu:///session for the session layout.
	LibvirtURI string

	mu    sync.Mutex
	cache map[int]*procEntry
	boot  time.Time
}

// procEntry is what is known about one pid at one start time.
type procEntry struct {
	start   uint64
	qemu    bool
	argv    []string
	sp      spec
	lnch    launcher
	eps     []Endpoint
	fdNote  string // why a descriptor monitor's path is unknown
	held    []bool // eps[i] is seen to be a socket the process listens on
	heldErr error  // why the process's sockets could not be read
	// A process that looks like the system libvirtd's (by its paths) is
	// taken as libvirt's once a status file of libvirtd names its pid
	// (lvConfirmed); when the status files can be read and none does, it
	// is an impostor, listed as a plain process (lvDenied).
	lvConfirmed, lvDenied bool
	cfgNote               string // why a -readconfig file could not be read
	threads               int
	vcpus                 int
}

func (s *ProcSource) Name() string { return "proc" }

func (s *ProcSource) procRoot() string {
	if s.ProcRoot == "" {
		return "/proc"
	}
	return strings.TrimSuffix(s.ProcRoot, "/")
}

// Scan lists the QEMU processes.
func (s *ProcSource) Scan(ctx context.Context) ([]Guest, error) {
	root := s.procRoot()
	d, err := os.Open(root)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", root, err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", root, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cache == nil {
		s.cache = map[int]*procEntry{}
	}
	if s.boot.IsZero() {
		if s.boot, err = bootTime(root); err != nil {
			return nil, fmt.Errorf("reading boot time: %w", err)
		}
	}
	seen := make(map[int]bool, len(s.cache))
	buf := make([]byte, 1024)
	var netUnix map[uint64]string // read at most once per scan, when needed
	var guests []Guest
	for i, n := range names {
		if i%64 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		pid, err := strconv.Atoi(n)
		if err != nil || pid <= 0 {
			continue
		}
		b, err := readFile(root+"/"+n+"/stat", buf)
		if err != nil {
			continue // exited
		}
		buf = b[:cap(b)]
		st, err := parseStat(b)
		if err != nil || st.state == 'Z' || st.state == 'X' {
			continue
		}
		e := s.cache[pid]
		if e == nil || e.start != st.startTicks {
			e = &procEntry{start: st.startTicks}
			s.cache[pid] = e
			cb, err := readFile(root+"/"+n+"/cmdline", make([]byte, 4096))
			if err != nil {
				delete(s.cache, pid)
				continue
			}
			e.argv = splitCmdline(cb)
			e.qemu = len(e.argv) > 1 && isQEMUBinary(e.argv[0])
			if e.qemu {
				if netUnix == nil && needsNetUnix(e.argv) {
					netUnix, _ = unixSocketPaths(root + "/net/unix")
					if netUnix == nil {
						netUnix = map[uint64]string{}
					}
				}
				s.fill(e, pid, netUnix)
			}
		}
		seen[pid] = true
		if !e.qemu {
			continue
		}
		if e.lnch.owner == OwnerLibvirt && !e.lnch.session && !e.lvConfirmed {
			s.checkLibvirt(e, pid, s.boot.Add(time.Duration(st.startTicks)*time.Second/clockTicks))
		}
		if (e.lnch.owner != OwnerLibvirt || e.lvDenied) && slices.Contains(e.held, false) {
			s.checkHeld(e, pid)
		}
		if e.threads != st.threads {
			if v, err := countVCPUs(root, pid, buf); err == nil {
				e.vcpus = v
			}
			e.threads = st.threads
		}
		guests = append(guests, s.guest(pid, e, st))
	}
	for pid := range s.cache {
		if !seen[pid] {
			delete(s.cache, pid)
		}
	}
	return guests, nil
}

func needsNetUnix(argv []string) bool {
	for _, a := range argv {
		if strings.Contains(a, "fd=") {
			return true
		}
	}
	return false
}

// fill parses a new QEMU process's command line.
func (s *ProcSource) fill(e *procEntry, pid int, netUnix map[uint64]string) {
	e.sp = parseSpec(e.argv)
	if len(e.sp.readcfg) > 0 {
		// What -readconfig files define counts as if it were on the
		// command line.
		args := append([]string(nil), e.argv...)
		var notes []string
		for _, name := range e.sp.readcfg {
			text, err := readConfig(s.procRoot(), pid, name)
			if err == nil {
				var extra []string
				if extra, err = configArgs(text); err == nil {
					args = append(args, extra...)
					continue
				}
			}
			notes = append(notes, fmt.Sprintf("-readconfig %s not read: %v", name, err))
		}
		e.sp = parseSpec(args)
		e.cfgNote = strings.Join(notes, "; ")
	}
	for _, m := range e.sp.monitors {
		ep := m.ep
		if m.fd >= 0 {
			ino, err := socketInode(s.procRoot(), pid, m.fd)
			if err != nil {
				if errors.Is(err, fs.ErrPermission) {
					e.fdNote = fmt.Sprintf("monitor handed over as descriptor %d: only the process owner or root can see its path", m.fd)
				} else {
					e.fdNote = fmt.Sprintf("monitor handed over as descriptor %d: %v", m.fd, err)
				}
				continue
			}
			p, ok := netUnix[ino]
			if !ok || p == "" {
				e.fdNote = fmt.Sprintf("monitor handed over as descriptor %d, an unnamed socket nobody else can connect to", m.fd)
				continue
			}
			ep.Address = p
		}
		e.eps = append(e.eps, ep)
		// Found among the process's own descriptors: it is its own.
		e.held = append(e.held, m.fd >= 0)
	}
	e.lnch = layout{root: s.Root}.classify(e.sp, e.eps, s.LibvirtURI)
}

// checkLibvirt looks for a status file of the system libvirtd that names
// pid. Any process can put libvirt's paths on its command line; one that
// libvirtd does not know is not routed to a domain by the name it gives
// itself. While the status files cannot be read (not root), the paths are
// taken at their word: then neither can the libvirt route be taken
// without libvirt's own access check.
//
// A young process is given time: libvirtd writes its status file just
// after it starts QEMU, and before libvirtd has connected, a QEMU taken for
// a plain process could have its monitor taken by a probe.
func (s *ProcSource) checkLibvirt(e *procEntry, pid int, started time.Time) {
	dir := filepath.Join(s.Root, "/run/libvirt/qemu")
	if s.Root == "" {
		dir = "/run/libvirt/qemu"
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		e.lvDenied = false
		return
	}
	for _, de := range ents {
		if de.IsDir() || filepath.Ext(de.Name()) != ".xml" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			continue
		}
		if ds, err := parseDomStatus(b); err == nil && ds.PID == pid {
			e.lvConfirmed, e.lvDenied = true, false
			return
		}
	}
	e.lvDenied = time.Since(started) >= youngProcess
}

// checkHeld looks, for each endpoint not yet confirmed, whether the
// process listens on it (see owner_linux.go). A confirmed endpoint stays
// confirmed for the life of the process; an unconfirmed one is looked at
// again next scan (QEMU may not be listening yet).
func (s *ProcSource) checkHeld(e *procEntry, pid int) {
	inodes, err := socketInodes(s.procRoot(), pid)
	if err != nil {
		e.heldErr = err
		return
	}
	e.heldErr = nil
	l := readListeners(s.procRoot(), pid)
	for i, ep := range e.eps {
		if !e.held[i] && l.holds(inodes, ep) {
			e.held[i] = true
		}
	}
}

// guest builds the Guest for a QEMU process from its cached entry and
// its current stat.
func (s *ProcSource) guest(pid int, e *procEntry, st procStat) Guest {
	owner := e.lnch.owner
	if e.lvDenied {
		owner = OwnerProcess
	}
	g := Guest{
		Name:       e.sp.name,
		UUID:       e.sp.uuid,
		PID:        pid,
		Owner:      owner,
		Binary:     e.argv[0],
		Cmdline:    e.argv,
		StartTicks: st.startTicks,
		Started:    s.boot.Add(time.Duration(st.startTicks) * time.Second / clockTicks),
		CPUTime:    st.cpuTime(),
		RSS:        st.rssPages * uint64(os.Getpagesize()),
		Threads:    st.threads,
		VCPUs:      e.vcpus,
	}
	if g.VCPUs == 0 {
		g.VCPUs = e.sp.smp
	}
	if st.stopped() {
		g.State = StateStopped
		g.Reason = "process is stopped (SIGSTOP or a debugger): its monitor cannot answer until it gets SIGCONT"
	}
	switch owner {
	case OwnerLibvirt:
		g.Domain = g.Name
		g.Monitor = e.lnch.libvirtURI
		g.Monitors = []Endpoint{{Network: "libvirt", Address: e.lnch.libvirtURI}}
		if g.State == "" {
			g.State = StateRunning
		}
		g.Reason = "driven through libvirt: libvirtd holds its monitor (state shown is the process's, from /proc)"
		if st.stopped() {
			g.Reason = "process is stopped (SIGSTOP); " + g.Reason
		}
		return g
	case OwnerIncus, OwnerProxmox:
		if g.Name == "" {
			g.Name = e.lnch.id
		}
	}
	var unheld []string
	for i, ep := range e.eps {
		if e.held[i] {
			g.Monitors = append(g.Monitors, ep)
		} else {
			unheld = append(unheld, ep.String())
		}
	}
	if len(g.Monitors) > 0 {
		g.Monitor = g.Monitors[0].String()
	}
	if len(g.Monitors) == 0 && len(unheld) > 0 && g.State == "" {
		// Named on the command line, but not (yet) a socket the process
		// listens on: never dialled, since it may be another's.
		g.State = StateNoMonitor
		g.Reason = fmt.Sprintf("monitor %s on its command line is not a socket this process listens on (not listening yet, or another process's)", strings.Join(unheld, ", "))
		if e.heldErr != nil {
			g.State = StateDenied
			g.Reason = fmt.Sprintf("cannot check that monitor %s is this process's own: %v (run as its owner or root)", strings.Join(unheld, ", "), e.heldErr)
		}
		return g
	}
	if len(g.Monitors) == 0 && g.State == "" {
		g.State = StateNoMonitor
		g.Reason = noMonitorReason(e)
		if e.fdNote != "" && strings.Contains(e.fdNote, "only the process owner") {
			g.State = StateDenied
		}
	}
	return g
}

func noMonitorReason(e *procEntry) string {
	var parts []string
	if e.fdNote != "" {
		parts = append(parts, e.fdNote)
	}
	if e.sp.clients > 0 {
		parts = append(parts, "its QMP monitor connects out to a server (server=off): nothing to connect to")
	}
	if e.sp.other > 0 {
		parts = append(parts, "its QMP monitor is not on a socket (stdio, pty, …)")
	}
	if e.sp.hmp > 0 {
		parts = append(parts, "it has only the human monitor (HMP), not QMP")
	}
	if e.cfgNote != "" {
		parts = append(parts, e.cfgNote)
	}
	if len(parts) == 0 {
		return "started without a QMP monitor"
	}
	return strings.Join(parts, "; ")
}

// DomainStatusSource reads libvirt's status files (/run/libvirt/qemu/
// NAME.xml: <domstatus pid=…> with its <taint flag=…/>s, <monitor
// path=…/> and the domain's name and uuid). Only root can read them; for anyone else the source
// sees nothing. It marks the matching process as libvirt's, named by its
// domain.
type DomainStatusSource struct {
	// Dir is libvirt's QEMU state directory; "" means /run/libvirt/qemu.
	Dir string
	// ProcRoot is where procfs is mounted, to check that a status file's
	// pid is alive; "" means "/proc".
	ProcRoot string
	// LibvirtURI is the URI shown as the monitor when it names the local
	// system daemon (these are its files); otherwise DefaultLibvirtURI.
	LibvirtURI string
}

func (s *DomainStatusSource) Name() string { return "libvirt-state" }

// Scan reads every status file.
func (s *DomainStatusSource) Scan(ctx context.Context) ([]Guest, error) {
	dir := s.Dir
	if dir == "" {
		dir = "/run/libvirt/qemu"
	}
	procRoot := s.ProcRoot
	if procRoot == "" {
		procRoot = "/proc"
	}
	// The status files are the local system daemon's.
	uri := localLibvirtURI(s.LibvirtURI, false)
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading libvirt state %s: %w", dir, err)
	}
	var guests []Guest
	for _, de := range ents {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if de.IsDir() || path.Ext(de.Name()) != ".xml" {
			continue
		}
		b, err := os.ReadFile(path.Join(dir, de.Name()))
		if err != nil {
			continue // removed as the domain stopped, or not ours to read
		}
		ds, err := parseDomStatus(b)
		if err != nil || ds.PID <= 0 {
			continue
		}
		sb, err := os.ReadFile(procRoot + "/" + strconv.Itoa(ds.PID) + "/stat")
		if err != nil {
			continue // a stale file: the process is gone
		}
		st, err := parseStat(sb)
		if err != nil {
			continue
		}
		if cb, err := os.ReadFile(procRoot + "/" + strconv.Itoa(ds.PID) + "/cmdline"); err != nil || !isQEMUBinary(firstArg(cb)) {
			continue // the pid was reused by something else
		}
		g := Guest{
			Name:       ds.Name,
			Domain:     ds.Name,
			UUID:       strings.ToLower(ds.UUID),
			PID:        ds.PID,
			StartTicks: st.startTicks,
			Owner:      OwnerLibvirt,
			Monitor:    uri,
			Monitors:   []Endpoint{{Network: "libvirt", Address: uri}},
			Taints:     ds.Taints,
			Reason:     "driven through libvirt: libvirtd holds its monitor",
		}
		if ds.Monitor != "" {
			g.Reason += " " + ds.Monitor
		}
		guests = append(guests, g)
	}
	return guests, nil
}

func firstArg(cmdline []byte) string {
	a, _, _ := bytes.Cut(cmdline, []byte{0})
	return string(a)
}

// domStatus is the part of libvirt's status XML discovery reads.
type domStatus struct {
	PID     int
	Name    string
	UUID    string
	Monitor string
	Taints  []string
}

func parseDomStatus(b []byte) (domStatus, error) {
	var x struct {
		XMLName xml.Name `xml:"domstatus"`
		PID     int      `xml:"pid,attr"`
		Taints  []struct {
			Flag string `xml:"flag,attr"`
		} `xml:"taint"`
		Monitor struct {
			Path string `xml:"path,attr"`
		} `xml:"monitor"`
		Domain struct {
			Name string `xml:"name"`
			UUID string `xml:"uuid"`
		} `xml:"domain"`
	}
	if err := xml.Unmarshal(b, &x); err != nil {
		return domStatus{}, fmt.Errorf("parsing libvirt status: %w", err)
	}
	ds := domStatus{PID: x.PID, Name: x.Domain.Name, UUID: x.Domain.UUID, Monitor: x.Monitor.Path}
	for _, t := range x.Taints {
		if t.Flag != "" {
			ds.Taints = append(ds.Taints, t.Flag)
		}
	}
	return ds, nil
}

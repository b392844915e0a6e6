package discover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/qscope/qscope/qmp"
)

// DefaultProbeTimeout bounds one guest's monitor probe.
const DefaultProbeTimeout = 300 * time.Millisecond

// youngProcess is how long after its start a QEMU that does not greet may
// simply still be starting.
const youngProcess = 3 * time.Second

// DefaultConcurrency is how many monitors are probed at once.
const DefaultConcurrency = 16

// Scanner lists the QEMU guests on this host. Its zero value scans the
// real host with the built-in sources. A Scanner keeps caches between
// scans (what never changes for a process; the CPU sample for CPU%), so
// keep one per view and reuse it; it is safe for concurrent use and must
// not be copied after first use.
type Scanner struct {
	// ProcRoot is where procfs is mounted; "" means "/proc".
	ProcRoot string
	// Root prefixes the launchers' run-time directories (/run/libvirt,
	// /run/incus, /run/qemu-server); "" means "/". Tests point it at a
	// temporary tree.
	Root string
	// LibvirtURI is shown as the monitor of this host's libvirt guests
	// when it names the local daemon that runs them; "" (or a remote URI)
	// means qemu:///system, or qemu:///session for the session layout.
	LibvirtURI string
	// ProbeTimeout bounds each guest's monitor probe; 0 means
	// DefaultProbeTimeout.
	ProbeTimeout time.Duration
	// Concurrency bounds the probes running at once; 0 means
	// DefaultConcurrency.
	Concurrency int
	// Sources replaces the built-in sources (a ProcSource and a
	// DomainStatusSource configured from the fields above) when non-nil.
	// The first source should be the process source: its entries are the
	// base that later sources' entries join (see Merge).
	Sources []Source
	// Extra sources run after the built-in ones (the libvirt API source,
	// for one).
	Extra []Source

	once    sync.Once
	builtin []Source

	mu     sync.Mutex
	static map[string]*staticInfo
	cpu    map[string]cpuSample
	held   map[string]qmp.Monitor // by Endpoint.String(): monitors this process holds
}

// Hold makes scans probe the monitor at ep through m, a connection this
// process holds, until release is called. QEMU serves one client per
// monitor, so a probe's own connection would find it busy; through m the
// guest's state stays live. A Connector with a Scanner holds every
// monitor it opens, and releases it when the monitor is closed.
func (s *Scanner) Hold(ep Endpoint, m qmp.Monitor) (release func()) {
	key := ep.String()
	s.mu.Lock()
	if s.held == nil {
		s.held = map[string]qmp.Monitor{}
	}
	s.held[key] = m
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.held[key] == m {
				delete(s.held, key)
			}
			s.mu.Unlock()
		})
	}
}

// Close releases what the scanner's sources keep between scans (the
// connection a LibvirtSource keeps to a remote daemon): every source that
// is an io.Closer is closed. The scanner can scan again afterwards; the
// sources then open what they need anew.
func (s *Scanner) Close() error {
	var errs []error
	for _, src := range append(append([]Source(nil), s.Sources...), s.Extra...) {
		if c, ok := src.(io.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

// heldMonitor is the monitor this process holds at ep, if it is still
// connected.
func (s *Scanner) heldMonitor(ep Endpoint) qmp.Monitor {
	s.mu.Lock()
	m := s.held[ep.String()]
	s.mu.Unlock()
	if m == nil {
		return nil
	}
	select {
	case <-m.Done():
		return nil
	default:
		return m
	}
}

// staticInfo is what never changes for one process (one Key).
type staticInfo struct {
	name, uuid, version string
	prefer              int  // the monitor that answered last
	asked               bool // query-name and query-uuid were answered once: not asked again
}

type cpuSample struct {
	cpu  time.Duration
	at   time.Time
	rate float64 // the CPU% last computed against an earlier sample
	has  bool    // rate is set
}

// minCPUWindow is the least time between two samples CPU% is computed
// over: the kernel counts CPU time in clock ticks (10 ms), so over a few
// milliseconds one tick reads as hundreds of percent.
const minCPUWindow = 250 * time.Millisecond

// cpuRate returns a guest's CPU% at now and the sample to keep: against
// the previous sample once minCPUWindow has passed; before that the last
// rate, or the average since the process started, keeping the older
// sample as the baseline.
func cpuRate(prev cpuSample, ok bool, cpu time.Duration, started, now time.Time) (float64, cpuSample) {
	if ok && now.Sub(prev.at) >= minCPUWindow {
		r := max(0, 100*float64(cpu-prev.cpu)/float64(now.Sub(prev.at)))
		return r, cpuSample{cpu: cpu, at: now, rate: r, has: true}
	}
	if ok && prev.has {
		return prev.rate, prev
	}
	var avg float64
	if !started.IsZero() && now.After(started) {
		avg = max(0, 100*float64(cpu)/float64(now.Sub(started)))
	}
	if ok {
		return avg, prev
	}
	return avg, cpuSample{cpu: cpu, at: now}
}

func (s *Scanner) procRoot() string {
	if s.ProcRoot == "" {
		return "/proc"
	}
	return s.ProcRoot
}

func (s *Scanner) sources() []Source {
	s.once.Do(func() {
		dir := "/run/libvirt/qemu"
		if s.Root != "" && s.Root != "/" {
			dir = filepath.Join(s.Root, dir)
		}
		s.builtin = []Source{
			&ProcSource{ProcRoot: s.ProcRoot, Root: s.Root, LibvirtURI: s.LibvirtURI},
			&DomainStatusSource{Dir: dir, ProcRoot: s.ProcRoot, LibvirtURI: s.LibvirtURI},
		}
	})
	src := s.Sources
	if src == nil {
		src = s.builtin
	}
	if len(s.Extra) > 0 {
		src = append(append([]Source(nil), src...), s.Extra...)
	}
	return src
}

// SourceError is a source that failed during a scan; the other sources'
// guests are still listed.
type SourceError struct {
	Source string
	Err    error
}

func (e *SourceError) Error() string { return "discover: source " + e.Source + ": " + e.Err.Error() }
func (e *SourceError) Unwrap() error { return e.Err }

// List scans once: it runs the sources, merges their guests, probes the
// monitors of those it may reach (never a libvirt guest's), and fills CPU%
// from the previous scan of this Scanner (the first time, the average
// since the process started).
//
// A source that fails does not hide the others: List returns every guest
// found and, when some source failed, a non-nil error joining
// *SourceError values. A guest whose process exits during the scan is
// left out. List returns ctx's error, and no guests, when ctx ends first.
func (s *Scanner) List(ctx context.Context) ([]Guest, error) {
	srcs := s.sources()
	lists := make([][]Guest, len(srcs))
	errs := make([]error, len(srcs))
	var wg sync.WaitGroup
	for i, src := range srcs {
		wg.Go(func() {
			gs, err := src.Scan(ctx)
			lists[i] = gs
			if err != nil {
				errs[i] = &SourceError{Source: src.Name(), Err: err}
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	guests := Merge(lists...)
	s.probeAll(ctx, guests)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	now := time.Now()
	out := guests[:0]
	for _, g := range guests {
		if g.PID > 0 && g.State == "" {
			continue // gone during the scan
		}
		out = append(out, g)
	}
	guests = out

	s.mu.Lock()
	if s.cpu == nil {
		s.cpu = map[string]cpuSample{}
	}
	live := make(map[string]bool, len(guests))
	for i := range guests {
		g := &guests[i]
		if g.Name == "" {
			g.Name = "pid-" + strconv.Itoa(g.PID)
		}
		if g.PID == 0 {
			continue
		}
		k := g.Key()
		live[k] = true
		prev, ok := s.cpu[k]
		g.CPUPercent, s.cpu[k] = cpuRate(prev, ok, g.CPUTime, g.Started, now)
	}
	for k := range s.cpu {
		if !live[k] {
			delete(s.cpu, k)
		}
	}
	for k := range s.static {
		if !live[k] {
			delete(s.static, k)
		}
	}
	s.mu.Unlock()
	sortGuests(guests)
	return guests, errors.Join(errs...)
}

// probeAll probes, with bounded concurrency, every guest whose state is
// still open, and settles the others.
func (s *Scanner) probeAll(ctx context.Context, guests []Guest) {
	timeout := s.ProbeTimeout
	if timeout <= 0 {
		timeout = DefaultProbeTimeout
	}
	n := s.Concurrency
	if n <= 0 {
		n = DefaultConcurrency
	}
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i := range guests {
		g := &guests[i]
		if g.State != "" || g.PID == 0 || !dialable(g.Monitors) {
			if g.State == "" {
				g.State = StateUnknown
			}
			continue
		}
		s.mu.Lock()
		if s.static == nil {
			s.static = map[string]*staticInfo{}
		}
		si := s.static[g.Key()]
		if si == nil {
			si = &staticInfo{prefer: -1}
			s.static[g.Key()] = si
		}
		cached := *si
		s.mu.Unlock()
		needName := g.Name == "" && cached.name == "" && !cached.asked
		needUUID := g.UUID == "" && cached.uuid == "" && !cached.asked
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			r := s.probe(ctx, *g, needName, needUUID, cached.prefer, timeout)
			s.settle(g, r, cached)
		})
	}
	wg.Wait()
}

func dialable(eps []Endpoint) bool {
	for _, e := range eps {
		if e.Network == "unix" || e.Network == "tcp" {
			return true
		}
	}
	return false
}

// settle applies a probe's result to g, consulting /proc again when the
// monitor did not answer: a process that stopped meanwhile is "stopped",
// one that exited is dropped (State left empty).
func (s *Scanner) settle(g *Guest, r probeResult, cached staticInfo) {
	if r.used < 0 {
		b, err := os.ReadFile(s.procRoot() + "/" + strconv.Itoa(g.PID) + "/stat")
		if err != nil {
			return // exited
		}
		st, err := parseStat(b)
		if err != nil || st.startTicks != g.StartTicks || st.state == 'Z' || st.state == 'X' {
			return // exited, or the pid was reused
		}
		if st.stopped() {
			g.State = StateStopped
			g.Reason = "process is stopped (SIGSTOP or a debugger): its monitor cannot answer until it gets SIGCONT"
			return
		}
	}
	g.State = r.state
	g.Reason = r.reason
	if age := time.Since(g.Started); r.state == StateBusy && !g.Started.IsZero() && age < youngProcess {
		g.Reason = fmt.Sprintf("no greeting yet: QEMU started %v ago and may still be starting, or another client holds its monitor", age.Round(time.Millisecond))
	}
	if r.used >= 0 && r.used < len(g.Monitors) {
		g.Monitor = g.Monitors[r.used].String()
	}
	s.mu.Lock()
	si := s.static[g.Key()]
	if si != nil {
		if r.used >= 0 {
			si.prefer = r.used
			si.asked = true
		}
		if r.name != "" {
			si.name = r.name
		}
		if r.uuid != "" {
			si.uuid = r.uuid
		}
		if r.version != "" {
			si.version = r.version
		}
		cached = *si
	}
	s.mu.Unlock()
	if g.Name == "" {
		g.Name = cached.name
	}
	if g.UUID == "" {
		g.UUID = cached.uuid
	}
	g.Version = cached.version
}

// Watch scans every interval (0 means one second) until ctx ends, and
// yields what changed since the previous scan: the first scan yields
// every guest as Added (an empty slice when there is none), later scans
// yield only when something changed. A scan whose sources failed yields
// (nil, err) and the watch goes on if the loop continues; breaking out
// of the loop stops the watch. Scans never overlap: a slow scan delays
// the next tick.
//
// For a Bubble Tea program, pull it from a goroutine (iter.Pull2, or a
// range loop that sends each batch into the program).
func (s *Scanner) Watch(ctx context.Context, interval time.Duration) iter.Seq2[[]Change, error] {
	if interval <= 0 {
		interval = time.Second
	}
	return func(yield func([]Change, error) bool) {
		var prev []Guest
		first := true
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			gs, err := s.List(ctx)
			if ctx.Err() != nil {
				return
			}
			if err != nil && !yield(nil, err) {
				return
			}
			if gs != nil || err == nil {
				ch := Diff(prev, gs)
				if first || len(ch) > 0 {
					if ch == nil {
						ch = []Change{}
					}
					if !yield(ch, nil) {
						return
					}
				}
				first = false
				prev = gs
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}
}

// Diff compares two listings by Key: guests only in next are Added, those
// only in prev Removed (with their last known values), and those in both
// whose visible fields changed (state, reason, names, monitors, taints,
// version, memory, threads, CPU% by a tenth of a point or more) Updated.
// Added and Updated come in next's order, then Removed in prev's.
func Diff(prev, next []Guest) []Change {
	old := make(map[string]int, len(prev))
	for i, g := range prev {
		old[g.Key()] = i
	}
	var out []Change
	seen := make(map[string]bool, len(next))
	for _, g := range next {
		k := g.Key()
		seen[k] = true
		i, ok := old[k]
		switch {
		case !ok:
			out = append(out, Change{Kind: Added, Guest: g})
		case changed(prev[i], g):
			out = append(out, Change{Kind: Updated, Guest: g})
		}
	}
	for _, g := range prev {
		if !seen[g.Key()] {
			out = append(out, Change{Kind: Removed, Guest: g})
		}
	}
	return out
}

func changed(a, b Guest) bool {
	if a.Name != b.Name || a.UUID != b.UUID || a.State != b.State || a.Reason != b.Reason ||
		a.Owner != b.Owner || a.Monitor != b.Monitor || a.Domain != b.Domain || a.Version != b.Version ||
		a.RSS != b.RSS || a.VCPUs != b.VCPUs || a.Threads != b.Threads ||
		!slices.Equal(a.Monitors, b.Monitors) || !slices.Equal(a.Taints, b.Taints) {
		return true
	}
	// Binary, Cmdline and Started are fixed for a Key.
	// CPU% moves a little every scan; report a change of a tenth of a
	// percent or more.
	d := a.CPUPercent - b.CPUPercent
	return d >= 0.1 || d <= -0.1
}

// String renders a change for logs and tests: "added vm1 (pid 42)".
func (c Change) String() string {
	return fmt.Sprintf("%s %s (pid %d, %s)", c.Kind, c.Guest.Name, c.Guest.PID, c.Guest.State)
}

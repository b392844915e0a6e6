package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/qscope/qscope/qmp"
)

// ErrRunning means a demo is already running: another Start holds the
// state directory, or a guest of the same name left by an earlier demo
// still runs.
var ErrRunning = errors.New("demo: already running")

// ErrNoQEMU means no QEMU binary was found.
var ErrNoQEMU = errors.New("demo: qemu-system-x86_64 not found")

// Config says what Start launches and where. The zero value starts
// [DefaultGuests] with the QEMU found by [FindQEMU], in [DefaultDir].
type Config struct {
	// Dir is the state directory (sockets, logs, pid files, disks). It is
	// created with mode 0700 if needed and must belong to the current
	// user. Empty means DefaultDir().
	Dir string
	// QEMU is the qemu-system-x86_64 binary; empty means FindQEMU().
	QEMU string
	// DataDir, if set, is QEMU's firmware directory (-L), for a QEMU
	// unpacked away from its usual place.
	DataDir string
	// QEMUImg is the qemu-img binary used for qcow2 data disks; empty
	// means the one beside QEMU, or on PATH. When none is found the data
	// disk is a sparse raw file.
	QEMUImg string
	// Guests are the guests to start; nil means DefaultGuests().
	Guests []Spec
	// Grace is how long Stop waits after SIGTERM before SIGKILL; 0 means
	// 3 seconds.
	Grace time.Duration
	// StartTimeout bounds the wait for the monitors to answer when ctx has
	// no earlier deadline; 0 means 30 seconds.
	StartTimeout time.Duration

	// spawned, when set, is called after each QEMU process starts (tests).
	spawned func(Guest)
}

// Guest is one running demo guest.
type Guest struct {
	Spec
	// UUID is the UUID QEMU was given.
	UUID string
	// PID is the QEMU process id.
	PID int
	// Monitors are the guest's QMP monitors, in Spec.Monitors order.
	Monitors []Endpoint
	// Files are the guest's files in the state directory.
	Files Files
	// Args are the arguments QEMU was started with (after the program).
	Args []string
}

// Set is a running set of demo guests. Call Stop when done with it.
type Set struct {
	dir    string
	grace  time.Duration
	lock   *os.File
	guests []*proc

	stopOnce sync.Once
	stopErr  error
}

// proc is one QEMU process and what is needed to end it.
type proc struct {
	Guest
	orig Spec // as given, before ports were picked
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{} // closed when the process has been reaped
	err  error         // Wait's result, readable once done is closed
}

// FindQEMU returns $QSCOPE_QEMU if set, else qemu-system-x86_64 from PATH.
func FindQEMU() (string, error) {
	if p := os.Getenv("QSCOPE_QEMU"); p != "" {
		st, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("%w: $QSCOPE_QEMU=%s: %w", ErrNoQEMU, p, err)
		}
		if st.IsDir() || st.Mode().Perm()&0o111 == 0 {
			return "", fmt.Errorf("%w: $QSCOPE_QEMU=%s is not an executable file", ErrNoQEMU, p)
		}
		return p, nil
	}
	p, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		return "", fmt.Errorf("%w on PATH (or in $QSCOPE_QEMU): install it with `apt-get install qemu-system-x86` (scripts/setup does)", ErrNoQEMU)
	}
	return p, nil
}

// DefaultDir is $XDG_RUNTIME_DIR/qscope-demo when $XDG_RUNTIME_DIR is a
// private directory of this user (0700, not a symlink), else
// qscope-demo-UID under the temporary directory. su keeps the invoking
// user's XDG_RUNTIME_DIR: whoever owns it could swap the demo directory
// for their own between its check and root's writes into it.
func DefaultDir() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) && privateDir(d) {
		return filepath.Join(d, "qscope-demo")
	}
	return filepath.Join(os.TempDir(), "qscope-demo-"+strconv.Itoa(os.Getuid()))
}

// privateDir reports whether d is a directory (not a symlink) of this
// user that nobody else can write to.
func privateDir(d string) bool {
	st, err := os.Lstat(d)
	if err != nil || !st.IsDir() || st.Mode().Perm()&0o077 != 0 {
		return false
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	return ok && int(sys.Uid) == os.Getuid()
}

// Start launches the guests and returns once each of their monitors
// answers a QMP query-status. ctx bounds the start only; the guests run
// until Stop. If the start fails or ctx ends first, every guest already
// started is stopped and its files removed before Start returns.
func Start(ctx context.Context, c Config) (*Set, error) {
	specs := c.Guests
	if specs == nil {
		specs = DefaultGuests()
	}
	if len(specs) == 0 {
		return nil, errors.New("demo: no guests to start")
	}
	seen := map[string]bool{}
	for _, s := range specs {
		if err := s.Validate(); err != nil {
			return nil, err
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("demo: guest name %q used twice", s.Name)
		}
		seen[s.Name] = true
	}
	qemu := c.QEMU
	if qemu == "" {
		var err error
		if qemu, err = FindQEMU(); err != nil {
			return nil, err
		}
	} else if _, err := os.Stat(qemu); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoQEMU, err)
	}
	dir := c.Dir
	if dir == "" {
		dir = DefaultDir()
	}
	if !filepath.IsAbs(dir) {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, fmt.Errorf("demo: state directory: %w", err)
		}
		dir = abs
	}
	if err := prepareDir(dir); err != nil {
		return nil, err
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	set := &Set{dir: dir, grace: c.Grace, lock: lock}
	if set.grace <= 0 {
		set.grace = 3 * time.Second
	}
	fail := func(err error) (*Set, error) {
		set.Stop(context.Background())
		return nil, err
	}

	timeout := c.StartTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	for _, s := range specs {
		if err := checkStale(dir, s); err != nil {
			return fail(err)
		}
	}
	img, format := c.QEMUImg, "qcow2"
	if img == "" {
		img = findQEMUImg(qemu)
	}
	if img == "" {
		format = "raw"
	}

	for _, s := range specs {
		if err := ctx.Err(); err != nil {
			return fail(fmt.Errorf("demo: starting the guests: %w", context.Cause(ctx)))
		}
		p, err := set.spawn(ctx, qemu, c.DataDir, img, format, s)
		if err != nil {
			return fail(err)
		}
		if c.spawned != nil {
			c.spawned(p.Guest)
		}
	}
	for i := range set.guests {
		p := set.guests[i]
		err := p.waitReady(ctx)
		// A free port picked for a tcp monitor can be taken by someone else
		// before QEMU binds it: then try again with another.
		for tries := 0; err != nil && p.addrInUse() && tries < 3; tries++ {
			if p, err = set.respawn(ctx, i, qemu, c.DataDir, img, format); err == nil {
				err = p.waitReady(ctx)
			}
		}
		if err != nil {
			return fail(err)
		}
	}
	return set, nil
}

// prepareDir creates dir (0700) or checks that an existing one is a
// directory of ours that nobody else can enter.
func prepareDir(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("demo: creating the state directory's parent: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("demo: creating the state directory: %w", err)
	}
	st, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("demo: state directory: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("demo: state directory %s is not a directory", dir)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Getuid() {
		return fmt.Errorf("demo: state directory %s belongs to uid %d, not to this user", dir, sys.Uid)
	}
	if st.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("demo: making the state directory private: %w", err)
		}
	}
	return nil
}

// writePrivate writes data to name (0600), never through a symlink.
func writePrivate(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// lockDir takes the state directory's lock, so two demos never share it.
func lockDir(dir string) (*os.File, error) {
	name := filepath.Join(dir, "lock")
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("demo: opening the lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := ""
		if b, rerr := os.ReadFile(name); rerr == nil && len(bytes.TrimSpace(b)) > 0 {
			holder = " (pid " + string(bytes.TrimSpace(b)) + ")"
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: another qscope demo%s runs its guests in %s; quit it first", ErrRunning, holder, dir)
		}
		return nil, fmt.Errorf("demo: locking %s: %w", name, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// checkStale refuses to start s when its pid file names a QEMU that still
// runs as that guest, and otherwise clears the files an earlier demo left.
func checkStale(dir string, s Spec) error {
	f := FilesFor(dir, s, "qcow2")
	if b, err := os.ReadFile(f.PID); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 && isGuest(pid, s.Name) {
			return fmt.Errorf("%w: demo guest %s from an earlier demo still runs (pid %d); stop it with `kill %d`, or use another state directory", ErrRunning, s.Name, pid, pid)
		}
	}
	raw := FilesFor(dir, s, "raw")
	for _, p := range append([]string{f.PID, f.Boot, f.Data, raw.Data}, f.Socket...) {
		if p == "" {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("demo: removing %s left by an earlier demo: %w", p, err)
		}
	}
	return nil
}

// isGuest reports whether process pid runs with -name guest=NAME.
func isGuest(pid int, name string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	for _, arg := range strings.Split(string(b), "\x00") {
		for _, kv := range strings.Split(arg, ",") {
			if kv == "guest="+name {
				return true
			}
		}
	}
	return false
}

// findQEMUImg looks for qemu-img beside the QEMU binary, then on PATH.
func findQEMUImg(qemu string) string {
	beside := filepath.Join(filepath.Dir(qemu), "qemu-img")
	if st, err := os.Stat(beside); err == nil && !st.IsDir() && st.Mode().Perm()&0o111 != 0 {
		return beside
	}
	p, err := exec.LookPath("qemu-img")
	if err != nil {
		return ""
	}
	return p
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("demo: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// spawn writes s's files and starts its QEMU.
func (set *Set) spawn(ctx context.Context, qemu, dataDir, img, format string, s Spec) (*proc, error) {
	orig := s
	s.Monitors = append([]Monitor(nil), s.Monitors...)
	for i := range s.Monitors {
		if s.Monitors[i].Network == "tcp" && s.Monitors[i].Port == 0 {
			port, err := freePort()
			if err != nil {
				return nil, err
			}
			s.Monitors[i].Port = port
		}
	}
	f := FilesFor(set.dir, s, format)
	args, err := Args(s, f, dataDir, format)
	if err != nil {
		return nil, err
	}
	if err := writePrivate(f.Boot, bootSector); err != nil {
		return nil, fmt.Errorf("demo: guest %s: writing the boot disk: %w", s.Name, err)
	}
	if s.DataDiskMiB > 0 {
		if err := makeDisk(ctx, img, f.Data, s.DataDiskMiB); err != nil {
			return nil, fmt.Errorf("demo: guest %s: %w", s.Name, err)
		}
	}
	// QEMU keeps the mode of files that exist: create them private.
	if err := writePrivate(f.Serial, nil); err != nil {
		return nil, fmt.Errorf("demo: guest %s: creating the serial log: %w", s.Name, err)
	}
	log, err := os.OpenFile(f.Log, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("demo: guest %s: creating the QEMU log: %w", s.Name, err)
	}

	// Not exec.CommandContext: the guest outlives Start's ctx.
	cmd := exec.Command(qemu, args...)
	cmd.Env = qemuEnv(dataDir)
	cmd.Dir = set.dir
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("demo: guest %s: starting %s: %w", s.Name, qemu, err)
	}
	uuid := s.UUID
	if uuid == "" {
		uuid = NameUUID(s.Name)
	}
	p := &proc{
		Guest: Guest{Spec: s, UUID: uuid, PID: cmd.Process.Pid, Monitors: endpoints(s, f), Files: f, Args: args},
		orig:  orig,
		cmd:   cmd,
		log:   log,
		done:  make(chan struct{}),
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	set.guests = append(set.guests, p)
	return p, nil
}

// qemuEnv returns the environment for a QEMU given dataDir as -L, or nil
// (this process's own). A QEMU unpacked away from its usual place, with its
// data in ROOT/usr/share/qemu, has its loadable modules in
// ROOT/usr/lib/<triplet>/qemu, but looks for them in the folder it was built
// for first: there it may find another build's modules, refuse them, and
// abort on the next one (qom-list-types loads them all). QEMU_MODULE_DIR,
// which QEMU reads first, points it at its own; one already set is kept.
func qemuEnv(dataDir string) []string {
	if dataDir == "" || os.Getenv("QEMU_MODULE_DIR") != "" {
		return nil
	}
	usr := filepath.Dir(filepath.Dir(filepath.Clean(dataDir)))
	mods, _ := filepath.Glob(filepath.Join(usr, "lib", "*", "qemu", "*.so"))
	if len(mods) == 0 {
		return nil
	}
	return append(os.Environ(), "QEMU_MODULE_DIR="+filepath.Dir(mods[0]))
}

// respawn replaces the i-th guest, whose QEMU exited because a port it
// was given was taken, with a new one on other free ports.
func (set *Set) respawn(ctx context.Context, i int, qemu, dataDir, img, format string) (*proc, error) {
	old := set.guests[i]
	<-old.done
	old.log.Close()
	set.guests = append(set.guests[:i], set.guests[i+1:]...)
	np, err := set.spawn(ctx, qemu, dataDir, img, format, old.orig)
	if err != nil {
		return nil, err
	}
	// spawn appended it: put it back in its place.
	copy(set.guests[i+1:], set.guests[i:len(set.guests)-1])
	set.guests[i] = np
	return np, nil
}

// makeDisk creates a data disk: qcow2 with qemu-img, else a sparse raw file.
func makeDisk(ctx context.Context, img, path string, mib int) error {
	if img == "" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o600)
		if err != nil {
			return fmt.Errorf("creating the data disk: %w", err)
		}
		err = f.Truncate(int64(mib) << 20)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("creating the data disk: %w", err)
		}
		return nil
	}
	out, err := exec.CommandContext(ctx, img, "create", "-q", "-f", "qcow2", path, strconv.Itoa(mib)+"M").CombinedOutput()
	if err != nil {
		return fmt.Errorf("creating the data disk with %s: %w: %s", img, err, bytes.TrimSpace(out))
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("making the data disk private: %w", err)
	}
	return nil
}

// waitReady polls p's monitors until each answers query-status, the
// process exits, or ctx ends.
func (p *proc) waitReady(ctx context.Context) error {
	for _, ep := range p.Monitors {
		if err := p.waitMonitor(ctx, ep); err != nil {
			return err
		}
	}
	return nil
}

func (p *proc) waitMonitor(ctx context.Context, ep Endpoint) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		select {
		case <-p.done:
			return p.exitError()
		default:
		}
		// One try: bounded, and cut short if QEMU exits meanwhile.
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		go func() {
			select {
			case <-p.done:
				cancel()
			case <-actx.Done():
			}
		}()
		c, err := qmp.Dial(actx, ep.Network, ep.Address)
		if err == nil {
			var st struct {
				Status string `json:"status"`
			}
			err = c.Execute(actx, "query-status", nil, &st)
			c.Close()
			cancel()
			if err == nil {
				return nil
			}
		} else {
			cancel()
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("demo: guest %s: waiting for its monitor %s: %w (last try: %v)", p.Name, ep, context.Cause(ctx), last)
		case <-p.done:
			return p.exitError()
		case <-tick.C:
		}
	}
}

// exitError describes an early exit, with the end of QEMU's log.
func (p *proc) exitError() error {
	msg := strings.TrimSpace(p.logTail())
	if msg == "" {
		msg = "(nothing in " + p.Files.Log + ")"
	}
	return fmt.Errorf("demo: guest %s: qemu exited during start (%v): %s", p.Name, p.err, msg)
}

func (p *proc) logTail() string {
	b, err := os.ReadFile(p.Files.Log)
	if err != nil {
		return ""
	}
	if len(b) > 2048 {
		b = b[len(b)-2048:]
	}
	return string(b)
}

// addrInUse reports whether p exited because a tcp port picked for it
// was taken.
func (p *proc) addrInUse() bool {
	select {
	case <-p.done:
	default:
		return false
	}
	for _, m := range p.orig.Monitors {
		if m.Network == "tcp" && m.Port == 0 {
			return strings.Contains(p.logTail(), "Address already in use")
		}
	}
	return false
}

// Dir is the state directory.
func (set *Set) Dir() string { return set.dir }

// Guests describes the running guests, in the order they were given.
func (set *Set) Guests() []Guest {
	out := make([]Guest, 0, len(set.guests))
	for _, p := range set.guests {
		g := p.Guest
		g.Monitors = append([]Endpoint(nil), g.Monitors...)
		g.Spec.Monitors = append([]Monitor(nil), g.Spec.Monitors...)
		g.Files.Socket = append([]string(nil), g.Files.Socket...)
		g.Args = append([]string(nil), g.Args...)
		out = append(out, g)
	}
	return out
}

// Stop ends every guest: SIGTERM, then SIGKILL for any still running
// after the grace period (at once if ctx ends first); it waits for each
// process to exit, removes the sockets, pid files and disks, and releases
// the state directory. The serial and QEMU logs stay. Calling Stop again
// returns the first call's result.
func (set *Set) Stop(ctx context.Context) error {
	set.stopOnce.Do(func() { set.stopErr = set.stop(ctx) })
	return set.stopErr
}

func (set *Set) stop(ctx context.Context) error {
	for _, p := range set.guests {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	grace := time.NewTimer(set.grace)
	defer grace.Stop()
	killed := false
	for _, p := range set.guests {
		select {
		case <-p.done:
			continue
		case <-grace.C:
		case <-ctx.Done():
		}
		if !killed {
			for _, q := range set.guests {
				select {
				case <-q.done:
				default:
					q.cmd.Process.Kill()
				}
			}
			killed = true
		}
		<-p.done
	}

	var errs []error
	for _, p := range set.guests {
		p.log.Close()
		f := p.Files
		for _, path := range append([]string{f.PID, f.Boot, f.Data}, f.Socket...) {
			if path == "" {
				continue
			}
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("demo: removing %s: %w", path, err))
			}
		}
	}
	if set.lock != nil {
		set.lock.Truncate(0)
		set.lock.Close() // releases the flock
	}
	return errors.Join(errs...)
}

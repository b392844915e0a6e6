package qemutest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// MonitorStyle is how a QMP monitor is put on QEMU's command line.
type MonitorStyle int

const (
	// MonitorFD (the default) is a unix socket that the helper creates and
	// listens on itself, handed to QEMU as an inherited descriptor:
	// -chardev socket,id=qmpN,fd=K,server=on,wait=off -mon chardev=qmpN,mode=control.
	// It accepts connections as soon as Start returns; no polling.
	MonitorFD MonitorStyle = iota
	// MonitorQMPUnix is -qmp unix:PATH,server=on,wait=off.
	MonitorQMPUnix
	// MonitorQMPTCP is -qmp tcp:127.0.0.1:PORT,server=on,wait=off on a free port.
	MonitorQMPTCP
	// MonitorQMPPretty is -qmp-pretty unix:PATH,server=on,wait=off: multi-line JSON.
	MonitorQMPPretty
	// MonitorChardev is -chardev socket,path=PATH,server=on,wait=off,id=qmpN
	// -mon chardev=qmpN,mode=control.
	MonitorChardev
	// MonitorNone starts QEMU without any monitor. It must be the only entry.
	MonitorNone
)

func (s MonitorStyle) String() string {
	switch s {
	case MonitorFD:
		return "fd"
	case MonitorQMPUnix:
		return "qmp-unix"
	case MonitorQMPTCP:
		return "qmp-tcp"
	case MonitorQMPPretty:
		return "qmp-pretty"
	case MonitorChardev:
		return "chardev"
	case MonitorNone:
		return "none"
	}
	return "MonitorStyle(" + strconv.Itoa(int(s)) + ")"
}

// Options configures Start. The zero value is a 64 MiB "pc" machine, running,
// with one MonitorFD monitor.
type Options struct {
	// Machine is the -machine type: "pc" (default) or "q35".
	Machine string
	// MemoryMB is -m in MiB (default 64).
	MemoryMB int
	// Name is passed verbatim to -name ("vm1", "guest=vm1,process=qs-vm1");
	// empty: no -name.
	Name string
	// Paused adds -S: the guest CPUs do not start until "cont".
	Paused bool
	// Serial sends the guest serial port to Instance.SerialPath;
	// otherwise there is no serial port (-nodefaults).
	Serial bool
	// Monitors lists the monitors to create, in order. Nil means one
	// MonitorFD; []MonitorStyle{MonitorNone} means no monitor at all.
	Monitors []MonitorStyle
	// Args are appended to the command line as they are.
	Args []string
}

// Monitor is one QMP monitor of an Instance.
type Monitor struct {
	Style MonitorStyle
	// Network and Address are what net.Dial takes: "unix" and a socket path,
	// or "tcp" and "127.0.0.1:PORT".
	Network string
	Address string
	// ChardevID is QEMU's chardev label for this monitor, as query-chardev
	// shows it: "qmpN" for MonitorFD and MonitorChardev, "compat_monitorK"
	// for the -qmp and -qmp-pretty styles.
	ChardevID string
	// Pretty is true when QEMU sends multi-line JSON on this monitor.
	Pretty bool
}

// Dial connects to the monitor.
func (m Monitor) Dial(timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout(m.Network, m.Address, timeout)
}

// Instance is a running QEMU started by Start. It is killed when the test
// (and its subtests) end.
type Instance struct {
	Binary Binary
	// PID of QEMU; QEMU leads its own process group.
	PID int
	// Monitors in the order of Options.Monitors (empty with MonitorNone).
	Monitors []Monitor
	// Cmd is the started command. Do not call Cmd.Wait: use Wait.
	Cmd *exec.Cmd
	// Dir is a private (0700) folder for this instance, holding its sockets,
	// SerialPath and LogPath; removed at cleanup.
	Dir string
	// SerialPath is the guest serial output when Options.Serial is set.
	SerialPath string
	// LogPath receives QEMU's stdout and stderr.
	LogPath string

	t        testing.TB
	waitOnce sync.Once
	waitErr  error
	waited   atomic.Bool
	doneOnce sync.Once
	done     chan struct{}
}

// ReadyTimeout bounds the wait for path and TCP monitors to accept
// connections after QEMU starts.
const ReadyTimeout = 20 * time.Second

// Start runs QEMU from b with opts and returns once every monitor accepts
// connections. The test fails (t.Fatal) if QEMU cannot be started. At cleanup
// QEMU is continued (in case the test stopped it), killed with SIGKILL and
// reaped; if the test failed, QEMU's output is logged.
//
// With only MonitorFD monitors Start returns right after the fork: a client
// may connect at once and gets the greeting when QEMU has set its monitors
// up. The greeting is sent by QEMU's monitor I/O thread and can precede the
// end of QEMU's initialization (e.g. -serial files may not exist yet); the
// reply to the first command comes from the main loop, which runs only once
// initialization is over.
//
// QEMU is started with Pdeathsig=SIGKILL so that it dies with the test binary
// even when cleanups do not run (a -timeout panic). Go ties Pdeathsig to the
// OS thread that forked: do not call Start from a goroutine that has locked
// its thread and exits while QEMU should keep running.
func Start(t testing.TB, b Binary, opts Options) *Instance {
	t.Helper()
	const attempts = 3
	var err error
	for attempt := 1; attempt <= attempts; attempt++ {
		var inst *Instance
		var retry bool
		inst, retry, err = start(t, b, opts)
		if err == nil {
			return inst
		}
		if !retry {
			break
		}
		t.Logf("qemutest: attempt %d: %v; retrying", attempt, err)
	}
	t.Fatalf("qemutest: %v", err)
	return nil
}

func start(t testing.TB, b Binary, opts Options) (inst *Instance, retry bool, err error) {
	t.Helper()
	styles := opts.Monitors
	if styles == nil {
		styles = []MonitorStyle{MonitorFD}
	}
	for _, s := range styles {
		if s < MonitorFD || s > MonitorNone {
			return nil, false, fmt.Errorf("unknown monitor style %d", int(s))
		}
		if s == MonitorNone && len(styles) != 1 {
			return nil, false, errors.New("MonitorNone must be the only monitor style")
		}
	}
	if len(styles) == 1 && styles[0] == MonitorNone {
		styles = nil
	}

	dir, err := shortTempDir()
	if err != nil {
		return nil, false, err
	}
	removeDir := true
	defer func() {
		if removeDir {
			_ = os.RemoveAll(dir)
		}
	}()

	machine := opts.Machine
	if machine == "" {
		machine = "pc"
	}
	mem := opts.MemoryMB
	if mem <= 0 {
		mem = 64
	}
	args := []string{
		"-nodefaults", "-no-user-config",
		"-display", "none",
		"-machine", machine,
		"-m", strconv.Itoa(mem),
		"-accel", "kvm", "-accel", "tcg",
	}
	if b.DataDir != "" {
		args = append(args, "-L", b.DataDir)
	}
	if opts.Name != "" {
		args = append(args, "-name", opts.Name)
	}
	if opts.Paused {
		args = append(args, "-S")
	}
	inst = &Instance{
		Binary:  b,
		Dir:     dir,
		LogPath: filepath.Join(dir, "qemu.log"),
		t:       t,
		done:    make(chan struct{}),
	}
	if opts.Serial {
		inst.SerialPath = filepath.Join(dir, "serial.log")
		args = append(args, "-serial", "file:"+inst.SerialPath)
	}

	var extra []*os.File
	defer func() {
		for _, f := range extra {
			_ = f.Close()
		}
	}()
	compat := 0 // QEMU numbers -qmp/-qmp-pretty chardevs compat_monitor0, 1, ...
	for i, s := range styles {
		m := Monitor{Style: s, Network: "unix", Address: filepath.Join(dir, fmt.Sprintf("qmp%d.sock", i))}
		id := fmt.Sprintf("qmp%d", i)
		switch s {
		case MonitorFD:
			f, err := listenUnixFile(m.Address)
			if err != nil {
				return nil, false, err
			}
			extra = append(extra, f)
			fd := 2 + len(extra) // ExtraFiles[i] becomes fd 3+i
			m.ChardevID = id
			args = append(args,
				"-chardev", fmt.Sprintf("socket,id=%s,fd=%d,server=on,wait=off", id, fd),
				"-mon", "chardev="+id+",mode=control")
		case MonitorQMPUnix:
			m.ChardevID = fmt.Sprintf("compat_monitor%d", compat)
			compat++
			args = append(args, "-qmp", "unix:"+m.Address+",server=on,wait=off")
		case MonitorQMPPretty:
			m.ChardevID = fmt.Sprintf("compat_monitor%d", compat)
			compat++
			m.Pretty = true
			args = append(args, "-qmp-pretty", "unix:"+m.Address+",server=on,wait=off")
		case MonitorQMPTCP:
			port, err := freeTCPPort()
			if err != nil {
				return nil, false, err
			}
			m.Network, m.Address = "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			m.ChardevID = fmt.Sprintf("compat_monitor%d", compat)
			compat++
			args = append(args, "-qmp", "tcp:"+m.Address+",server=on,wait=off")
		case MonitorChardev:
			m.ChardevID = id
			args = append(args,
				"-chardev", "socket,path="+m.Address+",server=on,wait=off,id="+id,
				"-mon", "chardev="+id+",mode=control")
		}
		inst.Monitors = append(inst.Monitors, m)
	}
	args = append(args, opts.Args...)

	logf, err := os.OpenFile(inst.LogPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return nil, false, err
	}
	cmd := exec.Command(b.Path, args...)
	cmd.Env = b.Environ()
	cmd.Dir = dir
	cmd.Stdin = nil
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.ExtraFiles = extra
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid: true,
		// If the test binary dies without running cleanups (a -timeout
		// panic, a crash), take QEMU down with it.
		Pdeathsig: syscall.SIGKILL,
	}
	inst.Cmd = cmd
	err = cmd.Start()
	_ = logf.Close()
	if err != nil {
		return nil, false, fmt.Errorf("starting %s: %w", b.Path, err)
	}
	inst.PID = cmd.Process.Pid
	removeDir = false
	t.Cleanup(inst.cleanup)

	// Path and TCP monitors exist only once QEMU has created them.
	deadline := time.Now().Add(ReadyTimeout)
	for _, m := range inst.Monitors {
		if m.Style == MonitorFD {
			continue
		}
		if err := inst.waitReady(m, deadline); err != nil {
			inst.stop()
			out := inst.Stderr()
			portLost := m.Style == MonitorQMPTCP && strings.Contains(out, "in use")
			return nil, portLost, fmt.Errorf("%s: monitor %s (%s %s) not ready: %v\nQEMU output:\n%s",
				strings.Join(cmd.Args, " "), m.Style, m.Network, m.Address, err, out)
		}
	}
	return inst, false, nil
}

// waitReady polls until m accepts a connection, QEMU exits or deadline passes.
// The probe connection is closed at once; QEMU then listens again.
func (i *Instance) waitReady(m Monitor, deadline time.Time) error {
	for {
		if i.Exited() {
			return fmt.Errorf("QEMU exited: %v", i.Wait())
		}
		c, err := m.Dial(time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %w", ReadyTimeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Monitor returns the first monitor. The test fails if there is none.
func (i *Instance) Monitor() Monitor {
	i.t.Helper()
	if len(i.Monitors) == 0 {
		i.t.Fatal("qemutest: instance has no monitor")
	}
	return i.Monitors[0]
}

// Signal sends sig to the QEMU process (e.g. syscall.SIGSTOP to freeze it).
func (i *Instance) Signal(sig os.Signal) error {
	return i.Cmd.Process.Signal(sig)
}

// Kill sends SIGKILL to QEMU's process group. It does not wait: see Wait.
func (i *Instance) Kill() error {
	if i.waited.Load() {
		return os.ErrProcessDone
	}
	return syscall.Kill(-i.PID, syscall.SIGKILL)
}

// Wait waits for QEMU to exit and returns what exec.Cmd.Wait returned. It may
// be called any number of times, from any goroutine.
func (i *Instance) Wait() error {
	i.waitOnce.Do(func() {
		i.waitErr = i.Cmd.Wait()
		i.waited.Store(true)
	})
	return i.waitErr
}

// Done returns a channel closed when QEMU has exited (and been reaped).
func (i *Instance) Done() <-chan struct{} {
	i.doneOnce.Do(func() {
		go func() {
			_ = i.Wait()
			close(i.done)
		}()
	})
	return i.done
}

// Exited reports whether QEMU has exited, without reaping it.
func (i *Instance) Exited() bool {
	if i.waited.Load() {
		return true
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(i.PID) + "/stat")
	if err != nil {
		return true
	}
	// "pid (comm) S ...": comm may hold spaces and parentheses.
	s := string(data)
	if k := strings.LastIndexByte(s, ')'); k >= 0 && k+2 < len(s) {
		return s[k+2] == 'Z' || s[k+2] == 'X'
	}
	return false
}

// Stderr returns what QEMU has written to stdout and stderr so far.
func (i *Instance) Stderr() string {
	data, err := os.ReadFile(i.LogPath)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return string(data)
}

// stop continues, kills and reaps QEMU.
func (i *Instance) stop() {
	if !i.waited.Load() {
		_ = syscall.Kill(-i.PID, syscall.SIGCONT)
		_ = syscall.Kill(-i.PID, syscall.SIGKILL)
	}
	_ = i.Wait()
}

func (i *Instance) cleanup() {
	i.stop()
	if i.t.Failed() {
		i.t.Logf("qemutest: %s (pid %d) output:\n%s", i.Binary, i.PID, i.Stderr())
	}
	_ = os.RemoveAll(i.Dir)
}

// shortTempDir makes a 0700 folder whose path leaves room for socket names
// within the 108-byte limit of unix socket addresses.
func shortTempDir() (string, error) {
	base := os.TempDir()
	if len(base) > 64 {
		base = "/tmp"
	}
	return os.MkdirTemp(base, "qs")
}

// listenUnixFile creates a listening unix socket at path and returns its
// descriptor as a file for the child; the caller's own listener is closed
// without removing the socket file.
func listenUnixFile(path string) (*os.File, error) {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	ln.SetUnlinkOnClose(false)
	f, err := ln.File()
	_ = ln.Close()
	if err != nil {
		_ = os.Remove(path)
		return nil, err
	}
	return f, nil
}

// freeTCPPort returns a loopback port that was free a moment ago. Start
// retries if QEMU loses the race for it.
func freeTCPPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

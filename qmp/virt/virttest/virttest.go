package virttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
)

// URI is the daemon the tests use.
const URI = "qemu:///system"

// LockPath is the lock file tests share: users of libvirtd hold it shared,
// a test that restarts the daemon holds it exclusively.
const LockPath = "/run/lock/qscope-libvirt-tests.lock"

// Require skips the test (or fails it when QSCOPE_REQUIRE_LIBVIRT=1) when
// libvirtd does not answer on URI, and otherwise takes the shared test
// lock until the test ends.
func Require(t testing.TB) {
	t.Helper()
	require(t)
	Lock(t, false)
}

// Available reports whether libvirtd answers on URI, for a test that does
// more when it does.
func Available() bool {
	l, err := connect()
	if err != nil {
		return false
	}
	l.Disconnect()
	return true
}

// RequireExclusive is Require with the lock held exclusively: for a test
// that stops the daemon.
func RequireExclusive(t testing.TB) {
	t.Helper()
	require(t)
	Lock(t, true)
}

func require(t testing.TB) {
	t.Helper()
	l, err := connect()
	if err != nil {
		if os.Getenv("QSCOPE_REQUIRE_LIBVIRT") == "1" {
			t.Fatalf("libvirtd is required (QSCOPE_REQUIRE_LIBVIRT=1) but %s does not answer: %v", URI, err)
		}
		t.Skipf("libvirtd not reachable on %s (run scripts/setup as root): %v", URI, err)
	}
	l.Disconnect()
}

// Conn returns a plain go-libvirt connection to URI, closed when the test
// ends.
func Conn(t testing.TB) *libvirt.Libvirt {
	t.Helper()
	l, err := connect()
	if err != nil {
		t.Fatalf("connecting to %s: %v", URI, err)
	}
	t.Cleanup(func() { l.Disconnect() })
	return l
}

func connect() (*libvirt.Libvirt, error) {
	u, _ := url.Parse(URI)
	type res struct {
		l   *libvirt.Libvirt
		err error
	}
	ch := make(chan res, 1)
	go func() {
		l, err := libvirt.ConnectToURI(u)
		ch <- res{l, err}
	}()
	select {
	case r := <-ch:
		return r.l, r.err
	case <-time.After(10 * time.Second):
		go func() {
			if r := <-ch; r.l != nil {
				r.l.Disconnect()
			}
		}()
		return nil, errors.New("no answer in 10 s")
	}
}

var seq atomic.Uint64

// Name returns a domain name unique to this test process.
func Name(prefix string) string {
	return fmt.Sprintf("qscope-%s-%d-%d", prefix, os.Getpid(), seq.Add(1))
}

// DomainXML is a tiny guest: 48 MiB, one vCPU, no disks, type kvm when
// /dev/kvm is usable and qemu (TCG) otherwise.
func DomainXML(name string) string {
	typ := "qemu"
	if f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0); err == nil {
		f.Close()
		typ = "kvm"
	}
	return `<domain type='` + typ + `'><name>` + name + `</name>` +
		`<memory unit='MiB'>48</memory><vcpu>1</vcpu>` +
		`<os><type arch='x86_64' machine='pc'>hvm</type></os>` +
		`<on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>` +
		`<devices><memballoon model='none'/></devices></domain>`
}

// StartDomain creates a transient running domain (virsh create) named
// Name(prefix) and destroys it when the test ends.
func StartDomain(t testing.TB, l *libvirt.Libvirt, prefix string) libvirt.Domain {
	t.Helper()
	name := Name(prefix)
	d, err := l.DomainCreateXML(DomainXML(name), 0)
	if err != nil {
		t.Fatalf("creating domain %s: %v", name, err)
	}
	t.Cleanup(func() { Destroy(l, name) })
	return d
}

// DefineDomain defines a persistent domain without starting it, and
// undefines it when the test ends.
func DefineDomain(t testing.TB, l *libvirt.Libvirt, prefix string) libvirt.Domain {
	t.Helper()
	name := Name(prefix)
	d, err := l.DomainDefineXMLFlags(DomainXML(name), 0)
	if err != nil {
		t.Fatalf("defining domain %s: %v", name, err)
	}
	t.Cleanup(func() {
		Destroy(l, name)
		if d, err := l.DomainLookupByName(name); err == nil {
			l.DomainUndefineFlags(d, 0)
		}
	})
	return d
}

// Destroy destroys the named domain if it runs; a fresh connection is
// used when l has been lost (a test restarted the daemon).
func Destroy(l *libvirt.Libvirt, name string) {
	if !l.IsConnected() {
		nl, err := connect()
		if err != nil {
			return
		}
		defer nl.Disconnect()
		l = nl
	}
	if d, err := l.DomainLookupByName(name); err == nil {
		l.DomainDestroy(d)
	}
}

// PID reads the pid libvirt recorded for a running domain.
func PID(name string) (int, error) {
	b, err := os.ReadFile(filepath.Join("/run/libvirt/qemu", name+".pid"))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(trimSpace(b)))
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

// Lock takes the shared test lock (exclusive when excl) until the test
// ends.
func Lock(t testing.TB, excl bool) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(LockPath), 0o755); err != nil {
		t.Fatalf("test lock: %v", err)
	}
	f, err := os.OpenFile(LockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatalf("test lock: %v", err)
	}
	how := syscall.LOCK_SH
	if excl {
		how = syscall.LOCK_EX
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		t.Fatalf("test lock: %v", err)
	}
	t.Cleanup(func() { f.Close() })
}

// RequireRestartable is RequireExclusive for a test that restarts the
// daemon: it also needs the daemon to have been started the way
// scripts/setup starts it (`libvirtd -d`, pid in /run/libvirtd.pid), not by
// a service manager that would restart it on its own.
func RequireRestartable(t testing.TB) {
	t.Helper()
	require(t)
	if _, err := os.Stat("/run/libvirtd.pid"); err != nil {
		if os.Getenv("QSCOPE_REQUIRE_LIBVIRT") == "1" {
			t.Fatalf("libvirtd was not started by scripts/setup (no /run/libvirtd.pid): %v", err)
		}
		t.Skipf("libvirtd was not started by scripts/setup (no /run/libvirtd.pid), so this test will not restart it")
	}
	Lock(t, true)
}

// RestartLibvirtd kills libvirtd (SIGKILL to the pid in /run/libvirtd.pid,
// as a crash would: a SIGTERM'd daemon waits for its calls in flight,
// which a test may hold pending on purpose) and waits for it to exit;
// stopped runs while the daemon is down. It then starts it again as scripts/setup does
// (`libvirtd -d`) and waits until it answers. Running domains survive.
// The caller must hold the exclusive lock (Lock(t, true)).
func RestartLibvirtd(t testing.TB, stopped func()) {
	t.Helper()
	b, err := os.ReadFile("/run/libvirtd.pid")
	if err != nil {
		t.Fatalf("reading libvirtd's pid: %v", err)
	}
	pid, err := strconv.Atoi(string(trimSpace(b)))
	if err != nil || pid <= 0 {
		t.Fatalf("libvirtd's pid file holds %q", b)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("stopping libvirtd (pid %d): %v", pid, err)
	}
	start := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "libvirtd", "-d").CombinedOutput(); err != nil {
			t.Errorf("starting libvirtd: %v: %s", err, out)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Errorf("libvirtd (pid %d) did not exit within 20 s of SIGKILL", pid)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	func() {
		defer start()
		if stopped != nil {
			stopped()
		}
	}()
	deadline = time.Now().Add(30 * time.Second)
	for {
		l, err := connect()
		if err == nil {
			l.Disconnect()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("libvirtd does not answer 30 s after restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// alive reports whether pid is a live process (not a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || (b[i+2] != 'Z' && b[i+2] != 'X')
}

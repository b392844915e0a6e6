package discover_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/qmp/qmptest"
)

// A Scanner over a made-up /proc holding one QEMU process whose monitor
// is a fake QMP server (real QEMU is what the tests use).
func ExampleScanner_List() {
	dir, _ := os.MkdirTemp("", "qscope-example")
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "vm1.sock")

	// The monitor: answers query-status.
	srv := &qmptest.Server{Handle: func(c *qmptest.Conn, r qmptest.Request) {
		if r.Command() == "query-status" {
			c.Reply(r, map[string]any{"status": "running", "running": true})
			return
		}
		c.ReplyError(r, "CommandNotFound", "not here")
	}}
	l, _ := net.Listen("unix", sock)
	go srv.Serve(l)
	defer func() { l.Close(); srv.Close() }()

	// The process, as /proc shows it.
	proc := filepath.Join(dir, "proc")
	write := func(name, s string) {
		os.MkdirAll(filepath.Dir(filepath.Join(proc, name)), 0o755)
		os.WriteFile(filepath.Join(proc, name), []byte(s), 0o644)
	}
	write("stat", "btime 1700000000\n")
	write("4242/stat", "4242 (qemu-system-x86) S 1 4242 4242 0 -1 0 0 0 0 0 10 5 0 0 20 0 4 0 1000 0 4096 0\n")
	argv := []string{"qemu-system-x86_64", "-name", "guest=vm1,debug-threads=on", "-qmp", "unix:" + sock + ",server=on,wait=off"}
	write("4242/cmdline", strings.Join(argv, "\x00")+"\x00")
	write("4242/task/4243/comm", "CPU 0/KVM\n")
	// The process holds the listening socket its command line names:
	// discovery checks this before it dials (another process could name
	// the same path).
	var st syscall.Stat_t
	rc, _ := l.(*net.UnixListener).SyscallConn()
	rc.Control(func(fd uintptr) { syscall.Fstat(int(fd), &st) })
	write("4242/net/unix", "Num RefCount Protocol Flags Type St Inode Path\n"+
		fmt.Sprintf("0000000000000000: 00000002 00000000 00010000 0001 01 %d %s\n", st.Ino, sock))
	os.MkdirAll(filepath.Join(proc, "4242/fd"), 0o755)
	os.Symlink(fmt.Sprintf("socket:[%d]", st.Ino), filepath.Join(proc, "4242/fd/3"))

	s := &discover.Scanner{ProcRoot: proc, Root: dir}
	guests, err := s.List(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, g := range guests {
		fmt.Println(g.Name, g.Owner, g.PID, g.State, g.Version, g.VCPUs, "vCPU")
	}
	// Output:
	// vm1 process 4242 running 7.2.22 1 vCPU
}

// Match picks a guest by name, pid or uuid, and says what exists when
// nothing matches.
func ExampleMatch() {
	guests := []discover.Guest{
		{Name: "web", PID: 100, Owner: discover.OwnerProcess},
		{Name: "db", PID: 200, Owner: discover.OwnerLibvirt, Domain: "db"},
	}
	g, _ := discover.Match(guests, "200")
	fmt.Println(g.Name, g.Owner)
	_, err := discover.Match(guests, "cache")
	fmt.Println(err)
	// Output:
	// db libvirt
	// no guest "cache"; guests: web (pid 100, process), db (pid 200, libvirt)
}

package demo

import "syscall"

// sysProcAttr puts QEMU in its own process group (a Ctrl-C in the terminal
// reaches qscope, which stops the guests in order) and asks the kernel to
// send it SIGTERM if the thread that started it dies, so a qscope killed
// without a chance to clean up leaves no guest behind. Go keeps the
// threads it forks from alive unless a goroutine locked to one exits,
// which this package never does.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

//go:build !linux

package demo

import "syscall"

// sysProcAttr puts QEMU in its own process group.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

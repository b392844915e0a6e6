package schema

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// BinaryID identifies the executable process pid runs: the device,
// inode, size and modification time of /proc/PID/exe. Set as
// Loader.Binary, it makes the cache shared only by processes of the same
// binary: a process that merely claims a QEMU's version (any process can
// serve QMP) cannot plant a schema that real QEMUs of that version would
// then be checked against. ok is false when the executable cannot be
// looked at (another user's process, qscope not root; no pid).
func BinaryID(pid int) (id string, ok bool) {
	if pid <= 0 {
		return "", false
	}
	fi, err := os.Stat("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil {
		return "", false
	}
	st, isStat := fi.Sys().(*syscall.Stat_t)
	if !isStat {
		return "", false
	}
	return fmt.Sprintf("%d:%d:%d:%d", st.Dev, st.Ino, st.Size, fi.ModTime().UnixNano()), true
}

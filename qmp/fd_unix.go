//go:build unix

package qmp

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

type msgWriter interface {
	WriteMsgUnix(b, oob []byte, addr *net.UnixAddr) (n, oobn int, err error)
}

// writeWithFile writes buf with f's descriptor attached to its first
// bytes, then the rest of buf, if the kernel took only part of it.
func writeWithFile(conn net.Conn, buf []byte, f *os.File) (int, error) {
	uc, ok := conn.(msgWriter)
	if !ok {
		return 0, fmt.Errorf("%w: passing a descriptor needs a unix socket, not %T", ErrNotSupported, conn)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var n int
	var werr error
	cerr := rc.Control(func(fd uintptr) {
		n, _, werr = uc.WriteMsgUnix(buf, syscall.UnixRights(int(fd)), nil)
	})
	if cerr != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalid, cerr)
	}
	if werr != nil || n == len(buf) {
		return n, werr
	}
	m, err := conn.Write(buf[n:])
	return n + m, err
}

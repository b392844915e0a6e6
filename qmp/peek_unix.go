//go:build unix

package qmp

import (
	"errors"
	"net"
	"os"
	"syscall"
)

// peeker waits until a socket has data to read without reading it and
// without taking the connection's read lock: it watches a duplicate of
// the descriptor, so a caller can read the connection meanwhile.
type peeker struct {
	conn net.Conn // the duplicate
	raw  syscall.RawConn
	buf  [1]byte
}

// newPeeker duplicates conn's descriptor; nil when conn has none (a
// net.Pipe, for one).
func newPeeker(conn net.Conn) *peeker {
	fc, ok := conn.(interface{ File() (*os.File, error) }) // *net.UnixConn, *net.TCPConn
	if !ok {
		return nil
	}
	f, err := fc.File()
	if err != nil {
		return nil
	}
	dup, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil
	}
	sc, ok := dup.(syscall.Conn)
	if !ok {
		dup.Close()
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		dup.Close()
		return nil
	}
	return &peeker{conn: dup, raw: raw}
}

// wait returns once the socket has data (or has reached end of file);
// an error once the peeker is closed.
func (p *peeker) wait() error {
	return p.raw.Read(func(fd uintptr) bool {
		for {
			_, _, err := syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			switch {
			case err == syscall.EINTR:
				continue
			case errors.Is(err, syscall.EAGAIN):
				return false
			}
			return true // data, end of file, or an error the reader will see
		}
	})
}

func (p *peeker) close() { p.conn.Close() }

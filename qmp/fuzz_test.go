package qmp

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// replayConn is a connection whose peer sent r and closed.
type replayConn struct{ r io.Reader }

func (c *replayConn) Read(b []byte) (int, error)       { return c.r.Read(b) }
func (c *replayConn) Write(b []byte) (int, error)      { return len(b), nil }
func (c *replayConn) Close() error                     { return nil }
func (c *replayConn) LocalAddr() net.Addr              { return &net.UnixAddr{} }
func (c *replayConn) RemoteAddr() net.Addr             { return &net.UnixAddr{} }
func (c *replayConn) SetDeadline(time.Time) error      { return nil }
func (c *replayConn) SetReadDeadline(time.Time) error  { return nil }
func (c *replayConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzDecode feeds arbitrary bytes to the reader as if QEMU had sent
// them. Whatever arrives, the reader must not panic, must end when the
// stream ends, and must retire every pending call exactly once.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"return": {}, "id": 1}` + "\r\n",
		`{"return": {"status": "running", "running": true}, "id": 2}{"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 2}}`,
		"{\n  \"return\": [\n    1,\n    2\n  ],\n  \"id\": 1\n}\n",
		`{"error": {"class": "GenericError", "desc": "JSON parse error"}}`,
		`{"error": {"class": "CommandNotFound", "desc": "x"}, "id": 2}`,
		`{"id": 1}`,
		`{"id": "1", "return": {}}`,
		`{"id": 18446744073709551616, "return": {}}`,
		`{"event": "RESUME", "data": null}`,
		`{"QMP": {"version": {}, "capabilities": []}}`,
		`{"return": }`,
		"\xff\x00{",
		`[1,2,3]`,
		`"just a string"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := newConn(&replayConn{r: bytes.NewReader(data)}, nil)
		sub := c.Subscribe()
		defer sub.Close()
		calls := []chan reply{make(chan reply, 1), make(chan reply, 1)}
		c.pending[1], c.pending[2] = calls[0], calls[1]
		go c.pump()
		<-c.pumpDone
		<-c.done
		if len(c.pending) != 0 {
			t.Fatalf("%d calls still pending after the stream ended", len(c.pending))
		}
		for i, ch := range calls {
			select {
			case r := <-ch:
				if r.err == nil && r.ret == nil {
					t.Fatalf("call %d retired with neither result nor error", i+1)
				}
			default:
				t.Fatalf("call %d never retired", i+1)
			}
		}
		if err := c.Err(); !errors.Is(err, ErrDisconnected) {
			t.Fatalf("finished with %v, want ErrDisconnected", err)
		}
	})
}

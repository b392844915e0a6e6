package virt

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"

	libvirt "github.com/digitalocean/go-libvirt"
)

// go-libvirt decodes QEMU monitor events into a struct whose last field
// (the event's JSON data) is not optional, while on the wire it is an
// optional string: an event without data (STOP, RESUME, POWERDOWN, …)
// fails to decode there and is dropped. So the route reads events itself:
// tapConn sits between go-libvirt and the socket, passes every byte on
// unchanged, and follows the packet framing to pick out the two kinds of
// asynchronous message it needs. go-libvirt still sees the same packets and
// drops them (no stream of its own is registered for them).

// libvirt RPC framing: a 4-byte length (which counts itself) and a 24-byte
// header (program, version, procedure, type, serial, status).
const (
	headerLen = 28
	// maxPacket is libvirt's limit for one packet (32 MiB), with room.
	maxPacket = 64 << 20

	programRemote        = 0x20008086
	programQEMU          = 0x20008087
	procQEMUMonitorEvent = 6
	procLifecycleEvent   = 318 // REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE
	typeMessage          = 2
)

// wireEvent is one QEMU monitor event as libvirt relays it.
type wireEvent struct {
	domain  libvirt.Domain
	name    string
	seconds int64
	micros  uint32
	data    []byte // nil when the event had no data
}

// lifecycle is a libvirt domain lifecycle event.
type lifecycle struct {
	domain libvirt.Domain
	event  int32 // VIR_DOMAIN_EVENT_*: 0 defined, 1 undefined, 2 started, 3 suspended, 4 resumed, 5 stopped, 6 shutdown, 7 pmsuspended, 8 crashed
	detail int32
}

const lifecycleStopped = 5

// tapConn follows the packets read from libvirtd.
type tapConn struct {
	net.Conn
	onEvent     func(wireEvent)
	onLifecycle func(lifecycle)

	mu      sync.Mutex // Read is called by go-libvirt's one reader; this only guards against misuse
	hdr     [headerLen]byte
	hn      int    // header bytes held
	remain  int    // payload bytes still to come for the current packet
	keep    bool   // whether the current payload is kept
	payload []byte // the kept payload so far
	broken  bool   // framing lost: stop following (go-libvirt fails on its own)

	// lost is closed when the connection fails or is closed.
	lost     chan struct{}
	lostOnce sync.Once
	errMu    sync.Mutex
	err      error
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		c.follow(p[:n])
		c.mu.Unlock()
	}
	if err != nil {
		c.markLost(err)
	}
	return n, err
}

func (c *tapConn) Close() error {
	c.markLost(net.ErrClosed)
	return c.Conn.Close()
}

func (c *tapConn) markLost(err error) {
	c.lostOnce.Do(func() {
		c.errMu.Lock()
		c.err = err
		c.errMu.Unlock()
		close(c.lost)
	})
}

// readErr is why the connection was lost (io.EOF when libvirtd went away).
func (c *tapConn) readErr() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	if c.err == nil {
		return errors.New("connection closed")
	}
	return c.err
}

func (c *tapConn) follow(b []byte) {
	for len(b) > 0 && !c.broken {
		if c.hn < headerLen {
			k := copy(c.hdr[c.hn:], b)
			c.hn += k
			b = b[k:]
			if c.hn < headerLen {
				return
			}
			size := int(binary.BigEndian.Uint32(c.hdr[0:4]))
			if size < headerLen || size > maxPacket {
				c.broken = true
				return
			}
			program := binary.BigEndian.Uint32(c.hdr[4:8])
			proc := binary.BigEndian.Uint32(c.hdr[12:16])
			typ := binary.BigEndian.Uint32(c.hdr[16:20])
			c.remain = size - headerLen
			c.keep = typ == typeMessage &&
				((program == programQEMU && proc == procQEMUMonitorEvent) ||
					(program == programRemote && proc == procLifecycleEvent))
			c.payload = c.payload[:0]
		}
		k := min(c.remain, len(b))
		if c.keep {
			c.payload = append(c.payload, b[:k]...)
		}
		c.remain -= k
		b = b[k:]
		if c.remain == 0 {
			if c.keep {
				c.deliver()
			}
			c.hn = 0
		}
	}
}

func (c *tapConn) deliver() {
	program := binary.BigEndian.Uint32(c.hdr[4:8])
	d := xdrReader{b: c.payload}
	d.int32() // callback id: one registration per connection, so unused
	dom := d.domain()
	if program == programQEMU {
		ev := wireEvent{domain: dom}
		ev.name = d.string()
		ev.seconds = d.int64()
		ev.micros = d.uint32()
		if d.uint32() != 0 { // optional string present
			ev.data = []byte(d.string())
		}
		if d.err == nil && c.onEvent != nil {
			c.onEvent(ev)
		}
		return
	}
	lc := lifecycle{domain: dom}
	lc.event = d.int32()
	lc.detail = d.int32()
	if d.err == nil && c.onLifecycle != nil {
		c.onLifecycle(lc)
	}
}

var errShort = errors.New("short xdr payload")

// xdrReader reads the few XDR shapes the events use.
type xdrReader struct {
	b   []byte
	err error
}

func (r *xdrReader) take(n int) []byte {
	if r.err != nil || n < 0 || len(r.b) < n {
		r.err = errShort
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *xdrReader) uint32() uint32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func (r *xdrReader) int32() int32 { return int32(r.uint32()) }

func (r *xdrReader) int64() int64 {
	b := r.take(8)
	if b == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

func (r *xdrReader) string() string {
	n := int(r.uint32())
	if r.err != nil || n > len(r.b) {
		r.err = errShort
		return ""
	}
	s := string(r.take(n))
	r.take((4 - n%4) % 4)
	return s
}

func (r *xdrReader) domain() libvirt.Domain {
	var d libvirt.Domain
	d.Name = r.string()
	copy(d.UUID[:], r.take(16))
	d.ID = r.int32()
	return d
}

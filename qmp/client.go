package qmp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Monitor is what code above the engine needs from a QMP connection. The
// direct *Client satisfies it, and so do other transports (libvirt's
// passthrough, for one).
type Monitor interface {
	// Execute runs command with args (nil, or anything that marshals to a
	// JSON object) and unmarshals the reply's return value into result
	// (nil to discard it; *json.RawMessage to keep it raw).
	Execute(ctx context.Context, command string, args, result any) error
	// Subscribe returns a queue of the named events (every event when no
	// name is given).
	Subscribe(names ...string) *Subscription
	// Done is closed when the connection is gone; Err then says why.
	Done() <-chan struct{}
	Err() error
	Close() error
}

var _ Monitor = (*Client)(nil)

// Option configures a Client.
type Option func(*options)

type options struct {
	noOOB      bool
	transcript io.Writer
	logger     *slog.Logger
	queueSize  int
}

// WithoutOOB keeps out-of-band execution off even when QEMU offers it.
func WithoutOOB() Option { return func(o *options) { o.noOOB = true } }

// WithTranscript writes every message sent and received to w, one line
// each, prefixed "-> " (sent) or "<- " (received). w must be safe for use by
// two goroutines if it is shared; the client serialises its own writes.
func WithTranscript(w io.Writer) Option { return func(o *options) { o.transcript = w } }

// WithLogger logs every message sent and received at debug level.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithQueueSize sets the capacity of each event subscription's queue.
func WithQueueSize(n int) Option { return func(o *options) { o.queueSize = n } }

// Client is a connection to one QEMU monitor. All methods are safe for
// concurrent use.
type Client struct {
	conn     net.Conn
	fr       *framer // used only by the holder of rtoken
	peek     *peeker // nil when conn has no descriptor (net.Pipe)
	opts     options
	greeting Greeting
	oob      bool
	events   Dispatcher

	wtoken chan struct{} // one slot: whoever holds it may write
	rtoken chan struct{} // one slot: whoever holds it may read

	// write-deadline bookkeeping for context cancellation during a write
	dlMu      sync.Mutex
	wgen      uint64 // changed only by the write-token holder
	writing   uint64
	dlExpired bool

	mu          sync.Mutex
	pending     map[uint64]chan reply // nil for an abandoned call whose reply is still to come
	abandoned   int                   // nil entries in pending
	freeIDs     []uint64              // ids whose reply has come, to use again
	lastID      uint64
	waiters     int    // calls waiting for a reply
	calls       uint64 // calls started
	pumpReading bool   // the idle reader is inside a read
	err         error
	closing     bool

	tmu      sync.Mutex // transcript writes
	done     chan struct{}
	pumpDone chan struct{}
	orphaned atomic.Uint64
}

type reply struct {
	ret json.RawMessage
	err error
}

// Dial connects to the monitor at address ("unix" path or "tcp"
// host:port), reads the greeting and negotiates. ctx bounds all of it: a
// monitor that never greets gives ErrBusy when ctx ends.
func Dial(ctx context.Context, network, address string, opts ...Option) (*Client, error) {
	switch network {
	case "unix", "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("qmp: %w: network %q (want unix or tcp)", ErrInvalid, network)
	}
	conn, err := dialConn(ctx, network, address)
	if err != nil {
		return nil, fmt.Errorf("qmp: connecting to %s: %w", address, err)
	}
	c, err := newClient(ctx, conn, opts)
	if err != nil {
		return nil, fmt.Errorf("qmp: %s: %w", address, err)
	}
	return c, nil
}

// dialConn connects. A unix socket whose listen backlog is full refuses
// with EAGAIN: QEMU is busy with another client and has not yet taken the
// ones queued behind it. That is retried until ctx ends, then reported as
// ErrBusy.
func dialConn(ctx context.Context, network, address string) (net.Conn, error) {
	var d net.Dialer
	backoff := time.Millisecond
	for {
		conn, err := d.DialContext(ctx, network, address)
		if err == nil || !errors.Is(err, syscall.EAGAIN) {
			return conn, err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w: listen backlog full (%w)", ErrBusy, ctx.Err())
		case <-t.C:
		}
		backoff = min(2*backoff, 50*time.Millisecond)
	}
}

// NewClient runs the QMP handshake on an established connection (one end
// of a socketpair, an inherited descriptor) and returns a client that owns
// it. On error the connection is closed.
func NewClient(ctx context.Context, conn net.Conn, opts ...Option) (*Client, error) {
	c, err := newClient(ctx, conn, opts)
	if err != nil {
		return nil, fmt.Errorf("qmp: %w", err)
	}
	return c, nil
}

// newConn builds a client around conn without reading anything.
func newConn(conn net.Conn, opts []Option) *Client {
	c := &Client{
		conn:     conn,
		fr:       newFramer(conn),
		wtoken:   make(chan struct{}, 1),
		rtoken:   make(chan struct{}, 1),
		pending:  make(map[uint64]chan reply),
		done:     make(chan struct{}),
		pumpDone: make(chan struct{}),
	}
	for _, o := range opts {
		o(&c.opts)
	}
	c.events.QueueSize = c.opts.queueSize
	return c
}

func newClient(ctx context.Context, conn net.Conn, opts []Option) (*Client, error) {
	c := newConn(conn, opts)
	g, err := c.readGreeting(ctx)
	if err != nil {
		conn.Close()
		return nil, err
	}
	c.greeting = g
	c.peek = newPeeker(conn)
	go c.pump()

	var caps struct {
		Enable []string `json:"enable,omitempty"`
	}
	if g.Has("oob") && !c.opts.noOOB {
		caps.Enable = []string{"oob"}
	}
	if err := c.Execute(ctx, "qmp_capabilities", caps, nil); err != nil {
		c.Close()
		return nil, fmt.Errorf("negotiating capabilities: %w", err)
	}
	c.oob = len(caps.Enable) > 0
	return c, nil
}

var aLongTimeAgo = time.Unix(1, 0)

func (c *Client) readGreeting(ctx context.Context) (Greeting, error) {
	if dl, ok := ctx.Deadline(); ok {
		c.conn.SetReadDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { c.conn.SetReadDeadline(aLongTimeAgo) })
	msg, err := c.fr.next()
	expired := !stop()
	c.conn.SetReadDeadline(time.Time{})
	if err != nil {
		if expired || ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded) {
			// The read deadline (ctx's deadline) may fire a hair before
			// ctx itself reports it.
			cause := ctx.Err()
			if cause == nil {
				cause = context.DeadlineExceeded
			}
			return Greeting{}, fmt.Errorf("%w (%w)", ErrBusy, cause)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return Greeting{}, fmt.Errorf("%w: closed before greeting: %w", ErrDisconnected, err)
		}
		if errors.Is(err, ErrProtocol) {
			return Greeting{}, err
		}
		return Greeting{}, fmt.Errorf("%w: reading greeting: %w", ErrDisconnected, err)
	}
	c.record("<- ", msg)
	var m wireMessage
	if err := json.Unmarshal(msg, &m); err != nil {
		return Greeting{}, fmt.Errorf("%w: greeting: %v", ErrProtocol, err)
	}
	if m.QMP == nil {
		return Greeting{}, fmt.Errorf("%w: first message is not a QMP greeting", ErrProtocol)
	}
	return *m.QMP, nil
}

func (c *Client) record(dir string, msg []byte) {
	for len(msg) > 0 && (msg[len(msg)-1] == '\n' || msg[len(msg)-1] == '\r') {
		msg = msg[:len(msg)-1]
	}
	if c.opts.logger != nil {
		c.opts.logger.Debug("qmp", "dir", dir[:2], "msg", string(msg))
	}
	if c.opts.transcript != nil {
		c.tmu.Lock()
		line := make([]byte, 0, len(dir)+len(msg)+1)
		line = append(append(append(line, dir...), msg...), '\n')
		c.opts.transcript.Write(line)
		c.tmu.Unlock()
	}
}

// Reading. One goroutine at a time reads the connection: whoever holds
// rtoken. A caller waiting for its reply takes the token and reads
// itself, so a lone caller gets its reply straight from the socket with
// no hand-off between goroutines; it passes on whatever else it reads
// (other callers' replies, events). When no call is waiting, the pump
// goroutine holds the token and reads events. A new call interrupts the
// pump with a read deadline in the past; the framer resumes where the
// interrupted read stopped, so nothing is lost.

// pump reads while no call is waiting.
func (c *Client) pump() {
	defer close(c.pumpDone)
	var seen uint64 // calls started, as of the last look
	ready := false  // the peeker saw data that no call can have read since
	for {
		gen, ok := c.waitIdle(seen)
		if !ok {
			return
		}
		if gen != seen {
			seen, ready = gen, false // calls ran: they may have read it
		}
		select {
		case c.rtoken <- struct{}{}:
		case <-c.done:
			return
		}
		c.mu.Lock()
		if c.waiters > 0 || c.calls != seen {
			c.mu.Unlock()
			<-c.rtoken
			continue
		}
		if c.peek != nil && !ready && !c.fr.buffered() {
			// Wait for data without holding the read token, so that a
			// call arriving meanwhile reads at once.
			c.mu.Unlock()
			<-c.rtoken
			if err := c.peek.wait(); err != nil {
				c.finish(err)
				return
			}
			ready = true
			continue
		}
		ready = false
		c.conn.SetReadDeadline(time.Time{})
		c.pumpReading = true
		c.mu.Unlock()
		msg, err := c.fr.next()
		c.mu.Lock()
		c.pumpReading = false
		c.mu.Unlock()
		if err == nil {
			err = c.dispatch(msg)
		} else if errors.Is(err, os.ErrDeadlineExceeded) {
			err = nil // a call wants to read
		}
		if err != nil {
			c.finish(err)
			<-c.rtoken
			return
		}
		<-c.rtoken
	}
}

// pumpQuiet is how long the pump lets the connection rest after calls
// before it watches it again: calls in a row then never wake it (each
// wake-up costs a thread switch), and an event that comes right after
// calls, while none is reading, waits at most this long.
const pumpQuiet = 5 * time.Millisecond

// waitIdle waits until no call is waiting and none has started for
// pumpQuiet since seen calls had started. It returns the number of calls
// started; ok is false once the client is finished.
func (c *Client) waitIdle(seen uint64) (gen uint64, ok bool) {
	var quiet *time.Timer
	defer func() {
		if quiet != nil {
			quiet.Stop()
		}
	}()
	for {
		c.mu.Lock()
		w, g := c.waiters, c.calls
		c.mu.Unlock()
		if w == 0 && g == seen {
			select {
			case <-c.done:
				return g, false
			default:
				return g, true
			}
		}
		seen = g
		if quiet == nil {
			quiet = time.NewTimer(pumpQuiet)
		} else {
			quiet.Reset(pumpQuiet)
		}
		select {
		case <-quiet.C:
		case <-c.done:
			return g, false
		}
	}
}

// readFor reads, holding rtoken, until the reply on ch has arrived (true)
// or ctx ends (false).
func (c *Client) readFor(ctx context.Context, ch chan reply) (reply, bool) {
	c.conn.SetReadDeadline(time.Time{}) // clear an interrupt meant for the pump
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { c.conn.SetReadDeadline(aLongTimeAgo) })
		defer stop()
	}
	for {
		select {
		case r := <-ch:
			// Hand on what has been read already, so that other callers
			// need not wait for the next reader to take over.
			for {
				msg, err := c.fr.nextBuffered()
				if err == nil && msg != nil {
					err = c.dispatch(msg)
				}
				if err != nil {
					c.finish(err)
				}
				if msg == nil || err != nil {
					break
				}
			}
			return r, true
		default:
		}
		msg, err := c.fr.next()
		if err == nil {
			err = c.dispatch(msg)
		} else if errors.Is(err, os.ErrDeadlineExceeded) {
			if ctx.Err() != nil {
				return reply{}, false
			}
			// A stale interrupt: an earlier caller's cancellation.
			c.conn.SetReadDeadline(time.Time{})
			if ctx.Err() != nil {
				return reply{}, false
			}
			continue
		}
		if err != nil {
			c.finish(err) // retires our call too: the next turn returns it
		}
	}
}

// dispatch routes one message: an event to the subscribers, a reply to
// its caller. Only the holder of rtoken calls it.
func (c *Client) dispatch(msg []byte) error {
	c.record("<- ", msg)
	var m wireMessage
	if err := json.Unmarshal(msg, &m); err != nil {
		return fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	switch {
	case m.Event != "":
		c.events.Publish(Event{Name: m.Event, Data: m.Data, Timestamp: m.Timestamp})
	case m.ID != nil:
		id, err := strconv.ParseUint(string(m.ID), 10, 64)
		if err != nil {
			c.orphaned.Add(1) // not an id of ours
			return nil
		}
		c.mu.Lock()
		ch, ok := c.pending[id]
		if ok {
			c.release(id, ch == nil)
		}
		c.mu.Unlock()
		if !ok {
			c.orphaned.Add(1) // no request of ours has this id
			return nil
		}
		if ch == nil {
			return nil // its caller gave up; drop the late reply
		}
		switch {
		case m.Error != nil:
			ch <- reply{err: m.Error}
		case m.Return == nil:
			ch <- reply{err: fmt.Errorf("%w: reply with neither return nor error", ErrProtocol)}
		default:
			ch <- reply{ret: m.Return}
		}
	default:
		// A reply without id answers a request QEMU could not parse;
		// we never send one, so there is no caller to give it to.
		c.orphaned.Add(1)
	}
	return nil
}

// finish retires every pending call with the cause and ends
// subscriptions. The first call decides the cause; later ones do nothing.
func (c *Client) finish(readErr error) {
	c.mu.Lock()
	select {
	case <-c.done:
		c.mu.Unlock()
		return
	default:
	}
	var cause error
	switch {
	case c.err != nil:
		cause = c.err
	case c.closing:
		cause = ErrClosed
	case errors.Is(readErr, ErrProtocol):
		cause = fmt.Errorf("%w: %w", ErrDisconnected, readErr)
	case errors.Is(readErr, io.EOF) || errors.Is(readErr, io.ErrUnexpectedEOF) || isNetErr(readErr):
		cause = fmt.Errorf("%w: %w", ErrDisconnected, readErr)
	default:
		cause = fmt.Errorf("%w: %w: %v", ErrDisconnected, ErrProtocol, readErr)
	}
	c.err = cause
	for id, ch := range c.pending {
		if ch != nil {
			ch <- reply{err: cause}
		}
		delete(c.pending, id)
	}
	c.abandoned = 0
	close(c.done)
	c.mu.Unlock()
	c.conn.Close()
	if c.peek != nil {
		c.peek.close()
	}
	c.events.Close(cause)
}

func isNetErr(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &ne) || errors.As(err, &oe) || errors.Is(err, net.ErrClosed)
}

// fail closes the connection because its byte stream can no longer be
// trusted (a write was interrupted half-way).
func (c *Client) fail(cause error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = cause
	}
	c.mu.Unlock()
	c.conn.Close()
}

// Greeting is what QEMU sent on connect.
func (c *Client) Greeting() Greeting { return c.greeting }

// Version is the QEMU version from the greeting.
func (c *Client) Version() Version { return c.greeting.Version }

// OOB reports whether out-of-band execution was negotiated.
func (c *Client) OOB() bool { return c.oob }

// Done is closed once the connection is gone.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err says why the client is finished, or nil while it is live.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Pending is how many calls are waiting for their reply.
func (c *Client) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending) - c.abandoned
}

// Orphaned counts replies that matched no request (replies to requests
// QEMU could not parse carry no id). Late replies to abandoned calls are
// not counted.
func (c *Client) Orphaned() uint64 { return c.orphaned.Load() }

// Close closes the connection. Pending calls fail with ErrClosed. It is
// safe to call more than once.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.err == nil {
		c.closing = true
	}
	c.mu.Unlock()
	c.conn.Close()
	c.finish(ErrClosed)
	<-c.pumpDone
	return nil
}

// Subscribe returns a queue of the named events, or of all events when no
// name is given. See Subscription for the overflow policy.
func (c *Client) Subscribe(names ...string) *Subscription { return c.events.Subscribe(names...) }

// Execute runs command and unmarshals its return value into result (nil
// discards it). QEMU's error replies come back as *Error.
func (c *Client) Execute(ctx context.Context, command string, args, result any) error {
	ret, err := c.roundTrip(ctx, "execute", command, args, nil)
	if err != nil {
		return err
	}
	return unmarshalResult(command, ret, result)
}

// ExecuteRaw runs command and returns its return value as it came.
func (c *Client) ExecuteRaw(ctx context.Context, command string, args any) (json.RawMessage, error) {
	return c.roundTrip(ctx, "execute", command, args, nil)
}

// ExecuteOOB runs an allow-oob command out of band (exec-oob): QEMU runs it
// at once, ahead of queued commands. It needs the oob capability.
func (c *Client) ExecuteOOB(ctx context.Context, command string, args, result any) error {
	if !c.oob {
		return fmt.Errorf("qmp: %w: %s: out-of-band execution was not negotiated", ErrNotSupported, command)
	}
	ret, err := c.roundTrip(ctx, "exec-oob", command, args, nil)
	if err != nil {
		return err
	}
	return unmarshalResult(command, ret, result)
}

// ExecuteWithFile runs a command that consumes a file descriptor — getfd
// or add-fd — passing f with it (SCM_RIGHTS). The descriptor travels with
// this command's bytes only, so it cannot be taken by another command.
// Only unix-socket connections can pass descriptors.
func (c *Client) ExecuteWithFile(ctx context.Context, command string, args any, f *os.File, result any) error {
	switch command {
	case "getfd", "add-fd":
	default:
		return fmt.Errorf("qmp: %w: %s does not take a file descriptor (only getfd and add-fd do)", ErrInvalid, command)
	}
	if f == nil {
		return fmt.Errorf("qmp: %w: %s: no file given", ErrInvalid, command)
	}
	ret, err := c.roundTrip(ctx, "execute", command, args, f)
	if err != nil {
		return err
	}
	return unmarshalResult(command, ret, result)
}

// ExecuteAndWait subscribes to event, runs command, and waits until an
// event named event for which match returns true (nil matches any)
// arrives: device_del then DEVICE_DELETED for that device, for example.
// Subscribing first matters: QEMU may raise the event before it replies.
func (c *Client) ExecuteAndWait(ctx context.Context, command string, args, result any, event string, match func(Event) bool) (Event, error) {
	return ExecuteAndWait(ctx, c, command, args, result, event, match)
}

// ExecuteAndWait does what (*Client).ExecuteAndWait does, on any Monitor.
func ExecuteAndWait(ctx context.Context, m Monitor, command string, args, result any, event string, match func(Event) bool) (Event, error) {
	sub := m.Subscribe(event)
	defer sub.Close()
	if err := m.Execute(ctx, command, args, result); err != nil {
		return Event{}, err
	}
	for {
		ev, err := sub.Next(ctx)
		if err != nil {
			return Event{}, fmt.Errorf("qmp: %s: waiting for %s: %w", command, event, err)
		}
		if match == nil || match(ev) {
			return ev, nil
		}
	}
}

// DataEquals returns a matcher for ExecuteAndWait: the event's data has
// key with the string value want (e.g. "device", "net0").
func DataEquals(key, want string) func(Event) bool {
	return func(ev Event) bool {
		var m map[string]json.RawMessage
		if json.Unmarshal(ev.Data, &m) != nil {
			return false
		}
		var got string
		return json.Unmarshal(m[key], &got) == nil && got == want
	}
}

func unmarshalResult(command string, ret json.RawMessage, result any) error {
	if result == nil {
		return nil
	}
	if err := json.Unmarshal(ret, result); err != nil {
		return fmt.Errorf("qmp: %s: decoding reply: %w", command, err)
	}
	return nil
}

func (c *Client) roundTrip(ctx context.Context, kind, command string, args any, f *os.File) (json.RawMessage, error) {
	if err := validCommand(command); err != nil {
		return nil, fmt.Errorf("qmp: %w", err)
	}
	a, err := marshalArgs(command, args)
	if err != nil {
		return nil, fmt.Errorf("qmp: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("qmp: %s: %w", command, err)
	}
	ch := make(chan reply, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, fmt.Errorf("qmp: %s: %w", command, err)
	}
	id := c.newID()
	c.pending[id] = ch
	c.waiters++
	c.calls++
	if c.pumpReading {
		c.conn.SetReadDeadline(aLongTimeAgo) // make the pump hand over the reading
	}
	c.mu.Unlock()
	defer c.stopWaiting()

	buf := appendRequest(make([]byte, 0, 64+len(command)+len(a)), kind, command, a, id)
	if err := c.write(ctx, buf, f); err != nil {
		// Nothing was sent (a write that stopped half-way ends the
		// connection), so no reply will come: the id is free again.
		c.mu.Lock()
		if _, ok := c.pending[id]; ok {
			c.release(id, false)
		}
		c.mu.Unlock()
		return nil, fmt.Errorf("qmp: %s: %w", command, err)
	}
	for {
		select {
		case r := <-ch:
			return result(command, r)
		case c.rtoken <- struct{}{}:
			r, ok := c.readFor(ctx, ch)
			<-c.rtoken
			if ok {
				return result(command, r)
			}
			c.forget(id)
			return nil, fmt.Errorf("qmp: %s: %w", command, ctx.Err())
		case <-ctx.Done():
			c.forget(id)
			return nil, fmt.Errorf("qmp: %s: %w", command, ctx.Err())
		}
	}
}

func result(command string, r reply) (json.RawMessage, error) {
	if r.err != nil {
		if qe, ok := r.err.(*Error); ok {
			e := *qe
			e.Command = command
			return nil, &e
		}
		return nil, fmt.Errorf("qmp: %s: %w", command, r.err)
	}
	return r.ret, nil
}

func (c *Client) stopWaiting() {
	c.mu.Lock()
	c.waiters--
	c.mu.Unlock()
}

// forget abandons a call whose request was sent: its reply, if it comes,
// is dropped, and only then is its id used again.
func (c *Client) forget(id uint64) {
	c.mu.Lock()
	if ch, ok := c.pending[id]; ok && ch != nil {
		c.pending[id] = nil
		c.abandoned++
	}
	c.mu.Unlock()
}

// newID returns the id for a new request: the most recently freed one, or
// a new one. Ids are reused once their reply has been read, never while
// one may still come, so every reply still matches one request; with few
// calls in flight ids stay short, and QEMU reads requests a byte per
// system call (see docs/qmp.md), so every byte saved counts. Called with
// c.mu held.
func (c *Client) newID() uint64 {
	if n := len(c.freeIDs); n > 0 {
		id := c.freeIDs[n-1]
		c.freeIDs = c.freeIDs[:n-1]
		return id
	}
	c.lastID++
	return c.lastID
}

// release ends id's entry in pending and frees the id. Called with c.mu
// held.
func (c *Client) release(id uint64, wasAbandoned bool) {
	delete(c.pending, id)
	if wasAbandoned {
		c.abandoned--
	}
	c.freeIDs = append(c.freeIDs, id)
}

// write sends one request. ctx bounds the wait for the write token and
// the write itself; a write interrupted half-way closes the connection.
func (c *Client) write(ctx context.Context, buf []byte, f *os.File) error {
	select {
	case c.wtoken <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return c.Err()
	}
	defer func() { <-c.wtoken }()

	var stop func() bool
	var gen uint64
	if ctx.Done() != nil {
		c.dlMu.Lock()
		c.wgen++
		gen = c.wgen
		c.writing = gen
		c.dlMu.Unlock()
		stop = context.AfterFunc(ctx, func() {
			c.dlMu.Lock()
			if c.writing == gen {
				c.conn.SetWriteDeadline(aLongTimeAgo)
				c.dlExpired = true
			}
			c.dlMu.Unlock()
		})
	}
	var n int
	var err error
	if f != nil {
		n, err = writeWithFile(c.conn, buf, f)
	} else {
		n, err = c.conn.Write(buf)
	}
	if stop != nil {
		stop()
		c.dlMu.Lock()
		c.writing = 0
		if c.dlExpired {
			c.conn.SetWriteDeadline(time.Time{})
			c.dlExpired = false
		}
		c.dlMu.Unlock()
	}
	if err != nil {
		if n > 0 {
			// QEMU has half a request: the stream is unusable.
			c.fail(fmt.Errorf("%w: write interrupted after %d of %d bytes: %w", ErrDisconnected, n, len(buf), err))
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if cerr := c.Err(); cerr != nil {
			return cerr
		}
		return fmt.Errorf("%w: %w", ErrDisconnected, err)
	}
	if c.opts.transcript != nil || c.opts.logger != nil {
		c.record("-> ", buf)
	}
	return nil
}

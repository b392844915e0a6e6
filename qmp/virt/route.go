package virt

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"

	"github.com/qscope/qscope/policy"
	"github.com/qscope/qscope/qmp"
)

// Config says how a Route reaches libvirtd. The zero value connects to
// qemu:///system.
type Config struct {
	// URI is the libvirt connection URI; empty means qemu:///system.
	// See ParseURI for the forms accepted.
	URI string
	// Dial, when set, opens the byte stream to libvirtd instead of the
	// transport the URI names (tests, or an already-open channel). The URI
	// still says what libvirtd is asked to open.
	Dial func(ctx context.Context) (net.Conn, error)
	// MinBackoff and MaxBackoff bound the wait between redials once
	// libvirtd went away; zero means 50 ms and 2 s.
	MinBackoff, MaxBackoff time.Duration
	// Tracked decides which commands a Monitor refuses unless forced;
	// nil means policy.LibvirtTracked.
	Tracked func(command string) (hint string, tracked bool)
}

// Route is one connection to libvirtd, shared by the Monitors of any
// number of its domains. It dials in the background, reports a lost
// daemon at once (every Monitor on it ends with qmp.ErrDisconnected, calls
// made meanwhile fail with ErrUnreachable) and redials with backoff until
// the daemon is back or the Route is closed. Domain lookups are cached per
// connection and dropped on libvirt's lifecycle events. All methods are
// safe for concurrent use.
type Route struct {
	target  Target
	cfg     Config
	dial    func(ctx context.Context) (net.Conn, error)
	tracked func(string) (string, bool)

	mu        sync.Mutex
	cur       *session // nil while disconnected
	lastErr   error    // why the last attempt failed or the connection was lost
	attempted bool     // an attempt finished since the last change
	changed   chan struct{}
	closed    bool

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// NewRoute checks cfg and starts connecting in the background; it does no
// I/O itself. Use Wait to block until connected, or call Open or Domains,
// which wait for the first attempt. Close the Route when done.
func NewRoute(cfg Config) (*Route, error) {
	t, err := ParseURI(cfg.URI)
	if err != nil {
		return nil, err
	}
	dial := cfg.Dial
	if dial == nil {
		if dial, err = t.dialer(); err != nil {
			return nil, err
		}
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 50 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(2*time.Second, cfg.MinBackoff)
	}
	r := &Route{target: t, cfg: cfg, dial: dial, tracked: cfg.Tracked, changed: make(chan struct{})}
	if r.tracked == nil {
		r.tracked = policy.LibvirtTracked
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	r.wg.Add(1)
	go r.run(ctx)
	return r, nil
}

// Dial is NewRoute followed by Wait: it returns once connected, or fails
// when ctx ends first (the error then wraps the last connection error).
func Dial(ctx context.Context, cfg Config) (*Route, error) {
	r, err := NewRoute(cfg)
	if err != nil {
		return nil, err
	}
	if err := r.Wait(ctx); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// URI is the libvirt URI the route was made for.
func (r *Route) URI() string { return r.target.URI }

// Target is the parsed URI.
func (r *Route) Target() Target { return r.target }

// Connected reports whether the route holds a live connection now.
func (r *Route) Connected() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur != nil
}

// Err is nil while connected; otherwise why not (wrapping ErrUnreachable),
// or nil before the first attempt has finished.
func (r *Route) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur != nil || !r.attempted || r.lastErr == nil {
		return nil
	}
	return r.lastErr
}

// Changed is closed at the route's next change (connected, lost, attempt
// failed, closed). Take a fresh channel after each change.
func (r *Route) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

// Wait blocks until the route is connected or ctx ends; the error then
// wraps ctx's and, when there was one, the last connection error.
func (r *Route) Wait(ctx context.Context) error {
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return fmt.Errorf("virt: %s: %w", r.target.URI, qmp.ErrClosed)
		}
		if r.cur != nil {
			r.mu.Unlock()
			return nil
		}
		ch, last := r.changed, r.lastErr
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("virt: waiting for %s: %w (%w)", r.target.URI, ctx.Err(), last)
			}
			return fmt.Errorf("virt: waiting for %s: %w", r.target.URI, ctx.Err())
		}
	}
}

// Close stops redialling, ends every Monitor with qmp.ErrClosed and closes
// the connection. It waits for the route's goroutines to finish.
func (r *Route) Close() error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.changed)
		r.changed = make(chan struct{})
	}
	r.mu.Unlock()
	r.stop()
	r.wg.Wait()
	return nil
}

// session returns the live connection. Before the first attempt has
// finished it waits for it (bounded by ctx); while libvirtd is known to be
// away it fails at once with ErrUnreachable.
func (r *Route) session(ctx context.Context) (*session, error) {
	for {
		r.mu.Lock()
		switch {
		case r.closed:
			r.mu.Unlock()
			return nil, fmt.Errorf("virt: %s: %w", r.target.URI, qmp.ErrClosed)
		case r.cur != nil:
			s := r.cur
			r.mu.Unlock()
			return s, nil
		case r.attempted && r.lastErr != nil:
			err := r.lastErr
			r.mu.Unlock()
			return nil, err
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("virt: connecting to %s: %w", r.target.URI, ctx.Err())
		}
	}
}

func (r *Route) set(s *session, err error) {
	r.mu.Lock()
	r.cur, r.lastErr, r.attempted = s, err, true
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// run is the route's one supervisor: connect, wait for the loss, redial.
func (r *Route) run(ctx context.Context) {
	defer r.wg.Done()
	backoff := r.cfg.MinBackoff
	for {
		s, err := r.connect(ctx)
		if ctx.Err() != nil {
			if s != nil {
				s.shutdown(qmp.ErrClosed)
			}
			r.set(nil, fmt.Errorf("virt: %s: %w", r.target.URI, qmp.ErrClosed))
			return
		}
		if err != nil {
			r.set(nil, fmt.Errorf("virt: %s: %w: %w", r.target.URI, ErrUnreachable, err))
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				continue // reported as closed at the top
			}
			backoff = min(2*backoff, r.cfg.MaxBackoff)
			continue
		}
		backoff = r.cfg.MinBackoff
		r.set(s, nil)
		select {
		case <-s.tap.lost:
			cause := fmt.Errorf("virt: %s: %w: connection lost: %w", r.target.URI, ErrUnreachable, s.tap.readErr())
			// Report first, so that calls made from here on fail fast,
			// then retire what was open.
			r.set(nil, cause)
			s.shutdown(fmt.Errorf("%w: %w", qmp.ErrDisconnected, cause))
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
			}
		case <-ctx.Done():
			s.shutdown(qmp.ErrClosed)
		}
	}
}

// connect dials libvirtd and opens the driver, subscribing to every
// domain's QEMU monitor events and lifecycle events. ctx bounds all of it.
func (r *Route) connect(ctx context.Context) (*session, error) {
	raw, err := r.dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("dialling: %w", err)
	}
	s := &session{
		r:    r,
		doms: make(map[string]libvirt.Domain),
		mons: make(map[libvirt.UUID]map[*Monitor]struct{}),
	}
	s.tap = &tapConn{Conn: raw, onEvent: s.onEvent, onLifecycle: s.onLifecycle, lost: make(chan struct{})}
	s.l = libvirt.NewWithDialer(dialers.NewAlreadyConnected(s.tap))
	stop := context.AfterFunc(ctx, func() { s.tap.Close() })
	err = s.l.ConnectToURI(libvirt.ConnectURI(r.target.Open))
	if err == nil {
		_, err = s.l.QEMUConnectDomainMonitorEventRegister(nil, nil, 0)
	}
	if err == nil {
		_, err = s.l.ConnectDomainEventCallbackRegisterAny(int32(libvirt.DomainEventIDLifecycle), nil)
	}
	if !stop() {
		err = ctx.Err()
	}
	if err != nil {
		s.tap.Close()
		<-s.tap.lost
		s.waitReader()
		return nil, fmt.Errorf("opening %s: %w", r.target.Open, err)
	}
	return s, nil
}

// session is one connection to libvirtd.
type session struct {
	r   *Route
	l   *libvirt.Libvirt
	tap *tapConn

	mu   sync.Mutex
	doms map[string]libvirt.Domain // lookup cache by name
	mons map[libvirt.UUID]map[*Monitor]struct{}
	err  error // set once the session is over
}

// shutdown closes the connection and ends every Monitor on it with err.
func (s *session) shutdown(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	var ms []*Monitor
	for _, set := range s.mons {
		for m := range set {
			ms = append(ms, m)
		}
	}
	s.mons = make(map[libvirt.UUID]map[*Monitor]struct{})
	s.mu.Unlock()
	for _, m := range ms {
		m.end(err)
	}
	s.tap.Close()
	s.waitReader()
}

// waitReader waits for go-libvirt's reader to notice the closed socket and
// retire its pending calls, so no goroutine outlives the session.
func (s *session) waitReader() {
	select {
	case <-s.l.Disconnected():
	case <-time.After(5 * time.Second):
	}
}

// done is closed when the connection is gone.
func (s *session) done() <-chan struct{} { return s.tap.lost }

func (s *session) onEvent(ev wireEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.mons[ev.domain.UUID]
	if len(set) == 0 {
		return
	}
	e := qmp.Event{Name: ev.name, Timestamp: qmp.Timestamp{Seconds: ev.seconds, Microseconds: int64(ev.micros)}}
	if ev.data != nil {
		e.Data = ev.data
	}
	for m := range set {
		m.events.Publish(e)
	}
}

func (s *session) onLifecycle(lc lifecycle) {
	s.mu.Lock()
	delete(s.doms, lc.domain.Name)
	var ended []*Monitor
	if lc.event == lifecycleStopped {
		for m := range s.mons[lc.domain.UUID] {
			ended = append(ended, m)
		}
		delete(s.mons, lc.domain.UUID)
	}
	s.mu.Unlock()
	for _, m := range ended {
		m.end(fmt.Errorf("virt: domain %q: %w (%s)", lc.domain.Name, ErrDomainStopped, stoppedDetail(lc.detail)))
	}
}

func (s *session) add(m *Monitor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	set := s.mons[m.dom.UUID]
	if set == nil {
		set = make(map[*Monitor]struct{})
		s.mons[m.dom.UUID] = set
	}
	set[m] = struct{}{}
	return nil
}

func (s *session) remove(m *Monitor) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if set := s.mons[m.dom.UUID]; set != nil {
		delete(set, m)
		if len(set) == 0 {
			delete(s.mons, m.dom.UUID)
		}
	}
}

func (s *session) forget(name string) {
	s.mu.Lock()
	delete(s.doms, name)
	s.mu.Unlock()
}

// lookup finds a domain by name, from the cache when it can.
func (s *session) lookup(ctx context.Context, name string) (libvirt.Domain, error) {
	s.mu.Lock()
	d, ok := s.doms[name]
	s.mu.Unlock()
	if ok {
		return d, nil
	}
	d, err := call(ctx, s, func() (libvirt.Domain, error) { return s.l.DomainLookupByName(name) })
	if err != nil {
		return libvirt.Domain{}, s.mapErr(err, name)
	}
	s.mu.Lock()
	if s.err == nil {
		s.doms[name] = d
	}
	s.mu.Unlock()
	return d, nil
}

// call runs one go-libvirt request (which takes no context) so that ctx
// and the connection's loss end the wait at once. The request's goroutine
// finishes when go-libvirt returns: on the reply, or when the connection
// is lost, since go-libvirt retires pending calls then. A late result is
// dropped.
func call[T any](ctx context.Context, s *session, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	case <-s.done():
		var zero T
		return zero, s.lostErr()
	}
}

func (s *session) lostErr() error {
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if err == nil {
		err = fmt.Errorf("virt: %s: %w: %w: connection lost: %w", s.r.target.URI, qmp.ErrDisconnected, ErrUnreachable, s.tap.readErr())
	}
	return err
}

// mapErr turns libvirt's errors into the package's sentinels.
func (s *session) mapErr(err error, name string) error {
	var le libvirt.Error
	if errors.As(err, &le) {
		switch libvirt.ErrorNumber(le.Code) {
		case libvirt.ErrNoDomain:
			s.forget(name)
			return fmt.Errorf("virt: domain %q: %w: %s", name, ErrDomainNotFound, le.Message)
		case libvirt.ErrOperationInvalid:
			s.forget(name)
			return fmt.Errorf("virt: domain %q: %w: %s", name, ErrDomainNotRunning, le.Message)
		}
		return fmt.Errorf("virt: domain %q: libvirt: %s", name, le.Message)
	}
	if errors.Is(err, libvirt.ErrInterrupted) {
		return s.lostErr()
	}
	return fmt.Errorf("virt: domain %q: %w", name, err)
}

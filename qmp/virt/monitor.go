package virt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/qscope/qscope/qmp"
)

// Option configures a Monitor.
type Option func(*monitorOptions)

type monitorOptions struct {
	force     bool
	queueSize int
}

// WithForce lets the Monitor send commands that libvirt tracks in its own
// configuration (device_add, migrate, …), which are refused otherwise with
// a *TrackedError. libvirt will not know of their effect.
func WithForce() Option { return func(o *monitorOptions) { o.force = true } }

// WithQueueSize sets the capacity of each event subscription's queue.
func WithQueueSize(n int) Option { return func(o *monitorOptions) { o.queueSize = n } }

// Monitor is one domain's QMP monitor reached through libvirt: commands go
// through virDomainQemuMonitorCommand, events come from
// virConnectDomainQemuMonitorEventRegister. It satisfies qmp.Monitor.
//
// It ends (Done is closed) when it is closed, when its domain stops, or
// when the connection to libvirtd is lost; pending calls fail at once with
// the reason. Open a new one after the route has reconnected.
//
// libvirt marks a domain whose monitor was used this way with the
// custom-monitor taint; Taints reads it back. stop, cont, system_reset
// and system_powerdown are carried out through libvirt's own API instead,
// so libvirt records them as its user's and sets no taint for them.
type Monitor struct {
	r      *Route
	s      *session
	dom    libvirt.Domain
	name   string
	force  bool
	owned  bool // Close closes the route too (OpenDomain)
	events qmp.Dispatcher

	done chan struct{}
	mu   sync.Mutex
	err  error
}

var _ qmp.Monitor = (*Monitor)(nil)

// Open returns a Monitor for the running domain called name. It fails with
// ErrDomainNotFound, ErrDomainNotRunning, or ErrUnreachable while libvirtd
// is away; before the route's first connection attempt has finished it
// waits for it, bounded by ctx.
func (r *Route) Open(ctx context.Context, name string, opts ...Option) (*Monitor, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	var o monitorOptions
	for _, opt := range opts {
		opt(&o)
	}
	s, err := r.session(ctx)
	if err != nil {
		return nil, err
	}
	dom, err := s.lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	if dom.ID < 0 {
		s.forget(name) // it may start any moment: look it up afresh next time
		return nil, fmt.Errorf("virt: domain %q: %w", name, ErrDomainNotRunning)
	}
	m := &Monitor{r: r, s: s, dom: dom, name: name, force: o.force, done: make(chan struct{})}
	m.events.QueueSize = o.queueSize
	if err := s.add(m); err != nil {
		return nil, err
	}
	return m, nil
}

func validName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("virt: %w: empty domain name", qmp.ErrInvalid)
	case len(name) > 1024:
		return fmt.Errorf("virt: %w: domain name longer than 1024 bytes", qmp.ErrInvalid)
	case strings.ContainsAny(name, "/\x00\n"):
		return fmt.Errorf("virt: %w: domain name %q has '/', a newline or NUL", qmp.ErrInvalid, name)
	}
	return nil
}

// Domain is libvirt's name of the domain.
func (m *Monitor) Domain() string { return m.name }

// UUID is the domain's UUID.
func (m *Monitor) UUID() string { return formatUUID(m.dom.UUID) }

// URI is the libvirt URI of the route the Monitor uses.
func (m *Monitor) URI() string { return m.r.target.URI }

// Forced reports whether the Monitor was opened WithForce.
func (m *Monitor) Forced() bool { return m.force }

// Done is closed when the Monitor has ended; Err then says why.
func (m *Monitor) Done() <-chan struct{} { return m.done }

// Err is why the Monitor ended, or nil while it is live.
func (m *Monitor) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// Close ends the Monitor: pending calls and subscriptions end with
// qmp.ErrClosed. The route and its connection stay up.
func (m *Monitor) Close() error {
	m.s.remove(m)
	m.end(qmp.ErrClosed)
	if m.owned {
		m.r.Close()
	}
	return nil
}

// OpenDomain makes a Route of its own for cfg and opens the domain's
// Monitor on it; closing the Monitor closes the Route. It suits one-shot
// use (a command line); share a Route when opening several domains.
func OpenDomain(ctx context.Context, cfg Config, name string, opts ...Option) (*Monitor, error) {
	r, err := NewRoute(cfg)
	if err != nil {
		return nil, err
	}
	m, err := r.Open(ctx, name, opts...)
	if err != nil {
		r.Close()
		return nil, err
	}
	m.owned = true
	return m, nil
}

func (m *Monitor) end(err error) {
	m.mu.Lock()
	if m.err != nil {
		m.mu.Unlock()
		return
	}
	m.err = err
	close(m.done)
	m.mu.Unlock()
	m.events.Close(err)
}

// Subscribe returns a queue of the domain's QMP events with one of the
// given names, or of all of them; events without data (STOP, RESUME, …)
// included.
func (m *Monitor) Subscribe(names ...string) *qmp.Subscription {
	return m.events.Subscribe(names...)
}

// Execute runs command through libvirt and unmarshals its return value
// into result (nil discards it). QEMU's error replies come back as
// *qmp.Error; commands libvirt tracks as *TrackedError (unless forced).
//
// stop, cont, system_reset and system_powerdown without arguments go
// through libvirt's own API instead of the passthrough (virDomainSuspend,
// virDomainResume, virDomainReset, virDomainShutdownFlags with the ACPI
// power button): they return {} as QEMU would, and libvirt's refusal in
// the domain's present state wraps ErrInvalidState.
//
// Never put an "id" in the request: libvirt adds its own and refuses one
// given by the caller, so this method has no way to send one.
func (m *Monitor) Execute(ctx context.Context, command string, args, result any) error {
	ret, err := m.ExecuteRaw(ctx, command, args)
	if err != nil {
		return err
	}
	if result == nil {
		return nil
	}
	if err := json.Unmarshal(ret, result); err != nil {
		return fmt.Errorf("virt: %s: decoding reply: %w", command, err)
	}
	return nil
}

// ExecuteRaw runs command and returns its return value as QEMU sent it.
func (m *Monitor) ExecuteRaw(ctx context.Context, command string, args any) (json.RawMessage, error) {
	a, err := qmp.CheckRequest(command, args)
	if err != nil {
		return nil, fmt.Errorf("virt: %w", err)
	}
	if !m.force {
		if hint, tracked := m.r.tracked(command); tracked && !harmlessHMP(command, a) {
			return nil, &TrackedError{Domain: m.name, Command: command, Hint: hint}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("virt: %s: %w", command, err)
	}
	select {
	case <-m.done:
		return nil, fmt.Errorf("virt: %s: %w", command, m.Err())
	default:
	}
	if op := nativeOp(command, a); op != nil {
		return m.native(ctx, command, op)
	}
	req := make([]byte, 0, 32+len(command)+len(a))
	req = append(req, `{"execute":"`...)
	req = append(req, command...) // validated: needs no escaping
	req = append(req, '"')
	if a != nil {
		req = append(req, `,"arguments":`...)
		req = append(req, a...)
	}
	req = append(req, '}')

	l, dom := m.s.l, m.dom
	ans, err := await(ctx, m, command, func() (string, error) {
		return l.QEMUDomainMonitorCommand(dom, string(req), 0)
	})
	if err != nil {
		return nil, err
	}
	if ans.err != nil {
		return nil, m.failed(ctx, command, ans.err)
	}
	return parseReply(command, ans.v)
}

// answer is what a go-libvirt request returned.
type answer[T any] struct {
	v   T
	err error
}

// await runs f, one go-libvirt request made for command, in its own
// goroutine and waits for its answer, for ctx to end or for the Monitor to
// end, whichever comes first (go-libvirt's calls take no context). When the
// wait ends early, the error says why, ready for the caller; the goroutine
// finishes when go-libvirt returns and its late answer is dropped.
func await[T any](ctx context.Context, m *Monitor, command string, f func() (T, error)) (answer[T], error) {
	ch := make(chan answer[T], 1)
	go func() {
		v, err := f()
		ch <- answer[T]{v, err}
	}()
	select {
	case a := <-ch:
		return a, nil
	case <-ctx.Done():
		return answer[T]{}, fmt.Errorf("virt: %s: %w", command, ctx.Err())
	case <-m.done:
		return answer[T]{}, fmt.Errorf("virt: %s: %w", command, m.Err())
	}
}

// failed turns libvirt's failure of a request made for command into the
// caller's error, and ends the Monitor when it says the domain is gone.
func (m *Monitor) failed(ctx context.Context, command string, lerr error) error {
	err := m.s.mapErr(lerr, m.name)
	if monitorLost(lerr) {
		// libvirt lost QEMU's monitor: the process is going away, and
		// its lifecycle event follows in a moment. Wait a little for
		// it so the caller learns the reason, not just the symptom.
		t := time.NewTimer(time.Second)
		select {
		case <-m.done:
			err = fmt.Errorf("%w (%w)", m.Err(), err)
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	if isGone(err) {
		// The domain went away under us (its lifecycle event may
		// still be on its way): end the Monitor, as a closed socket
		// ends a direct client.
		m.s.remove(m)
		m.end(fmt.Errorf("virt: domain %q: %w: %w", m.name, ErrDomainStopped, err))
	}
	return fmt.Errorf("virt: %s: %w", command, err)
}

// monitorLost reports whether libvirt failed a command because its own
// connection to QEMU's monitor broke (QEMU exiting or killed).
func monitorLost(err error) bool {
	var le libvirt.Error
	if !errors.As(err, &le) {
		return false
	}
	msg := strings.ToLower(le.Message)
	return strings.Contains(msg, "monitor") && (strings.Contains(msg, "unable to read") || strings.Contains(msg, "end of file") || strings.Contains(msg, "closed") || strings.Contains(msg, "reset"))
}

func isGone(err error) bool {
	return errors.Is(err, ErrDomainNotRunning) || errors.Is(err, ErrDomainNotFound)
}

// parseReply reads the raw QMP reply libvirt passes through:
// {"return":…,"id":"libvirt-N"} or {"id":…,"error":{"class":…,"desc":…}}.
func parseReply(command, s string) (json.RawMessage, error) {
	var rep struct {
		Return json.RawMessage `json:"return"`
		Error  *qmp.Error      `json:"error"`
	}
	if err := json.Unmarshal([]byte(s), &rep); err != nil {
		return nil, fmt.Errorf("virt: %s: %w: reply is not QMP: %v", command, qmp.ErrProtocol, err)
	}
	if rep.Error != nil {
		e := *rep.Error
		e.Command = command
		return nil, &e
	}
	if rep.Return == nil {
		return nil, fmt.Errorf("virt: %s: %w: reply has neither return nor error", command, qmp.ErrProtocol)
	}
	return rep.Return, nil
}

// harmlessHMP lets `human-monitor-command` through when the line is an
// "info" query, which changes nothing.
func harmlessHMP(command string, args []byte) bool {
	if command != "human-monitor-command" || args == nil {
		return false
	}
	var a struct {
		Line string `json:"command-line"`
	}
	if json.Unmarshal(args, &a) != nil {
		return false
	}
	f := strings.Fields(a.Line)
	return len(f) > 0 && (f[0] == "info" || f[0] == "i")
}

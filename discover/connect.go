package discover

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/qscope/qscope/qmp"
)

// Sentinel errors of Find and Connect, checked with errors.Is.
var (
	// ErrNotFound: no guest matches the target (*NotFoundError lists
	// what exists).
	ErrNotFound = errors.New("no such guest")
	// ErrAmbiguous: several guests match the target (*AmbiguousError
	// lists them).
	ErrAmbiguous = errors.New("ambiguous guest")
	// ErrNeedsLibvirt: the guest is libvirt's and no libvirt route is
	// configured (Connector.Libvirt is nil). qscope never connects to the
	// monitor that libvirtd holds.
	ErrNeedsLibvirt = errors.New("libvirt guests are reached only through libvirt")
	// ErrUnreachable: the guest has no monitor qscope may connect to
	// (none on a socket, another user's, a stopped process).
	ErrUnreachable = errors.New("guest monitor unreachable")
)

// NotFoundError says which target matched nothing and what exists.
type NotFoundError struct {
	Target string
	Known  []Guest
}

func (e *NotFoundError) Error() string {
	if len(e.Known) == 0 {
		return fmt.Sprintf("no guest %q: no QEMU process is visible to this user", e.Target)
	}
	return fmt.Sprintf("no guest %q; guests: %s", e.Target, describe(e.Known))
}

func (e *NotFoundError) Unwrap() error { return ErrNotFound }

// AmbiguousError says which guests a target matched.
type AmbiguousError struct {
	Target     string
	Candidates []Guest
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("%q matches %d guests: %s; name one by pid or uuid", e.Target, len(e.Candidates), describe(e.Candidates))
}

func (e *AmbiguousError) Unwrap() error { return ErrAmbiguous }

func describe(gs []Guest) string {
	parts := make([]string, len(gs))
	for i, g := range gs {
		parts[i] = fmt.Sprintf("%s (pid %d, %s", plainName(g.Name), g.PID, g.Owner)
		if g.UUID != "" {
			parts[i] += ", uuid " + g.UUID
		}
		parts[i] += ")"
	}
	return strings.Join(parts, ", ")
}

// plainName is a guest name fit for one line of text: quoted, with its
// control characters escaped, when it has any (names come from command
// lines anyone can write).
func plainName(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// Match picks the one guest that target names: a pid (all digits), a
// uuid (any case), a name or libvirt domain name (exact), or a Key
// ("pid@ticks"). When nothing matches exactly, a case-insensitive name
// match is tried. It is pure; Find is List followed by Match.
func Match(guests []Guest, target string) (Guest, error) {
	t := strings.TrimSpace(target)
	if t == "" {
		return Guest{}, errors.New("discover: empty guest name")
	}
	pid, perr := strconv.Atoi(t)
	var hits []Guest
	for _, g := range guests {
		switch {
		case perr == nil && g.PID == pid && pid > 0,
			g.UUID != "" && strings.EqualFold(g.UUID, t),
			g.Name == t, g.Domain != "" && g.Domain == t,
			g.PID > 0 && g.Key() == t:
			hits = append(hits, g)
		}
	}
	if len(hits) == 0 {
		for _, g := range guests {
			if strings.EqualFold(g.Name, t) {
				hits = append(hits, g)
			}
		}
	}
	switch len(hits) {
	case 0:
		return Guest{}, &NotFoundError{Target: t, Known: guests}
	case 1:
		return hits[0], nil
	}
	return Guest{}, &AmbiguousError{Target: t, Candidates: hits}
}

// Find lists the guests and returns the one target names (see Match).
func (s *Scanner) Find(ctx context.Context, target string) (Guest, error) {
	gs, err := s.List(ctx)
	if gs == nil && err != nil {
		return Guest{}, fmt.Errorf("discover: listing guests: %w", err)
	}
	return Match(gs, target)
}

// Connector connects to a guest by name over the right route: the guest's
// own monitor socket for plain, Incus and Proxmox guests; the Libvirt
// route for libvirt's guests. The zero value scans the real host and has
// no libvirt route.
type Connector struct {
	// Scanner finds guests; nil means a new zero Scanner per call.
	Scanner *Scanner
	// Libvirt opens a monitor for a libvirt guest (its passthrough). Nil
	// means libvirt guests are refused with ErrNeedsLibvirt.
	Libvirt func(ctx context.Context, g Guest) (qmp.Monitor, error)
	// GreetingTimeout bounds the wait for a monitor's greeting when ctx
	// has no earlier deadline: a monitor held by another client never
	// greets. 0 means 2 seconds.
	GreetingTimeout time.Duration
	// Options are passed to qmp.Dial.
	Options []qmp.Option
}

// Connect finds target (see Match) and returns a connected monitor and the
// guest. The monitor is the caller's to Close.
func (c *Connector) Connect(ctx context.Context, target string) (qmp.Monitor, Guest, error) {
	s := c.Scanner
	if s == nil {
		s = &Scanner{}
	}
	g, err := s.Find(ctx, target)
	if err != nil {
		return nil, Guest{}, err
	}
	m, err := c.ConnectGuest(ctx, g)
	if err != nil {
		return nil, g, err
	}
	return m, g, nil
}

// ConnectGuest connects to a guest already found. With a Scanner, a
// monitor opened on the guest's own socket is held in it (Scanner.Hold)
// until closed, so that its scans go on seeing the guest's state.
func (c *Connector) ConnectGuest(ctx context.Context, g Guest) (qmp.Monitor, error) {
	if g.Owner == OwnerLibvirt {
		if c.Libvirt == nil {
			return nil, fmt.Errorf("discover: guest %s (pid %d) is run by libvirt (domain %q): %w; its monitor belongs to libvirtd, and no libvirt connection is configured", g.Name, g.PID, g.Domain, ErrNeedsLibvirt)
		}
		m, err := c.Libvirt(ctx, g)
		if err != nil {
			return nil, fmt.Errorf("discover: connecting to libvirt domain %q: %w", g.Domain, err)
		}
		return m, nil
	}
	if g.State == StateStopped {
		return nil, fmt.Errorf("discover: guest %s (pid %d) is stopped (SIGSTOP): %w until it gets SIGCONT", g.Name, g.PID, ErrUnreachable)
	}
	to := c.GreetingTimeout
	if to <= 0 {
		to = 2 * time.Second
	}
	var errs []error
	for _, ep := range preferShown(g) {
		if ep.Network != "unix" && ep.Network != "tcp" {
			continue
		}
		dctx, cancel := context.WithTimeout(ctx, to)
		m, err := qmp.Dial(dctx, ep.Network, ep.Address, c.Options...)
		cancel()
		if err == nil {
			if c.Scanner == nil {
				return m, nil
			}
			return &heldClient{Client: m, release: c.Scanner.Hold(ep, m)}, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("discover: connecting to %s: %w", g.Name, ctx.Err())
		}
		if errors.Is(err, syscall.EAGAIN) && !errors.Is(err, qmp.ErrBusy) {
			err = fmt.Errorf("%w: connection queue full: %w", qmp.ErrBusy, err)
		}
		if errors.Is(err, qmp.ErrBusy) {
			err = fmt.Errorf("monitor %s is held by another client (QEMU serves one client per monitor; close the other client or add a second -qmp monitor): %w", ep, err)
		} else {
			_, reason := classifyDialError(ep, err)
			err = fmt.Errorf("%s: %w", reason, err)
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		why := g.Reason
		if why == "" {
			why = "no QMP monitor on a socket"
		}
		return nil, fmt.Errorf("discover: guest %s (pid %d): %w: %s", g.Name, g.PID, ErrUnreachable, why)
	}
	return nil, fmt.Errorf("discover: guest %s (pid %d): %w", g.Name, g.PID, errors.Join(errs...))
}

// heldClient is a monitor the Connector opened while its Scanner probes
// through it (Scanner.Hold) until it is closed.
type heldClient struct {
	*qmp.Client
	release func()
}

func (h *heldClient) Close() error {
	h.release()
	return h.Client.Close()
}

// preferShown orders g's monitors with the one the scan reached (shown as
// g.Monitor) first: when an earlier monitor is held by another client, it
// would otherwise cost a whole greeting timeout before the free one is
// tried.
func preferShown(g Guest) []Endpoint {
	for i, ep := range g.Monitors {
		if i > 0 && ep.String() == g.Monitor {
			out := make([]Endpoint, 0, len(g.Monitors))
			out = append(out, ep)
			out = append(out, g.Monitors[:i]...)
			return append(out, g.Monitors[i+1:]...)
		}
	}
	return g.Monitors
}

// Connect finds target on this host with a zero Scanner and connects to it
// over the right route: the guest's own monitor socket, or for a libvirt
// guest libvirt's monitor passthrough on the local daemon that runs it
// (LibvirtRoute; commands libvirt tracks are refused there, see
// qmp/virt). opts are passed to qmp.Dial. For more control (a libvirt URI,
// forcing, the libvirt API as a source) use a Connector.
func Connect(ctx context.Context, target string, opts ...qmp.Option) (qmp.Monitor, Guest, error) {
	c := Connector{Options: opts, Libvirt: LibvirtRoute("", nil)}
	return c.Connect(ctx, target)
}

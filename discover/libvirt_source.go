package discover

import (
	"context"
	"fmt"
	"sync"

	"github.com/qscope/qscope/qmp"
	"github.com/qscope/qscope/qmp/virt"
)

var _ Source = (*LibvirtSource)(nil)

// LibvirtSource lists libvirt's domains through the libvirt API: running
// ones with the pid libvirt reports (merged with the process source's
// entry for that pid), libvirt's state (running, paused, in shutdown, …)
// and taints, and defined domains that are not running, in state "shut
// off" with pid 0. Every entry is owned by libvirt, named by its domain,
// and has the libvirt URI as its monitor: it is driven through libvirt.
//
// When libvirtd cannot be reached Scan returns an error wrapping
// virt.ErrUnreachable and no guests; the Scanner still lists what the
// other sources found.
type LibvirtSource struct {
	// URI is the libvirt connection; "" means DefaultLibvirtURI.
	URI string
	// Route, when set, is a long-lived connection to use (it reconnects on
	// its own). Otherwise a local daemon gets a connection per Scan (about
	// 2.5 ms with one domain), while a remote one (ssh, tls, tcp) gets one
	// the source keeps until Close, so that a live view does not pay a
	// handshake every scan.
	Route *virt.Route

	mu   sync.Mutex
	kept *virt.Route
}

// Close releases the connection the source keeps for a remote daemon.
func (s *LibvirtSource) Close() error {
	s.mu.Lock()
	r := s.kept
	s.kept = nil
	s.mu.Unlock()
	if r != nil {
		return r.Close()
	}
	return nil
}

// route returns the route to scan with and whether Scan must close it.
func (s *LibvirtSource) route() (*virt.Route, bool, error) {
	if s.Route != nil {
		return s.Route, false, nil
	}
	uri := s.URI
	if uri == "" {
		uri = DefaultLibvirtURI
	}
	t, err := virt.ParseURI(uri)
	if err != nil {
		return nil, false, err
	}
	if t.Local() {
		r, err := virt.NewRoute(virt.Config{URI: uri})
		return r, true, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kept == nil {
		if s.kept, err = virt.NewRoute(virt.Config{URI: uri}); err != nil {
			return nil, false, err
		}
	}
	return s.kept, false, nil
}

// Name is "libvirt".
func (s *LibvirtSource) Name() string { return "libvirt" }

// Scan lists the domains.
func (s *LibvirtSource) Scan(ctx context.Context) ([]Guest, error) {
	r, own, err := s.route()
	if err != nil {
		return nil, err
	}
	if own {
		defer r.Close()
	}
	ds, err := r.Domains(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing libvirt domains on %s: %w", r.URI(), err)
	}
	uri := r.URI()
	out := make([]Guest, 0, len(ds))
	for _, d := range ds {
		g := Guest{
			Name:     d.Name,
			Domain:   d.Name,
			UUID:     d.UUID,
			PID:      d.PID,
			Owner:    OwnerLibvirt,
			Monitor:  uri,
			Monitors: []Endpoint{{Network: "libvirt", Address: uri}},
			State:    libvirtState(d.State),
			Taints:   d.Taints,
		}
		g.Reason = "libvirt: " + d.State
		if d.Reason != "" {
			g.Reason += " (" + d.Reason + ")"
		}
		if d.Running() {
			g.Reason += "; driven through libvirt, which holds its monitor"
		}
		out = append(out, g)
	}
	return out, nil
}

func libvirtState(s string) State {
	switch s {
	case "running":
		return StateRunning
	case "paused":
		return StatePaused
	case "shut off":
		return StateShutOff
	}
	return State(s)
}

// LibvirtRoute returns a Connector.Libvirt hook that opens a libvirt
// guest's monitor through libvirt (qmp/virt), on the connection the guest
// was found through, else on fallbackURI ("" means DefaultLibvirtURI). The
// monitor owns its connection: closing it closes both. opts are passed to
// virt (virt.WithForce, for one).
//
//	c := discover.Connector{Libvirt: discover.LibvirtRoute("", nil)}
//	m, g, err := c.Connect(ctx, "web1")
func LibvirtRoute(fallbackURI string, opts func() []virt.Option) func(ctx context.Context, g Guest) (qmp.Monitor, error) {
	return func(ctx context.Context, g Guest) (qmp.Monitor, error) {
		if g.Domain == "" {
			return nil, fmt.Errorf("guest %s (pid %d) has no libvirt domain name", g.Name, g.PID)
		}
		uri := fallbackURI
		for _, ep := range g.Monitors {
			if ep.Network == "libvirt" && ep.Address != "" {
				uri = ep.Address
				break
			}
		}
		if uri == "" {
			uri = DefaultLibvirtURI
		}
		var o []virt.Option
		if opts != nil {
			o = opts()
		}
		return virt.OpenDomain(ctx, virt.Config{URI: uri}, g.Domain, o...)
	}
}

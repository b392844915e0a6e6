package cli

import (
	"context"
	"fmt"

	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/journal"
	"github.com/qscope/qscope/qmp"
	"github.com/qscope/qscope/qmp/virt"
)

// The libvirt route: the libvirt API as a discovery source (unless
// --connect none), and libvirt's guests reached through libvirt.
func init() {
	extraSources = append(extraSources, func(o *Options) discover.Source {
		if o.LibvirtURI == "none" {
			return nil
		}
		return &discover.LibvirtSource{URI: o.LibvirtURI}
	})
	libvirtRoute = openLibvirt
}

// openLibvirt opens a libvirt guest's monitor through libvirt, on the
// connection the guest was found through (else --connect). The monitor
// owns its connection: closing it closes both.
func openLibvirt(ctx context.Context, o *Options, g discover.Guest) (qmp.Monitor, error) {
	return discover.LibvirtRoute(o.LibvirtURI, func() []virt.Option {
		if o.LibvirtForce {
			return []virt.Option{virt.WithForce()}
		}
		return nil
	})(ctx, g)
}

// libvirtForceHook is what the terminal UI's model.Config.Force needs: for
// a libvirt guest, a monitor that sends what libvirt tracks anyway, on its
// own connection, journaled like every other (j nil: none is opened, since
// nothing that changes a guest may run unjournaled).
func libvirtForceHook(o *Options, j *journal.Journal) func(ctx context.Context, g discover.Guest) (qmp.Monitor, error) {
	if j == nil || o.LibvirtURI == "none" {
		return nil
	}
	open := discover.LibvirtRoute(o.LibvirtURI, func() []virt.Option { return []virt.Option{virt.WithForce()} })
	return func(ctx context.Context, g discover.Guest) (qmp.Monitor, error) {
		if g.Owner != discover.OwnerLibvirt {
			return nil, fmt.Errorf("forcing on %s: only libvirt's guests refuse commands to force", g.Name)
		}
		m, err := open(ctx, g)
		if err != nil {
			return nil, err
		}
		return journal.Wrap(m, j, journal.SessionFor(g, "tui")), nil
	}
}

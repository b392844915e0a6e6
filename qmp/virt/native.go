package virt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	libvirt "github.com/digitalocean/go-libvirt"
)

// nativeFunc carries out one QMP command through libvirt's own API.
type nativeFunc func(l *libvirt.Libvirt, d libvirt.Domain) error

// nativeOps are the commands a Monitor never sends through the
// passthrough: libvirt has an API call for each, and going through it lets
// libvirt record the change as its user's (paused/user, not
// paused/unknown) without tainting the domain custom-monitor.
var nativeOps = map[string]nativeFunc{
	"stop":         func(l *libvirt.Libvirt, d libvirt.Domain) error { return l.DomainSuspend(d) },
	"cont":         func(l *libvirt.Libvirt, d libvirt.Domain) error { return l.DomainResume(d) },
	"system_reset": func(l *libvirt.Libvirt, d libvirt.Domain) error { return l.DomainReset(d, 0) },
	"system_powerdown": func(l *libvirt.Libvirt, d libvirt.Domain) error {
		return l.DomainShutdownFlags(d, libvirt.DomainShutdownAcpiPowerBtn)
	},
}

// nativeOp returns how libvirt's own API carries out command, or nil when
// it goes through the passthrough: commands without a libvirt call, and
// those four given arguments (QEMU takes none, and answers for itself).
func nativeOp(command string, args json.RawMessage) nativeFunc {
	op := nativeOps[command]
	if op == nil || !emptyArgs(args) {
		return nil
	}
	return op
}

// emptyArgs reports whether checked arguments are none or {}.
func emptyArgs(args json.RawMessage) bool {
	if args == nil {
		return true
	}
	var m map[string]json.RawMessage
	return json.Unmarshal(args, &m) == nil && len(m) == 0
}

// native runs command through libvirt's API, bounded by ctx and the
// Monitor's end like the passthrough, and returns what QEMU would: {}.
func (m *Monitor) native(ctx context.Context, command string, op nativeFunc) (json.RawMessage, error) {
	l, dom := m.s.l, m.dom
	ans, err := await(ctx, m, command, func() (struct{}, error) { return struct{}{}, op(l, dom) })
	if err != nil {
		return nil, err
	}
	if ans.err != nil {
		var le libvirt.Error
		if errors.As(ans.err, &le) && libvirt.ErrorNumber(le.Code) == libvirt.ErrOperationInvalid && m.present(ctx) {
			// libvirt refused the change in the domain's present state
			// (cont while running, system_powerdown while paused): the
			// domain is still there, and so is the Monitor.
			return nil, fmt.Errorf("virt: %s: domain %q: %w: %s", command, m.name, ErrInvalidState, le.Message)
		}
		return nil, m.failed(ctx, command, ans.err)
	}
	return json.RawMessage(`{}`), nil
}

// present reports whether the Monitor's domain still has its QEMU, as far
// as libvirt can tell. When it cannot tell (ctx ended, connection lost) it
// says yes: the lifecycle event ends the Monitor if the domain did stop.
func (m *Monitor) present(ctx context.Context) bool {
	l, dom := m.s.l, m.dom
	state, err := call(ctx, m.s, func() (int32, error) {
		s, _, err := l.DomainGetState(dom, 0)
		return s, err
	})
	var le libvirt.Error
	if errors.As(err, &le) && libvirt.ErrorNumber(le.Code) == libvirt.ErrNoDomain {
		return false
	}
	return err != nil || libvirt.DomainState(state) != libvirt.DomainShutoff
}

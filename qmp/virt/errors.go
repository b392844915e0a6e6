package virt

import (
	"errors"
	"fmt"

	"github.com/qscope/qscope/qmp"
)

// Sentinel errors, checked with errors.Is.
var (
	// ErrTrackedByLibvirt is matched by a *TrackedError: the command
	// changes state that libvirt keeps in its own configuration, so it is
	// refused on this route unless the Monitor was opened WithForce.
	ErrTrackedByLibvirt = errors.New("change tracked by libvirt")
	// ErrUnreachable wraps the cause when libvirtd cannot be reached (the
	// route keeps redialling in the background).
	ErrUnreachable = errors.New("libvirtd unreachable")
	// ErrDomainNotFound means libvirt knows no domain of that name.
	ErrDomainNotFound = errors.New("domain not found")
	// ErrDomainNotRunning means the domain exists but has no running QEMU.
	ErrDomainNotRunning = errors.New("domain not running")
	// ErrDomainStopped ends a Monitor whose domain stopped (shut down,
	// destroyed, crashed) while it was open.
	ErrDomainStopped = errors.New("domain stopped")
	// ErrInvalidState means libvirt refused stop, cont, system_reset or
	// system_powerdown in the domain's present state (cont while it runs,
	// system_powerdown while it is paused). The domain and the Monitor
	// are unaffected.
	ErrInvalidState = errors.New("refused by libvirt in the domain's present state")
)

// TrackedError is the refusal of a command that libvirt tracks in its own
// configuration. errors.Is(err, ErrTrackedByLibvirt) matches it, and so
// does errors.Is(err, qmp.ErrInvalid): nothing was sent (a journal does not
// record it as a command that ran).
type TrackedError struct {
	// Domain is libvirt's name of the guest.
	Domain string
	// Command is the refused QMP command.
	Command string
	// Hint names the libvirt-native way to make the change (virsh
	// attach-device, virsh setvcpus, …).
	Hint string
}

func (e *TrackedError) Error() string {
	msg := fmt.Sprintf("virt: %s on domain %q refused: libvirt tracks this change in its own configuration and would not know of it", e.Command, e.Domain)
	if e.Hint != "" {
		msg += "; use " + e.Hint
	}
	return msg + " (or force it)"
}

// Is makes errors.Is(err, ErrTrackedByLibvirt) and errors.Is(err,
// qmp.ErrInvalid) true.
func (e *TrackedError) Is(target error) bool {
	return target == ErrTrackedByLibvirt || target == qmp.ErrInvalid
}

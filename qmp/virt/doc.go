// Package virt reaches the QMP monitors of libvirt's guests through
// libvirt, with the same client API as a direct socket: a [Monitor]
// satisfies qmp.Monitor.
//
// libvirtd holds the only connection to the monitor of every QEMU it
// starts, so a libvirt guest is driven through libvirt or not at all.
// Commands travel as virDomainQemuMonitorCommand (QEMU's raw reply comes
// back and is parsed here: error replies are *qmp.Error with their class);
// events arrive through one virConnectDomainQemuMonitorEventRegister
// registration per connection, for every domain, and are fanned out by a
// qmp.Dispatcher per Monitor. Events without data (STOP, RESUME,
// POWERDOWN, …) are delivered too: go-libvirt's own decoder drops them, so
// the route follows libvirt's packet framing on the socket itself and
// decodes those messages (see wire.go).
//
// A [Route] is one connection to libvirtd (qemu:///system,
// qemu:///session, qemu+ssh://…, qemu+tls://…, see [ParseURI]) shared by
// the Monitors of any number of domains. It redials with backoff when the
// daemon goes away: the loss is reported at once (every Monitor on the
// connection ends with qmp.ErrDisconnected, pending calls fail, new calls
// fail fast with [ErrUnreachable]) and the Route is usable again as soon as
// the daemon is back. A Monitor whose domain stops ends with
// [ErrDomainStopped]; a call pending at that moment fails, it never hangs.
//
// go-libvirt's calls take no context. Every call here still takes one: the
// request runs in its own goroutine, the caller returns as soon as ctx ends,
// and the goroutine finishes when libvirt answers (or the connection goes),
// its late result dropped.
//
// Commands whose effect libvirt keeps in its own configuration (device_add,
// blockdev-add, netdev_add, object-add, chardev-add, migrate, block_resize,
// …; see policy.LibvirtTracked) are refused with a *[TrackedError] naming
// the libvirt-native way (virsh attach-device, virsh blockresize, …),
// unless the Monitor was opened [WithForce]. stop, cont, system_reset and
// system_powerdown (without arguments) are not sent through the
// passthrough at all: they go through libvirt's own API (virDomainSuspend,
// virDomainResume, virDomainReset, virDomainShutdownFlags with the ACPI
// power button), so libvirt records them as its user's and does not taint
// the domain; a refusal in the domain's present state wraps
// [ErrInvalidState]. Other changes libvirt follows by QEMU's events (quit,
// balloon) pass. libvirt sets the custom-monitor taint on a domain once
// anything is sent through the passthrough; [Monitor.Taints] and
// [DomainInfo.Taints] report it.
//
// libvirt adds its own id to every command and refuses one supplied by the
// caller; this package never sends one.
package virt

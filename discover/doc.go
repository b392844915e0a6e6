// Package discover finds every QEMU virtual machine on this host and
// connects to one by name.
//
// QEMU keeps no registry of its instances, so a [Scanner] assembles one
// from what the host shows, through [Source]s that each find one kind:
//
//   - [ProcSource] walks /proc for qemu-system-* processes (also qemu-kvm
//     and Proxmox's kvm) and reads their command lines with QEMU's own
//     option syntax (",," escapes a comma, "-name guest=X,process=Y" or
//     "-name X", "--opt" equals "-opt"): the name, the uuid and every QMP
//     monitor: "-qmp unix:…" (old and new spellings), "-qmp tcp:…",
//     "-qmp-pretty", "-chardev socket,… -mon chardev=…,mode=control", and a
//     listening descriptor handed over as "fd=N", whose path it finds
//     through /proc/PID/fd and /proc/net/unix. Human monitors (-monitor,
//     -mon in readline mode) are not QMP and are ignored. Monitors in a
//     -readconfig file count too, when the file belongs to root or the
//     QEMU's user. Paths tell who launched the
//     process: libvirt (/run/libvirt/qemu, /var/lib/libvirt/qemu, or a
//     "charmonitor" descriptor), Incus (/run/incus/<instance>/qemu.monitor)
//     or Proxmox (/var/run/qemu-server/<vmid>.qmp); anything else is
//     "process".
//   - [DomainStatusSource] reads libvirt's status files
//     (/run/libvirt/qemu/NAME.xml, root only) and names the matching
//     process by its libvirt domain.
//
// More sources (the libvirt API, for one) plug in through Scanner.Extra;
// [Merge] joins what they report by pid, then uuid, then domain.
//
// The Scanner then visits each reachable monitor briefly (connect, read
// the greeting, query-status, disconnect; query-name and query-uuid once
// per process) with bounded concurrency and a per-guest timeout
// (Scanner.ProbeTimeout, 300 ms by default), so a listing never hangs
// and never keeps a single-client monitor from its owner. A guest's State
// is QEMU's run state when the monitor answered, else one that says why
// not: busy (another client holds the monitor), stopped (SIGSTOP: the
// socket is not even tried), unresponsive, denied (another user's
// socket), no-monitor. libvirt's guests are never probed: their monitor
// belongs to libvirtd, and their Monitor is the libvirt URI.
//
// [Scanner.List] scans once; [Scanner.Watch] scans at an interval and
// yields [Change]s; [Diff] compares two listings. What never changes for
// a process is cached per pid and start time, so a watch every second
// over a hundred guests costs a few percent of one core.
//
// [Connector] (or [Connect]) finds a guest by name, pid or uuid ([Match])
// and returns a connected qmp.Monitor over the right route: the guest's
// own socket, or for libvirt's guests the Connector.Libvirt route
// ([Connect] uses [LibvirtRoute] on the local daemon). An
// ambiguous name is refused with the candidates ([AmbiguousError]), an
// unknown one lists what exists ([NotFoundError]).
//
// Guest values are plain data: copy them, compare them by [Guest.Key],
// marshal them to JSON.
package discover

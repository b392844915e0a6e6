package discover

import (
	"path/filepath"
	"strings"

	"github.com/qscope/qscope/qmp/virt"
)

// DefaultLibvirtURI is the URI shown for guests of the system libvirtd.
const DefaultLibvirtURI = "qemu:///system"

// layout recognises launchers from where they put their sockets and
// state: libvirt, Incus and Proxmox each have a fixed directory layout.
// root prefixes every directory ("" or "/" for the real host).
type layout struct {
	root string
}

func (l layout) dir(p string) string {
	if l.root == "" || l.root == "/" {
		return p + "/"
	}
	return filepath.Join(l.root, p) + "/"
}

// launcher says who started a process, judging by its paths.
type launcher struct {
	owner Owner
	// libvirtURI is set for libvirt guests: system or session daemon.
	libvirtURI string
	session    bool // the session daemon's
	// id is the launcher's own name for the guest (Incus instance
	// directory, Proxmox vmid), when the layout carries one.
	id string
}

// localLibvirtURI is the URI of this host's system (or, with session, the
// user's session) libvirtd, for a QEMU process found in that daemon's
// layout here. The configured URI is kept when it names that same local
// daemon (it may carry a ?socket=); a remote one (qemu+ssh://…) or the
// other local daemon does not drive this process, so the default local
// URI is used instead.
func localLibvirtURI(configured string, session bool) string {
	if configured != "" {
		if t, err := virt.ParseURI(configured); err == nil && t.Local() && t.Session() == session {
			return configured
		}
	}
	if session {
		return "qemu:///session"
	}
	return DefaultLibvirtURI
}

// classify looks at the monitor endpoints and other paths of a command
// line. configured is the libvirt URI the caller chose ("" for the
// default); see localLibvirtURI.
func (l layout) classify(sp spec, monitors []Endpoint, configured string) launcher {
	systemURI := localLibvirtURI(configured, false)
	paths := make([]string, 0, len(monitors)+len(sp.paths))
	for _, m := range monitors {
		if m.Network == "unix" {
			paths = append(paths, m.Address)
		}
	}
	paths = append(paths, sp.paths...)
	libvirtSystem := []string{l.dir("/run/libvirt/qemu"), l.dir("/var/run/libvirt/qemu"), l.dir("/var/lib/libvirt/qemu")}
	for _, p := range paths {
		for _, d := range libvirtSystem {
			if strings.HasPrefix(p, d) {
				return launcher{owner: OwnerLibvirt, libvirtURI: systemURI}
			}
		}
		// The session daemon keeps its state under the user's
		// $XDG_CONFIG_HOME/libvirt/qemu and $XDG_RUNTIME_DIR/libvirt/qemu.
		if strings.Contains(p, "/.config/libvirt/qemu/") || (strings.Contains(p, "/run/user/") && strings.Contains(p, "/libvirt/qemu/")) {
			return launcher{owner: OwnerLibvirt, libvirtURI: localLibvirtURI(configured, true), session: true}
		}
	}
	for _, m := range monitors {
		if m.Network != "unix" {
			continue
		}
		p := m.Address
		if rest, ok := strings.CutPrefix(p, l.dir("/run/incus")); ok {
			if inst, ok := strings.CutSuffix(rest, "/qemu.monitor"); ok && !strings.Contains(inst, "/") {
				return launcher{owner: OwnerIncus, id: inst}
			}
		}
		for _, d := range []string{l.dir("/run/qemu-server"), l.dir("/var/run/qemu-server")} {
			if rest, ok := strings.CutPrefix(p, d); ok {
				if vmid, ok := strings.CutSuffix(rest, ".qmp"); ok && vmid != "" && !strings.Contains(vmid, "/") {
					return launcher{owner: OwnerProxmox, id: vmid}
				}
			}
		}
	}
	// Proxmox also writes <vmid>.pid beside the socket.
	if sp.pidfile != "" {
		for _, d := range []string{l.dir("/run/qemu-server"), l.dir("/var/run/qemu-server")} {
			if rest, ok := strings.CutPrefix(sp.pidfile, d); ok {
				if vmid, ok := strings.CutSuffix(rest, ".pid"); ok && vmid != "" && !strings.Contains(vmid, "/") {
					return launcher{owner: OwnerProxmox, id: vmid}
				}
			}
		}
	}
	// libvirt names its monitor chardev "charmonitor" and hands QEMU the
	// listening socket as a descriptor: when the path cannot be read
	// (another user's process), that is still libvirt's signature.
	if sp.libvirtID {
		for _, m := range sp.monitors {
			if m.chardev == "charmonitor" && m.fd >= 0 {
				return launcher{owner: OwnerLibvirt, libvirtURI: systemURI}
			}
		}
	}
	return launcher{owner: OwnerProcess}
}

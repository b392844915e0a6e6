package policy

import "strings"

// LibvirtTracked reports whether a QMP command changes state that libvirt
// keeps in its own configuration of a domain (its live XML, its job and
// snapshot records). Sent past libvirt, such a change leaves libvirt
// believing something false about the guest: a device_add'ed disk exists in
// QEMU but not in `virsh dumpxml`, and the next libvirt operation that
// touches it fails or undoes it. On the libvirt route these commands are
// refused unless forced; hint names the libvirt-native way to make the same
// change.
//
// Commands whose effect libvirt follows by QEMU's own events pass: stop and
// cont (STOP/RESUME), system_reset (RESET), system_powerdown (POWERDOWN),
// quit (SHUTDOWN and the monitor closing), balloon (BALLOON_CHANGE), and
// every read-only query. The list is deliberately closed: an unknown
// command is not tracked.
func LibvirtTracked(command string) (hint string, tracked bool) {
	if h, ok := libvirtTracked[command]; ok {
		return h, true
	}
	for _, p := range libvirtTrackedPrefixes {
		if strings.HasPrefix(command, p.prefix) {
			return p.hint, true
		}
	}
	return "", false
}

// LibvirtTrackedCommands lists the exact command names LibvirtTracked
// refuses (prefix rules aside), for documentation and completion hints.
func LibvirtTrackedCommands() []string {
	out := make([]string, 0, len(libvirtTracked))
	for c := range libvirtTracked {
		out = append(out, c)
	}
	return out
}

const (
	hintDevice   = "virsh attach-device / detach-device (virDomainAttachDeviceFlags / virDomainDetachDeviceFlags)"
	hintDisk     = "virsh attach-disk / detach-disk, or attach-device with a <disk> element"
	hintMedia    = "virsh change-media (eject, insert, update)"
	hintNet      = "virsh attach-interface / detach-interface, or attach-device with an <interface> element"
	hintChardev  = "virsh attach-device / detach-device with a <serial>, <channel> or <console> element"
	hintMemory   = "virsh attach-device with a <memory> element (DIMM hotplug), virsh setmem for the balloon"
	hintObject   = "the libvirt element that owns the object (virsh attach-device for memory and rng backends, virsh iothreadadd / iothreaddel for iothreads)"
	hintVCPU     = "virsh setvcpus (or setvcpu for one vCPU)"
	hintMigrate  = "virsh migrate (and migrate-setspeed, migrate-setmaxdowntime, domjobabort)"
	hintBlockJob = "virsh blockcommit / blockpull / blockcopy / blockjob"
	hintSnapshot = "virsh snapshot-create-as / snapshot-revert / snapshot-delete"
	hintThrottle = "virsh blkdeviotune"
	hintGraphics = "virsh update-device with a <graphics passwd=…> element"
	hintFD       = "libvirt's own descriptor handling: it owns every descriptor QEMU holds"
)

var libvirtTracked = map[string]string{
	// devices
	"device_add": hintDevice,
	"device_del": hintDevice,
	// block layer: the disks in libvirt's XML are its node names
	"blockdev-add":                           hintDisk,
	"blockdev-del":                           hintDisk,
	"blockdev-reopen":                        hintDisk,
	"blockdev-create":                        hintDisk,
	"x-blockdev-change":                      hintDisk,
	"x-blockdev-reopen":                      hintDisk,
	"block_resize":                           "virsh blockresize",
	"block-set-write-threshold":              "virsh domblkthreshold",
	"block_set_io_throttle":                  hintThrottle,
	"eject":                                  hintMedia,
	"change":                                 hintMedia,
	"blockdev-change-medium":                 hintMedia,
	"blockdev-open-tray":                     hintMedia,
	"blockdev-close-tray":                    hintMedia,
	"blockdev-insert-medium":                 hintMedia,
	"blockdev-remove-medium":                 hintMedia,
	"x-blockdev-insert-medium":               hintMedia,
	"x-blockdev-remove-medium":               hintMedia,
	"block-commit":                           hintBlockJob,
	"block-stream":                           hintBlockJob,
	"drive-mirror":                           hintBlockJob,
	"blockdev-mirror":                        hintBlockJob,
	"drive-backup":                           "virsh backup-begin",
	"blockdev-backup":                        "virsh backup-begin",
	"block-dirty-bitmap-add":                 "virsh checkpoint-create",
	"block-dirty-bitmap-remove":              "virsh checkpoint-delete",
	"block-dirty-bitmap-merge":               "virsh checkpoint-create / checkpoint-delete",
	"blockdev-snapshot":                      hintSnapshot,
	"blockdev-snapshot-sync":                 hintSnapshot,
	"blockdev-snapshot-internal-sync":        hintSnapshot,
	"blockdev-snapshot-delete-internal-sync": hintSnapshot,
	"snapshot-save":                          hintSnapshot,
	"snapshot-load":                          hintSnapshot,
	"snapshot-delete":                        hintSnapshot,
	"transaction":                            hintSnapshot + " (or backup-begin)",
	"nbd-server-start":                       "virsh backup-begin (pull mode) or virsh migrate --copy-storage-all",
	"nbd-server-add":                         "virsh backup-begin (pull mode) or virsh migrate --copy-storage-all",
	"nbd-server-remove":                      "virsh backup-begin (pull mode) or virsh migrate --copy-storage-all",
	"nbd-server-stop":                        "virsh backup-begin (pull mode) or virsh migrate --copy-storage-all",
	"block-export-add":                       "virsh backup-begin (pull mode)",
	"block-export-del":                       "virsh backup-begin (pull mode)",
	// network
	"netdev_add": hintNet,
	"netdev_del": hintNet,
	"set_link":   "virsh domif-setlink",
	// character devices
	"chardev-add":    hintChardev,
	"chardev-remove": hintChardev,
	"chardev-change": hintChardev,
	// objects: memory backends, iothreads, secrets, TLS credentials
	"object-add": hintObject,
	"object-del": hintObject,
	// memory and vCPUs
	"cpu-add":           hintVCPU,
	"dump-guest-memory": "virsh dump --memory-only",
	// graphics
	"set_password":        hintGraphics,
	"expire_password":     hintGraphics,
	"change-vnc-password": hintGraphics,
	"client_migrate_info": hintMigrate,
	"display-reload":      "virsh update-device with a <graphics> element",
	// descriptors
	"getfd":     hintFD,
	"closefd":   hintFD,
	"add-fd":    hintFD,
	"remove-fd": hintFD,
	// actions on guest events
	"set-action":          "the domain's <on_poweroff>, <on_reboot>, <on_crash> elements (virsh edit)",
	"watchdog-set-action": "the <watchdog action=…> element (virsh update-device)",
	// opaque: an HMP line can do any of the above
	"human-monitor-command": "the QMP command itself, or `virsh qemu-monitor-command --hmp` (only `info …` lines pass here)",
}

var libvirtTrackedPrefixes = []struct{ prefix, hint string }{
	{"migrate", hintMigrate},     // migrate-incoming, migrate_cancel, migrate-set-parameters, …
	{"block-job-", hintBlockJob}, // block-job-cancel, -complete, -pause, -resume, -set-speed
	{"job-", hintBlockJob},       // job-cancel, job-complete, job-dismiss, job-finalize
	{"x-colo-", hintMigrate},
}

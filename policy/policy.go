package policy

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Class says how much a QMP command can change a guest.
type Class int

const (
	// ReadOnly commands only report: they change nothing in the guest
	// or in QEMU, and are never journaled or confirmed.
	ReadOnly Class = iota
	// Changing commands change the guest or QEMU in a way that can be
	// undone or does no harm by itself (stop, cont, device_add, qom-set,
	// blockdev-add, …). They are journaled. Every command not known to be
	// read-only is Changing, unless it is Destructive.
	Changing
	// Destructive commands end or reset the guest, remove hardware or
	// data, or abort work (quit, system_reset, device_del, blockdev-del,
	// migrate, …). They are journaled and confirmed by interactive front
	// ends.
	Destructive
)

func (c Class) String() string {
	switch c {
	case ReadOnly:
		return "read-only"
	case Changing:
		return "changing"
	case Destructive:
		return "destructive"
	}
	return "unknown"
}

// MarshalText makes a Class read "read-only", "changing" or "destructive"
// in JSON.
func (c Class) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// readOnly are read-only commands whose names do not start with "query-"
// or "x-query-".
var readOnly = map[string]bool{
	"qmp_capabilities":          true, // connection-level negotiation
	"qom-get":                   true,
	"qom-list":                  true,
	"qom-list-get":              true,
	"qom-list-types":            true,
	"qom-list-properties":       true,
	"device-list-properties":    true,
	"trace-event-get-state":     true,
	"x-debug-query-block-graph": true,
}

// destructive commands end or reset the guest, take hardware or data away,
// or abort work in flight.
var destructive = map[string]bool{
	"quit":                                   true,
	"system_reset":                           true,
	"system_powerdown":                       true,
	"inject-nmi":                             true,
	"device_del":                             true,
	"blockdev-del":                           true,
	"x-blockdev-del":                         true,
	"blockdev-remove-medium":                 true,
	"blockdev-change-medium":                 true,
	"eject":                                  true,
	"blockdev-create":                        true, // formats an image
	"block_resize":                           true, // may shrink
	"block-job-cancel":                       true,
	"job-cancel":                             true,
	"migrate":                                true, // the source guest stops at the end
	"migrate-incoming":                       true,
	"migrate-recover":                        true,
	"migrate-pause":                          true,
	"object-del":                             true,
	"netdev_del":                             true,
	"chardev-remove":                         true,
	"block-export-del":                       true,
	"nbd-server-stop":                        true,
	"nbd-server-remove":                      true,
	"snapshot-load":                          true, // replaces the running state
	"snapshot-delete":                        true,
	"blockdev-snapshot-delete-internal-sync": true,
	"block-dirty-bitmap-remove":              true,
	"block-dirty-bitmap-clear":               true,
	"yank":                                   true, // breaks connections
	"cpu-del":                                true,
	// They write a file on the host, as QEMU's user, replacing what was
	// there: with QEMU run as root, any file.
	"screendump":        true,
	"memsave":           true,
	"pmemsave":          true,
	"dump-guest-memory": true,
	"drive-backup":      true, // creates its target unless mode=existing
	"drive-mirror":      true,
	// Not listed, so Changing: ringbuf-read (reading consumes the
	// buffer, so it is not read-only), stop, cont, migrate_cancel, …
	"drive_del": true,
}

// hmpReadOnly are human-monitor commands that only report.
var hmpReadOnly = map[string]bool{
	"info": true, "help": true, "?": true,
	"x": true, "xp": true, "print": true, "p": true, // memory and expression display
}

// hmpDestructive are human-monitor commands that do what a Destructive QMP
// command does.
var hmpDestructive = map[string]bool{
	"q": true, "quit": true, "system_reset": true, "system_powerdown": true,
	"nmi": true, "device_del": true, "drive_del": true, "netdev_del": true,
	"object_del": true, "chardev-remove": true, "migrate": true,
	"migrate_incoming": true, "migrate_recover": true, "migrate_pause": true,
	"loadvm": true, "delvm": true, "eject": true, "change": true,
	"block_resize": true, "block_job_cancel": true, "commit": true,
	"cpu-del": true, "yank": true,
	"block_export_del": true, "nbd_server_stop": true,
	"screendump": true, "memsave": true, "pmemsave": true,
	"dump-guest-memory": true, "drive_backup": true, "drive_mirror": true,
}

// Classify says how much command (with its JSON arguments, which may be
// nil) can change a guest. The rule:
//
//   - ReadOnly: query-* and x-query-* commands; qom-get, qom-list,
//     qom-list-get, qom-list-types, qom-list-properties,
//     device-list-properties, trace-event-get-state,
//     x-debug-query-block-graph, qmp_capabilities; human-monitor-command
//     whose command line is "info …", "help", "x", "xp" or "print".
//   - Destructive: commands that end or reset the guest (quit,
//     system_reset, system_powerdown, inject-nmi), remove hardware or
//     back-ends (device_del, cpu-del, blockdev-del, object-del, netdev_del,
//     chardev-remove, block-export-del, nbd-server-stop/-remove), take or
//     replace media and data (eject, blockdev-remove-medium,
//     blockdev-change-medium, blockdev-create, block_resize,
//     snapshot-load, snapshot-delete, block-dirty-bitmap-remove/-clear),
//     abort jobs (block-job-cancel, job-cancel),
//     migrate (migrate, migrate-incoming, -recover, -pause), break
//     connections (yank); the same for human-monitor-command's
//     equivalents (q, quit, system_reset, device_del, drive_del, loadvm,
//     delvm, nmi, …); a transaction containing any destructive action;
//     send-key and HMP sendkey of ctrl-alt-delete or sysrq, which reboot
//     or crash most guests; commands that write a file on the host as
//     QEMU's user (screendump, memsave, pmemsave, dump-guest-memory,
//     drive-backup, drive-mirror, and their HMP forms).
//   - Changing: everything else, including every command this package
//     does not know: an unknown command is never assumed read-only.
//
// Names are matched exactly, as QMP does. Classify is pure.
func Classify(command string, args json.RawMessage) Class {
	switch {
	case command == "human-monitor-command":
		return classifyHMP(args)
	case command == "transaction":
		return classifyTransaction(args)
	case strings.HasPrefix(command, "query-"), strings.HasPrefix(command, "x-query-"):
		return ReadOnly
	case readOnly[command]:
		return ReadOnly
	case destructive[command]:
		return Destructive
	case command == "send-key":
		return classifySendKey(args)
	}
	return Changing
}

// classifySendKey: keys that reboot or crash most guests — ctrl-alt-delete,
// and sysrq, Linux's magic key — are destructive; other keys are changing.
func classifySendKey(args json.RawMessage) Class {
	var a struct {
		Keys []struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		} `json:"keys"`
	}
	if len(args) == 0 || json.Unmarshal(args, &a) != nil {
		return Changing
	}
	var names []string
	for _, k := range a.Keys {
		switch k.Type {
		case "qcode":
			var name string
			if json.Unmarshal(k.Data, &name) == nil {
				names = append(names, name)
			}
		case "number":
			var n json.Number
			if json.Unmarshal(k.Data, &n) == nil {
				names = append(names, n.String())
			}
		}
	}
	return keyCombo(names)
}

// scancodes are the PC scancodes (as send-key and HMP sendkey take them,
// decimal or 0x hex) of the keys that matter to keyCombo.
var scancodes = map[int64]string{
	0x1d: "ctrl", 0x9d: "ctrl_r", 0x38: "alt", 0xb8: "alt_r",
	0x53: "kp_decimal", 0xd3: "delete", 0x54: "sysrq", 0xb7: "print",
}

// keyCombo classifies the keys of one send-key or HMP sendkey.
func keyCombo(names []string) Class {
	var ctrl, alt, del, print bool
	for _, n := range names {
		n = strings.ToLower(n)
		if code, err := strconv.ParseInt(n, 0, 64); err == nil {
			n = scancodes[code]
		}
		switch n {
		case "ctrl", "ctrl_r":
			ctrl = true
		case "alt", "alt_r":
			alt = true
		case "delete", "kp_decimal":
			del = true
		case "print":
			print = true
		case "sysrq":
			return Destructive
		}
	}
	// ctrl-alt-delete reboots; alt-print is SysRq on a PC keyboard.
	if (ctrl && alt && del) || (alt && print) {
		return Destructive
	}
	return Changing
}

// IsReadOnly is Classify(command, args) == ReadOnly.
func IsReadOnly(command string, args json.RawMessage) bool {
	return Classify(command, args) == ReadOnly
}

func classifyHMP(args json.RawMessage) Class {
	var a struct {
		CommandLine string `json:"command-line"`
	}
	if len(args) == 0 || json.Unmarshal(args, &a) != nil {
		return Changing
	}
	// QEMU splits an HMP line on any whitespace, tabs included.
	fields := strings.Fields(a.CommandLine)
	word := ""
	if len(fields) > 0 {
		word = fields[0]
	}
	// HMP accepts "x/10x addr": the format follows a slash.
	word, _, _ = strings.Cut(word, "/")
	switch {
	case word == "":
		return Changing
	case hmpReadOnly[word]:
		return ReadOnly
	case hmpDestructive[word]:
		return Destructive
	case word == "sendkey":
		if len(fields) < 2 {
			return Changing
		}
		return keyCombo(strings.Split(fields[1], "-"))
	}
	return Changing
}

func classifyTransaction(args json.RawMessage) Class {
	var a struct {
		Actions []struct {
			Type string `json:"type"`
		} `json:"actions"`
	}
	if len(args) == 0 || json.Unmarshal(args, &a) != nil {
		return Changing
	}
	for _, act := range a.Actions {
		// Action types are named like the commands they stand for.
		if Classify(act.Type, nil) == Destructive || Classify(strings.ReplaceAll(act.Type, "_", "-"), nil) == Destructive {
			return Destructive
		}
	}
	return Changing
}

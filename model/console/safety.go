package console

import (
	"encoding/json"
	"strings"
)

// Class is how much a command can change a guest.
type Class int

const (
	// ReadOnly commands only read state: they run at once.
	ReadOnly Class = iota + 1
	// Changing commands change state: they run at once (the monitor the
	// console is given records them), and are refused in read-only mode.
	Changing
	// Destructive commands lose state or the guest (quit, system_reset,
	// device_del, job cancel, …): they run after the user types the
	// guest's name.
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

// Classifier says how much command (with its JSON arguments, nil when
// none) can change a guest.
type Classifier func(command string, args json.RawMessage) Class

var destructive = map[string]bool{
	"quit": true, "system_reset": true, "system_powerdown": true, "device_del": true,
	"blockdev-del": true, "netdev_del": true, "object-del": true, "chardev-remove": true,
	"job-cancel": true, "block-job-cancel": true, "job-dismiss": true, "job-finalize": true,
	"migrate": true, "migrate_cancel": true, "snapshot-delete": true, "snapshot-load": true,
	"drive-mirror": false, "eject": true, "blockdev-remove-medium": true, "x-blockdev-remove-medium": true,
	"inject-nmi": true, "closefd": true, "remove-fd": true, "memsave": false, "cpu-del": true,
}

var readOnly = map[string]bool{
	"qom-list": true, "qom-get": true, "qom-list-types": true, "qom-list-properties": true,
	"device-list-properties": true, "human-monitor-command": false,
}

// DefaultClassify is the classification used when no other is given:
// query-* and x-query-* commands, qom-list/qom-get and the like read;
// a short list of commands lose state (quit, system_reset, device_del,
// job cancel, …); everything else changes state. HMP lines are classed by
// their first word (info and help read).
func DefaultClassify(command string, args json.RawMessage) Class {
	if command == "human-monitor-command" {
		var a struct {
			Line string `json:"command-line"`
		}
		_ = json.Unmarshal(args, &a)
		return classifyHMP(a.Line)
	}
	switch {
	case strings.HasPrefix(command, "query-"), strings.HasPrefix(command, "x-query-"), readOnly[command]:
		return ReadOnly
	case destructive[command]:
		return Destructive
	}
	return Changing
}

func classifyHMP(line string) Class {
	word, _, _ := strings.Cut(strings.TrimSpace(line), " ")
	switch word {
	case "info", "help", "?", "":
		return ReadOnly
	case "quit", "q", "system_reset", "system_powerdown", "device_del", "drive_del", "netdev_del",
		"object_del", "chardev-remove", "block_job_cancel", "migrate", "migrate_cancel", "loadvm",
		"delvm", "eject", "nmi":
		return Destructive
	}
	return Changing
}

package discover

import (
	"strconv"
	"time"
)

// Owner says who started a guest, and so which route drives it.
type Owner string

const (
	OwnerProcess Owner = "process" // started by hand or by a script
	OwnerLibvirt Owner = "libvirt" // libvirtd holds its monitor: drive it through libvirt
	OwnerIncus   Owner = "incus"
	OwnerProxmox Owner = "proxmox"
)

// State is QEMU's run state (query-status: "running", "paused",
// "shutdown", "inmigrate", …) when the monitor answers, or one of the
// states below that say why it could not be asked.
type State string

const (
	StateRunning      State = "running"
	StatePaused       State = "paused"
	StateBusy         State = "busy"         // another client holds the only monitor
	StateUnresponsive State = "unresponsive" // the monitor did not answer in time (stopped or hung QEMU)
	StateNoMonitor    State = "no-monitor"   // no QMP monitor we can reach
	StateStopped      State = "stopped"      // the process is stopped (SIGSTOP): nothing can answer
	StateShutOff      State = "shut off"     // a libvirt domain that is defined but not running
	StateDenied       State = "denied"       // the monitor exists but this user may not reach it (another user's socket or descriptor)
	StateUnknown      State = "unknown"
)

// Endpoint is one way to reach a guest's monitor.
type Endpoint struct {
	// Network is "unix", "tcp" or "libvirt".
	Network string `json:"network"`
	// Address is a socket path, host:port, or a libvirt URI.
	Address string `json:"address"`
	// Pretty is set for -qmp-pretty monitors.
	Pretty bool `json:"pretty,omitempty"`
}

func (e Endpoint) String() string {
	if e.Network == "tcp" {
		return "tcp:" + e.Address
	}
	return e.Address
}

// Guest is one QEMU process as discovery sees it.
type Guest struct {
	Name  string `json:"name"`
	UUID  string `json:"uuid,omitempty"`
	PID   int    `json:"pid"`
	State State  `json:"state"`
	// Reason explains State in words when the monitor could not be asked
	// or QEMU gave one (query-status's "status" vs. running, a shutdown
	// reason, "monitor held by another client", …).
	Reason string `json:"reason,omitempty"`
	Owner  Owner  `json:"owner"`
	// Monitor is what a user reads: socket path, host:port or libvirt URI.
	Monitor string `json:"monitor"`
	// Monitors are every QMP endpoint found, the one probed first.
	Monitors []Endpoint `json:"monitors,omitempty"`
	// Domain is libvirt's domain name for libvirt guests.
	Domain string `json:"domain,omitempty"`
	// Taints are the taint flags libvirt set on a running domain
	// ("custom-monitor" once anything was sent through its monitor
	// passthrough, "high-privileges", …), from the libvirt API source.
	Taints []string `json:"taints,omitempty"`

	Binary  string `json:"binary,omitempty"`
	Version string `json:"version,omitempty"` // QEMU version, when known

	// From /proc.
	Started    time.Time `json:"started"`
	CPUPercent float64   `json:"cpu_percent"`
	// CPUTime is the user+system CPU time the process has used so far.
	CPUTime time.Duration `json:"cpu_time_ns"`
	RSS     uint64        `json:"rss_bytes"`
	VCPUs   int           `json:"vcpus"`
	Threads int           `json:"threads"`
	Cmdline []string      `json:"cmdline,omitempty"`
	// StartTicks is the process start time in clock ticks since boot
	// (/proc/PID/stat field 22): with PID it tells a reused pid apart.
	StartTicks uint64 `json:"-"`
}

// Key identifies the guest across scans: the pid and its start time, so
// a pid reused by a new process is a new guest. Libvirt domains that are
// not running are keyed by owner and name.
func (g Guest) Key() string {
	if g.PID == 0 {
		return string(g.Owner) + "/" + g.Name
	}
	return strconv.Itoa(g.PID) + "@" + strconv.FormatUint(g.StartTicks, 10)
}

// Uptime is how long the process has run, as of now.
func (g Guest) Uptime(now time.Time) time.Duration {
	if g.Started.IsZero() {
		return 0
	}
	return now.Sub(g.Started)
}

// ChangeKind says what happened to a guest between two scans.
type ChangeKind int

const (
	Added ChangeKind = iota + 1
	Updated
	Removed
)

func (k ChangeKind) String() string {
	switch k {
	case Added:
		return "added"
	case Updated:
		return "updated"
	case Removed:
		return "removed"
	}
	return "change(" + strconv.Itoa(int(k)) + ")"
}

// Change is one difference between two scans.
type Change struct {
	Kind  ChangeKind
	Guest Guest
}

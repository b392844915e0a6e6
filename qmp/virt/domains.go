package virt

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	libvirt "github.com/digitalocean/go-libvirt"
)

// DomainInfo is one libvirt domain as the route lists it.
type DomainInfo struct {
	Name string
	UUID string
	// ID is libvirt's domain id; -1 when the domain is not running.
	ID int
	// State is libvirt's state as virsh names it: "running", "paused",
	// "shut off", "in shutdown", "crashed", "pmsuspended", "idle",
	// "no state".
	State string
	// Reason is libvirt's reason for State ("booted", "user",
	// "destroyed", …), empty when libvirt gives none we know.
	Reason string
	// PID is the QEMU process id libvirt reports (its pid file), for
	// running domains of a daemon on this host; 0 otherwise.
	PID int
	// Taints are the taint flags libvirt set on the running domain
	// ("custom-monitor", "high-privileges", …); a message libvirt words
	// in a way this package does not know is kept as it came.
	Taints []string
}

// Running reports whether the domain has a QEMU process.
func (d DomainInfo) Running() bool { return d.ID >= 0 && d.State != "shut off" }

// Domains lists every domain libvirt knows, running or only defined. It
// fails with ErrUnreachable at once while libvirtd is away.
func (r *Route) Domains(ctx context.Context) ([]DomainInfo, error) {
	s, err := r.session(ctx)
	if err != nil {
		return nil, err
	}
	type listing struct {
		doms []libvirt.Domain
	}
	ls, err := call(ctx, s, func() (listing, error) {
		d, _, err := s.l.ConnectListAllDomains(1, libvirt.ConnectListDomainsActive|libvirt.ConnectListDomainsInactive)
		return listing{d}, err
	})
	if err != nil {
		return nil, fmt.Errorf("virt: listing domains on %s: %w", r.target.URI, s.mapErr(err, ""))
	}
	out := make([]DomainInfo, 0, len(ls.doms))
	for _, d := range ls.doms {
		info := DomainInfo{Name: d.Name, UUID: formatUUID(d.UUID), ID: int(d.ID)}
		type st struct{ state, reason int32 }
		got, err := call(ctx, s, func() (st, error) {
			a, b, err := s.l.DomainGetState(d, 0)
			return st{a, b}, err
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("virt: listing domains on %s: %w", r.target.URI, ctx.Err())
			}
			continue // undefined between the listing and now
		}
		info.State, info.Reason = stateName(got.state), reasonName(got.state, got.reason)
		if info.Running() {
			if r.target.Local() {
				info.PID = r.target.pid(d.Name, info.UUID)
			}
			if t, err := s.taints(ctx, d); err == nil {
				info.Taints = t
			}
		}
		out = append(out, info)
	}
	return out, nil
}

// Taints reads the taint flags libvirt holds for a running domain (see
// DomainInfo.Taints).
func (r *Route) Taints(ctx context.Context, name string) ([]string, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	s, err := r.session(ctx)
	if err != nil {
		return nil, err
	}
	d, err := s.lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	t, err := s.taints(ctx, d)
	if err != nil {
		return nil, s.mapErr(err, name)
	}
	return t, nil
}

// Taints reads the domain's taint flags; after the first command sent
// through a Monitor they include "custom-monitor".
func (m *Monitor) Taints(ctx context.Context) ([]string, error) {
	t, err := m.s.taints(ctx, m.dom)
	if err != nil {
		return nil, fmt.Errorf("virt: reading taints: %w", m.s.mapErr(err, m.name))
	}
	return t, nil
}

// domainMessageTainting is VIR_DOMAIN_MESSAGE_TAINTING.
const domainMessageTainting = 2

func (s *session) taints(ctx context.Context, d libvirt.Domain) ([]string, error) {
	msgs, err := call(ctx, s, func() ([]string, error) { return s.l.DomainGetMessages(d, domainMessageTainting) })
	if err != nil {
		return nil, err
	}
	return parseTaints(msgs), nil
}

// parseTaints turns virDomainGetMessages' "tainted: <text>" lines into
// taint flag names (the names libvirt writes in its status XML).
func parseTaints(msgs []string) []string {
	var out []string
	for _, m := range msgs {
		text, ok := strings.CutPrefix(m, "tainted: ")
		if !ok {
			continue
		}
		if flag, ok := taintFlags[text]; ok {
			out = append(out, flag)
		} else {
			out = append(out, text)
		}
	}
	return out
}

// taintFlags maps libvirt's taint messages to its taint flag names.
var taintFlags = map[string]string{
	"custom configuration parameters specified":         "custom-argv",
	"custom monitor control commands issued":            "custom-monitor",
	"running with undesirable elevated privileges":      "high-privileges",
	"network configuration using opaque shell scripts":  "shell-scripts",
	"potentially unsafe disk format probing":            "disk-probing",
	"managing externally launched configuration":        "external-launch",
	"potentially unsafe use of host CPU passthrough":    "host-cpu",
	"configuration potentially modified by hook script": "hook-script",
	"use of host cdrom passthrough":                     "cdrom-passthrough",
	"custom device tree blob used":                      "custom-dtb",
	"custom guest agent control commands issued":        "custom-ga-command",
	"hypervisor feature autodetection override":         "custom-hypervisor-feature",
	"use of deprecated configuration settings":          "deprecated-config",
	"custom device configuration":                       "custom-device",
}

func formatUUID(u libvirt.UUID) string {
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

var stateNames = [...]string{"no state", "running", "idle", "paused", "in shutdown", "shut off", "crashed", "pmsuspended"}

func stateName(s int32) string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "state " + strconv.Itoa(int(s))
}

// Reasons, indexed by VIR_DOMAIN_<STATE>_<REASON>, worded as virsh does.
var (
	runningReasons = []string{"unknown", "booted", "migrated", "restored", "from snapshot", "unpaused", "migration canceled", "save canceled", "event wakeup", "crashed", "post-copy", "post-copy failed"}
	pausedReasons  = []string{"unknown", "user", "migrating", "saving", "dumping", "I/O error", "watchdog", "from snapshot", "shutting down", "creating snapshot", "crashed", "starting up", "post-copy", "post-copy failed", "api error"}
	shutoffReasons = []string{"unknown", "shutdown", "destroyed", "crashed", "migrated", "saved", "failed", "from snapshot", "daemon"}
)

func reasonName(state, reason int32) string {
	var t []string
	switch state {
	case 1:
		t = runningReasons
	case 3:
		t = pausedReasons
	case 5:
		t = shutoffReasons
	}
	if reason > 0 && int(reason) < len(t) {
		return t[reason]
	}
	return ""
}

// stoppedDetail words VIR_DOMAIN_EVENT_STOPPED_* details.
func stoppedDetail(d int32) string {
	switch d {
	case 0:
		return "shut down"
	case 1:
		return "destroyed"
	case 2:
		return "crashed"
	case 3:
		return "migrated"
	case 4:
		return "saved"
	case 5:
		return "failed"
	case 6:
		return "from snapshot"
	}
	return "detail " + strconv.Itoa(int(d))
}

// pid finds the QEMU process of a running domain of a local daemon: the
// pid file libvirt writes, checked against the process's -uuid argument;
// failing that (no permission to read libvirt's run directory), a process
// whose command line carries the domain's -uuid.
func (t Target) pid(name, uuid string) int {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return 0
	}
	if b, err := os.ReadFile(filepath.Join(t.runDir(), name+".pid")); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 && hasUUID(pid, uuid) {
			return pid
		}
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		if hasUUID(pid, uuid) {
			return pid
		}
	}
	return 0
}

// runDir is where a local daemon keeps its QEMU pid and status files.
func (t Target) runDir() string {
	if !t.Session() {
		return "/run/libvirt/qemu"
	}
	if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" {
		return filepath.Join(rt, "libvirt", "qemu", "run")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "libvirt", "qemu", "run")
}

func hasUUID(pid int, uuid string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || !bytes.Contains(b, []byte(uuid)) {
		return false
	}
	args := bytes.Split(b, []byte{0})
	for i := 0; i+1 < len(args); i++ {
		if string(args[i]) == "-uuid" && string(args[i+1]) == uuid {
			return true
		}
	}
	return false
}

package policy

import (
	"strings"
	"testing"
)

func TestLibvirtTracked(t *testing.T) {
	for _, tc := range []struct {
		command string
		tracked bool
		hint    string // a word the hint must contain
	}{
		{"device_add", true, "attach-device"},
		{"device_del", true, "detach-device"},
		{"blockdev-add", true, "attach-disk"},
		{"blockdev-del", true, "detach-disk"},
		{"block_resize", true, "blockresize"},
		{"netdev_add", true, "attach-interface"},
		{"netdev_del", true, "detach-interface"},
		{"object-add", true, "attach-device"},
		{"object-del", true, "iothreaddel"},
		{"chardev-add", true, "attach-device"},
		{"chardev-remove", true, "detach-device"},
		{"cpu-add", true, "setvcpus"},
		{"migrate", true, "virsh migrate"},
		{"migrate-incoming", true, "virsh migrate"},
		{"migrate_cancel", true, "domjobabort"},
		{"migrate-set-parameters", true, "migrate-setspeed"},
		{"block-job-cancel", true, "blockjob"},
		{"drive-mirror", true, "blockcopy"},
		{"eject", true, "change-media"},
		{"blockdev-change-medium", true, "change-media"},
		{"set_link", true, "domif-setlink"},
		{"block_set_io_throttle", true, "blkdeviotune"},
		{"getfd", true, "descriptor"},
		{"human-monitor-command", true, "--hmp"},
		{"transaction", true, "snapshot"},
		// libvirt follows these by QEMU's events, or they change nothing
		{"stop", false, ""},
		{"cont", false, ""},
		{"system_reset", false, ""},
		{"system_powerdown", false, ""},
		{"quit", false, ""},
		{"balloon", false, ""},
		{"query-status", false, ""},
		{"query-migrate", false, ""},
		{"query-block-jobs", false, ""},
		{"qom-get", false, ""},
		{"", false, ""},
	} {
		hint, tracked := LibvirtTracked(tc.command)
		if tracked != tc.tracked {
			t.Errorf("LibvirtTracked(%q) tracked = %v, want %v", tc.command, tracked, tc.tracked)
			continue
		}
		if tracked && !strings.Contains(hint, tc.hint) {
			t.Errorf("LibvirtTracked(%q) hint %q does not mention %q", tc.command, hint, tc.hint)
		}
		if !tracked && hint != "" {
			t.Errorf("LibvirtTracked(%q) = %q for an untracked command", tc.command, hint)
		}
	}
}

// Every tracked command changes something: none may be read-only.
func TestLibvirtTrackedAreNotReadOnly(t *testing.T) {
	for _, c := range LibvirtTrackedCommands() {
		if c == "human-monitor-command" {
			continue // its class depends on the line
		}
		if IsReadOnly(c, nil) {
			t.Errorf("%s is tracked by libvirt but classed read-only", c)
		}
		if hint, ok := LibvirtTracked(c); !ok || !strings.Contains(hint, "virsh") && !strings.Contains(hint, "libvirt") {
			t.Errorf("%s: hint %q names neither virsh nor libvirt", c, hint)
		}
	}
}

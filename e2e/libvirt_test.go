package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/qscope/qscope/qmp/virt/virttest"
)

// A libvirt guest in the UI: found through libvirt, opened through its
// QMP passthrough (the details say libvirt marks it custom-monitor), a
// read-only command runs in the console, and a change libvirt tracks is
// refused with the force offered; forcing it needs the guest's name and
// reaches QEMU.
func TestLibvirtGuestInTheUI(t *testing.T) {
	needBinary(t)
	virttest.Require(t)
	l := virttest.Conn(t)
	d := virttest.StartDomain(t, l, "e2e")
	tm := start(t, 140, 40, nil, "--connect", virttest.URI)
	tm.waitUntil(wait, "the domain's row, owned by libvirt", func(s string) bool {
		for _, l := range strings.Split(s, "\n") {
			if f := strings.Fields(l); len(f) > 1 && f[0] == d.Name && f[1] == "libvirt" {
				return true
			}
		}
		return false
	})
	tm.keys("/")
	tm.text(d.Name)
	tm.keys("Enter", "Enter")
	tm.waitFor(wait, "[Details]", "run state", "custom-monitor")

	tm.keys("c")
	tm.waitFor(wait, "commands")
	tm.text("query-status")
	tm.keys("Enter")
	tm.waitFor(wait, `"status": "running"`)

	tm.text("object-add qom-type=memory-backend-ram id=e2e0 size=1048576")
	tm.keys("Enter")
	tm.waitFor(wait, "libvirt tracks object-add", "confirm> type "+d.Name)
	tm.text("wrong-name")
	tm.keys("Enter")
	if s := tm.waitFor(wait, "exactly to confirm"); strings.Contains(s, "forced past libvirt") {
		t.Fatalf("forced with a wrong name:\n%s", s)
	}
	tm.keys("C-u")
	tm.text(d.Name)
	tm.keys("Enter")
	tm.waitFor(wait, "forced past libvirt")

	tm.keys("C-l")
	tm.text("qom-list path=/objects")
	tm.keys("Enter")
	tm.waitFor(wait, `"e2e0"`)
}

// libvirtd going away while a libvirt guest is open: keys keep working at
// once, the pane says the monitor closed, and once libvirtd is back the
// guest opens again.
func TestLibvirtdGoneWhileOpen(t *testing.T) {
	needBinary(t)
	virttest.RequireRestartable(t)
	l := virttest.Conn(t)
	d := virttest.StartDomain(t, l, "e2egone")
	tm := start(t, 80, 24, nil, "--connect", virttest.URI)
	tm.waitFor(wait, d.Name)
	tm.keys("/")
	tm.text(d.Name)
	tm.keys("Enter", "e")
	tm.waitFor(wait, "[Events]", "streaming", "connected to "+d.Name+" through libvirt")
	virttest.RestartLibvirtd(t, func() {
		s := tm.waitFor(wait, "monitor closed")
		if !strings.Contains(s, "[Events]") {
			t.Errorf("the events pane was left:\n%s", s)
		}
		start := time.Now()
		for _, step := range []struct{ key, want string }{{"d", "[Details]"}, {"e", "[Events]"}, {"d", "[Details]"}} {
			tm.keys(step.key)
			tm.waitFor(2*time.Second, step.want)
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Errorf("switching panes with libvirtd down took %v", el)
		}
		tm.keys("Escape")
		tm.waitFor(2*time.Second, "[Guests]")
	})
	tm.keys("Enter")
	tm.waitFor(wait, "[Details]", "run state", "connected to "+d.Name+" through libvirt")
}

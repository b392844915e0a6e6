package model

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/qmp"
	"github.com/qscope/qscope/ui"
)

// evilBits are what a guest's words carry and the screen must not: its
// own colours (distinct from any the theme uses), a screen clear, a
// window title, a C1 CSI and a bidi override.
var evilBits = []string{"\x1b[32;45;9m", "\x1b[2J", "\x1b]0;", "\u009b", "\u202e"}

const evil = "\x1b[32;45;9m" + "\x1b]0;T\x07" + "\x1b[2J" + "\u009b7m" + "\u202e"

func checkScreen(t *testing.T, what string, m *Model) {
	t.Helper()
	content := m.View().Content
	for _, bad := range evilBits {
		if strings.Contains(content, bad) {
			t.Errorf("%s carries %q:\n%q", what, bad, content)
		}
	}
}

// A guest's name, state, reason, section rows and events are drawn without
// the escapes they carry, in colour (the theme's own styling stays).
func TestGuestWordsDrawnSanitised(t *testing.T) {
	m := New(Config{Now: fixedNow})
	m.Update(sizeMsg(120, 40))
	g := testGuest("vm"+evil, 4242, discover.State("running"+evil))
	g.Reason = "reason" + evil
	g.Cmdline = []string{"qemu-system-x86_64", "-name", "vm" + evil}
	other := testGuest("plain", 4343, discover.StateRunning)
	m.Update(added(g, other))
	checkScreen(t, "the list", m)
	if content := m.View().Content; !strings.Contains(content, "\x1b[") || !strings.Contains(content, "vm\uFFFD") {
		t.Errorf("the list lost its own styling or the guest:\n%q", content)
	}

	press(m, "enter")
	m.Update(sessionOpenedMsg{sid: m.sess.id})
	seq := m.details.seq
	for i := range sections {
		m.Update(sectionMsg{sid: m.sess.id, seq: seq, idx: i, rows: []ui.Row{{Label: "name" + evil, Value: "value" + evil}, {Value: "line" + evil}}})
	}
	m.Update(sectionMsg{sid: m.sess.id, seq: seq, idx: 1, err: &qmp.Error{Class: "GenericError" + evil, Desc: "desc" + evil}})
	checkScreen(t, "the details", m)

	press(m, "e")
	data, _ := json.Marshal(map[string]string{"reason": "x" + evil})
	m.Update(eventsMsg{sid: m.sess.id, events: []qmp.Event{{Name: "STOP" + evil, Data: data}}})
	checkScreen(t, "the events", m)
	press(m, "enter")
	if m.overlay == overlayNone {
		t.Fatal("no event pop-up")
	}
	checkScreen(t, "the event pop-up", m)
	press(m, "esc")

	m.flash("failed: "+evil, true)
	checkScreen(t, "the status line", m)
}

package console

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/qmp"
)

// What the guest's QEMU says (its name, replies, HMP output, errors) is
// shown without the escapes, C1 and bidi controls it carries; a JSON
// reply keeps them as \u escapes.
func TestGuestWordsShownSanitised(t *testing.T) {
	bad := []string{"\x1b[32;45;9m", "\x1b[2J", "\x1b]0;", "\u009b", "\u202e", "\r"}
	check := func(what, v string) {
		t.Helper()
		for _, b := range bad {
			if strings.Contains(v, b) {
				t.Errorf("%s carries %q:\n%q", what, b, v)
			}
		}
	}
	rec := newRecorder()
	rec.reply["query-status"] = `{"running":true,"status":"` + "\u009b31m\u202erunning" + `"}`
	rec.reply["human-monitor-command"] = `"\u001b]0;T\u0007\u001b[2Jhello\r\nline \u001b[32;45;9mtwo\r\n"`
	rec.err["cont"] = &qmp.Error{Class: "GenericError", Desc: "no\x1b[2J\u009b1m\u202e"}
	m := testModel(t, rec, Config{Guest: discover.Guest{Name: "vm\x1b[32;45;9m\x1b]0;T\x07"}})
	m.SetSize(100, 30)
	for _, line := range []string{"query-status", "!info status", "cont"} {
		m, _ = typeText(m, line)
		var cmd tea.Cmd
		m, cmd = press(m, "enter")
		m, _ = run(t, m, cmd)
	}
	if len(m.Exchanges()) != 3 {
		t.Fatalf("%d exchanges, calls %v", len(m.Exchanges()), rec.calls)
	}
	v := m.View()
	check("the console", v)
	for _, want := range []string{`\u009b31m\u202erunning`, "\uFFFD\uFFFDhello", "line \uFFFDtwo", "no\uFFFD\uFFFD\uFFFD", "vm\uFFFD\uFFFD"} {
		if !strings.Contains(v, want) {
			t.Errorf("the console does not show %q:\n%s", want, v)
		}
	}
}

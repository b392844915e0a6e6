package ui

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/qscope/qscope/discover"
)

// hasRawControl reports what of s could act on a terminal: a C0
// control other than newline, DEL, a C1 control, a bidi control or a byte
// that is not UTF-8.
func hasRawControl(s string, newlines bool) bool {
	for i, r := range s {
		if r == '\n' && newlines {
			continue
		}
		if Unsafe(r) || r == '\uFFFD' && !strings.HasPrefix(s[i:], "\uFFFD") {
			return true
		}
	}
	return false
}

func TestSanitize(t *testing.T) {
	const P = "\uFFFD"
	for _, tc := range []struct{ in, want string }{
		// Kept as they are.
		{"", ""},
		{"vm1 running", "vm1 running"},
		{"grüße 日本語 ü€😀", "grüße 日本語 ü€😀"},
		{"a\uFFFDb", "a\uFFFDb"},
		{"a\tb", "a b"},
		// Escape sequences go whole.
		{"\x1b[31;1mEVIL\x1b[0m", P + "EVIL" + P},
		{"\x1b[2J\x1b[H", P + P},
		{"\x1b[?1049h", P},
		{"\x1b]0;PWNED-TITLE\x07\x1b[31;1mEVILSTATE", P + P + "EVILSTATE"},
		{"a\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\b", "a" + P + "link" + P + "b"},
		{"\x1b]0;T\u009cok", P + "ok"},
		{"\x1bPq#0;2;0;0;0\x1b\\x", P + "x"},
		{"\x1b]0;never ends", P},
		{"\x1b7\x1bc\x1b(B\x1bMx", P + P + P + P + "x"},
		{"end\x1b", "end" + P},
		// C1 controls: on their own, and introducing sequences.
		{"\u009b31mred", P + "red"},
		{"\u009d0;T\u0007after", P + "after"},
		{"a\u0085b\u0080c\u009fd", "a" + P + "b" + P + "c" + P},
		{"a\u0085b\u0080c", "a" + P + "b" + P + "c"},
		{"x\x9by", "x" + P + "y"}, // a raw byte, not UTF-8
		// Bidi controls.
		{"abc\u202Egpj.exe", "abc" + P + "gpj.exe"},
		{"\u202A\u202B\u202C\u202D\u2066\u2067\u2068\u2069\u200E\u200F\u061C", strings.Repeat(P, 11)},
		// Other C0 and DEL.
		{"a\x00b\x07c\x08d\x7fe\rf\ng", "a" + P + "b" + P + "c" + P + "d" + P + "e" + P + "f" + P + "g"},
	} {
		got := Sanitize(tc.in)
		if got != tc.want {
			t.Errorf("Sanitize(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if hasRawControl(got, false) || strings.ContainsRune(got, '\n') {
			t.Errorf("Sanitize(%q) = %q still holds a control", tc.in, got)
		}
	}
	if got := Sanitize("\x1b[31;9;2mred\x1b[0m"); got == "\x1b[31;9;2mred\x1b[0m" || strings.Contains(got, "\x1b") {
		t.Errorf("SGR kept: %q", got)
	}
	// Printable ASCII is not copied.
	s := "plain text"
	if got := Sanitize(s); got != s {
		t.Errorf("Sanitize(%q) = %q", s, got)
	}

	for in, want := range map[string]string{
		"line 1\r\nline 2\n":     "line 1\nline 2\n",
		"a\x1b[2Jb\nc\rd\u202ee": "a\uFFFDb\nc\uFFFDd\uFFFDe",
		"  indented\n\tx":        "  indented\n x",
	} {
		if got := SanitizeLines(in); got != want {
			t.Errorf("SanitizeLines(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSanitizeJSON(t *testing.T) {
	for _, v := range []any{
		map[string]any{"name": "vm\u009b31m\u202e", "n": 1.5, "list": []any{"ok", "grüße"}},
		"\x1b]0;T\x07\x1b[2J\u0085\u061c",
		"plain",
	} {
		raw, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		safe := SanitizeJSON(raw)
		if hasRawControl(string(safe), true) {
			t.Errorf("SanitizeJSON(%s) = %s holds a raw control", raw, safe)
		}
		var back any
		if err := json.Unmarshal(safe, &back); err != nil {
			t.Errorf("SanitizeJSON(%s) = %s is not JSON: %v", raw, safe, err)
			continue
		}
		want, _ := json.Marshal(v)
		got, _ := json.Marshal(back)
		if string(got) != string(want) {
			t.Errorf("SanitizeJSON changed the value: %s, want %s", got, want)
		}
	}
	if got := string(SanitizeJSON([]byte("\"a\u009bb\u202ec\"\n"))); got != `"a\u009bb\u202ec"`+"\n" {
		t.Errorf("SanitizeJSON = %q", got)
	}
	// Not JSON: still nothing raw.
	if got := string(SanitizeJSON([]byte("x\x1b[2J\xffy"))); got != `x\u001b[2J\ufffdy` {
		t.Errorf("SanitizeJSON of text = %q", got)
	}
}

// A guest's name, state and reason are drawn without the escapes they
// carry: a guest cannot colour (or hide) its own state.
func TestGuestStringsRenderSanitised(t *testing.T) {
	now := time.Unix(1700000000, 0)
	g := discover.Guest{
		Name:    "\x1b[32;45;9mevil\x1b[0m",
		State:   discover.State("\x1b[32;45;9mrunning\x1b[0m"),
		Reason:  "\x1b]0;TITLE\x07\x1b[2Jreason\u202e",
		Owner:   discover.OwnerProcess,
		PID:     4242,
		Monitor: "/run/\u009b2Jvm.qmp",
		Version: "10.0.0\x1b[8;7;2m",
		Cmdline: []string{"qemu-system-x86_64", "-name", "\x1b[32;45;9mevil"},
		Started: now.Add(-time.Minute),
	}
	for _, noColor := range []bool{true, false} {
		th := NewTheme(true, noColor)
		views := map[string]string{
			"GuestTable": GuestTable(th, Table{Guests: []discover.Guest{g}, Selected: -1, Now: now}, 140, 4),
			"Summary":    Summary(th, g, now, "", 80, 30),
			"Details": Details(th, DetailsData{Guest: g, Now: now, Conn: "held \x1b[1;3;9m", Sections: []Section{{
				Title: "status\x1b[5;6;9m", State: SectionLoaded, Err: "\x1b[41;9;2mwarn",
				Rows: []Row{{Label: "run\x1b[7;9;2m", Value: "\x1b[32;45;9mrunning"}, {Value: "\u009b31mfree"}},
			}}}, 80, 30),
			"Events":    Events(th, EventsData{Window: []Event{{Time: now, Name: "STOP\x1b[31;9;2m", Summary: `{"x":"` + "\u009b1m" + `"}`}}, Selected: -1, Shown: 1, Total: 1, Stream: "gone \x1b[2J"}, 80, 5),
			"StatusBar": StatusBar(th, "vm \x1b]0;T\x07x", ToneError, 80),
			"Modal":     Modal(th, "Quit \x1b[32;45;9mevil?", []string{"body"}, 60, 10),
		}
		for name, out := range views {
			for _, bad := range []string{"\x1b[32;45;9m", "\x1b[2J", "\x1b]0;", "\x1b[8;7;2m", "\x1b[1;3;9m", "\x1b[5;6;9m", "\x1b[41;9;2m", "\x1b[7;9;2m", "\x1b[31;9;2m", "\u009b", "\u202e"} {
				if strings.Contains(out, bad) {
					t.Errorf("%s (noColor %v) carries %q:\n%q", name, noColor, bad, out)
				}
			}
		}
		if out := views["GuestTable"]; !strings.Contains(out, "\uFFFDevil\uFFFD") || !strings.Contains(out, "\uFFFDrunning\uFFFD") {
			t.Errorf("GuestTable does not show the name and state with placeholders:\n%s", out)
		}
	}
}

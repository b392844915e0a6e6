package console

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/qscope/qscope/qmp/schema"
)

// The history's directory may be a symbolic link planted by the user
// whose XDG_STATE_HOME or HOME root inherited: it is refused, and the
// directory it points to is neither narrowed nor written in.
func TestHistorySymlinkedDirRefused(t *testing.T) {
	base := t.TempDir()
	target := filepath.Join(base, "target")
	os.Mkdir(target, 0o755)
	os.Chmod(target, 0o755)
	os.Mkdir(filepath.Join(base, "state"), 0o700)
	dir := filepath.Join(base, "state", "qscope")
	if err := os.Symlink(target, dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "history")
	if err := AppendHistory(path, HistoryEntry{Line: "query-status"}); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("append through a symbolic link: %v", err)
	}
	if _, err := LoadHistory(path); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("load through a symbolic link: %v", err)
	}
	if st, err := os.Stat(target); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("target mode changed: %v %v", st.Mode(), err)
	}
	if ents, _ := os.ReadDir(target); len(ents) != 0 {
		t.Errorf("written in the target: %v", ents)
	}
}

func TestHistoryOtherUsersDirRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a directory to another user")
	}
	dir := filepath.Join(t.TempDir(), "qscope")
	os.Mkdir(dir, 0o755)
	os.Chmod(dir, 0o755)
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "history")
	if err := AppendHistory(path, HistoryEntry{Line: "query-status"}); err == nil || !strings.Contains(err.Error(), dir+" belongs to uid 65534") {
		t.Errorf("append in another user's directory: %v", err)
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o755 {
		t.Errorf("mode changed to %v", st.Mode().Perm())
	}
	if _, err := os.Lstat(path); err == nil {
		t.Error("history created in another user's directory")
	}
}

func TestHistoryOtherUsersFileRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	path := filepath.Join(t.TempDir(), "qscope", "history")
	if err := AppendHistory(path, HistoryEntry{Line: "query-status"}); err != nil {
		t.Fatal(err)
	}
	planted := `{"time":"2020-01-01T00:00:00Z","line":"quit"}` + "\n"
	os.WriteFile(path, []byte(planted), 0o644)
	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := AppendHistory(path, HistoryEntry{Line: "cont"}); err == nil || !strings.Contains(err.Error(), "belongs to uid 65534") {
		t.Errorf("appended to another user's file: %v", err)
	}
	if e, err := LoadHistory(path); err == nil || len(e) != 0 {
		t.Errorf("read another user's file: %v %v", e, err)
	}
	if b, _ := os.ReadFile(path); string(b) != planted {
		t.Errorf("file changed: %q", b)
	}
}

// Lines that carry a secret (what journal.Redact redacts) are not
// written to the history file, however they were typed.
func TestHistoryKeepsNoSecrets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "qscope", "history")
	s, err := schema.Parse([]byte(strings.TrimSuffix(mini, "\n]") + `,
 {"name":"7","meta-type":"object","members":[{"name":"protocol","type":"str"},{"name":"password","type":"str"}]},
 {"name":"set_password","meta-type":"command","arg-type":"7","ret-type":"0"}
]`))
	if err != nil {
		t.Fatal(err)
	}
	m := New(Config{Monitor: newRecorder(), HistoryPath: path})
	m, _ = m.Update(schemaMsg{gen: m.gen, s: s})
	for _, line := range []string{
		"set_password protocol=vnc password=hunter2",
		`{"execute":"set_password","arguments":{"protocol":"vnc","password":"hunter2"}}`,
		"!set_password vnc hunter2",
		"!object_add secret,id=s0,data=hunter2",
		"query-status",
	} {
		m.input.SetValue(line)
		var cmd tea.Cmd
		m, cmd = press(m, "enter")
		m, _ = run(t, m, cmd)
		if st, isErr := m.Status(); isErr {
			t.Fatalf("%s: %s", line, st)
		}
	}
	for _, e := range []HistoryEntry{
		{Line: "object-add qom-type=secret id=s1 data=hunter2"},
		{Line: `change-vnc-password password="hunter2"`},
		{Line: `blockdev-add driver=iscsi auth.password=hunter2`},
		{Line: `object_add {"qom-type":"secret","id":"s2","data":"hunter2"}`, HMP: true},
	} {
		if err := AppendHistory(path, e); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "hunter2") {
		t.Errorf("the history file holds the secret:\n%s", b)
	}
	if !strings.Contains(string(b), `"line":"query-status"`) {
		t.Errorf("ordinary lines not kept:\n%s", b)
	}

	// Secrets already in a file (written before) are not read back.
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"line":"set_password protocol=vnc password=hunter2"}` + "\n")
	f.Close()
	entries, err := LoadHistory(path)
	if err != nil || len(entries) != 1 || entries[0].Line != "query-status" {
		t.Errorf("loaded %+v %v", entries, err)
	}
}

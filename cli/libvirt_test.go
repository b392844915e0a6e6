package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qscope/qscope/journal"
	"github.com/qscope/qscope/qmp/virt/virttest"
)

// qscope qmp reaches a libvirt guest by name through libvirt: reads pass,
// tracked changes are refused with exit status 3 and pass with --force,
// and what was sent is journaled with route "libvirt".
func TestQMPThroughLibvirt(t *testing.T) {
	virttest.Require(t)
	l := virttest.Conn(t)
	d := virttest.StartDomain(t, l, "cli")
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Main(ctx, append([]string{"--connect", virttest.URI}, args...), strings.NewReader(""), &out, &errb)
		return code, out.String(), errb.String()
	}

	code, out, stderr := run("qmp", d.Name, "query-status")
	var st struct{ Status string }
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.Status != "running" {
		t.Fatalf("query-status: exit %d, %q, %q", code, out, stderr)
	}
	code, _, stderr = run("qmp", d.Name, "object-add", "qom-type=memory-backend-ram", "id=cli0", "size=1048576")
	if code != exitCodeRefused || !strings.Contains(stderr, "virsh") || !strings.Contains(stderr, "object-add") || !strings.Contains(stderr, "--force") {
		t.Fatalf("object-add without --force: exit %d, %q; want %d naming virsh and --force", code, stderr, exitCodeRefused)
	}
	code, _, stderr = run("qmp", "--force", d.Name, "object-add", "qom-type=memory-backend-ram", "id=cli0", "size=1048576")
	if code != 0 {
		t.Fatalf("object-add --force: exit %d, %q", code, stderr)
	}
	code, out, _ = run("qmp", d.Name, "qom-list", "path=/objects")
	if code != 0 || !strings.Contains(out, `"cli0"`) {
		t.Errorf("the forced object is not in QEMU: exit %d, %s", code, out)
	}

	// A --connect to another daemon does not move a domain this host's
	// daemon runs: it goes where it runs, and stderr says so.
	var outb, errb bytes.Buffer
	code = Main(ctx, []string{"--connect", "qemu+tcp://127.0.0.1:1/system", "qmp", d.Name, "query-status"}, strings.NewReader(""), &outb, &errb)
	if code != 0 || !strings.Contains(errb.String(), "run by the libvirt daemon at "+virttest.URI) {
		t.Errorf("--connect elsewhere: exit %d, stderr %q", code, errb.String())
	}

	var recs []journal.Record
	for r, err := range journal.Read(ctx, filepath.Join(state, "qscope", "journal.jsonl"), journal.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if len(recs) != 1 || recs[0].Command != "object-add" || recs[0].Route != "libvirt" || recs[0].Guest.Domain != d.Name || recs[0].Error != nil || recs[0].Via != virttest.URI {
		t.Errorf("journal: %+v; want one object-add through libvirt", recs)
	}
	if fi, err := os.Stat(filepath.Join(state, "qscope", "journal.jsonl")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("journal file: %v, %v", fi, err)
	}
}

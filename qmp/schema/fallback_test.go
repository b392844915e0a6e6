package schema_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/qscope/qscope/qmp"
	"github.com/qscope/qscope/qmp/qmptest"
	"github.com/qscope/qscope/qmp/schema"
)

// TestQueryCommandsFallback injects a QEMU without introspection (every
// real build here has it): Load falls back to query-commands, names only,
// and caches nothing.
func TestQueryCommandsFallback(t *testing.T) {
	srv := &qmptest.Server{Handle: func(c *qmptest.Conn, r qmptest.Request) {
		switch r.Command() {
		case "query-version":
			c.Reply(r, map[string]any{"qemu": map[string]int{"major": 2, "minor": 4, "micro": 0}, "package": ""})
		case "query-qmp-schema":
			c.ReplyError(r, "CommandNotFound", "The command query-qmp-schema has not been found")
		case "query-commands":
			c.Reply(r, []map[string]string{{"name": "query-status"}, {"name": "cont"}, {"name": "stop"}})
		default:
			c.ReplyError(r, "CommandNotFound", "nope")
		}
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := qmp.NewClient(ctx, srv.Pipe(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dir := t.TempDir()
	s, err := (&schema.Loader{Dir: dir}).Load(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if !s.NamesOnly || s.Source != schema.FromCommandList || s.Version != "2.4.0" || len(s.CommandNames()) != 3 {
		t.Errorf("fallback schema: %+v", s)
	}
	if out, _ := exec.Command("ls", "-A", dir).Output(); len(out) != 0 {
		t.Errorf("names-only schema cached: %s", out)
	}
}

// TestNoUIImports: the schema package stays below the UI.
func TestNoUIImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "charm.land/") || strings.Contains(dep, "charmbracelet") || strings.Contains(dep, "/model") || strings.HasSuffix(dep, "/ui") {
			t.Errorf("qmp/schema depends on %s", dep)
		}
	}
}

package schema_test

import (
	"context"
	"os"
	"testing"

	"github.com/qscope/qscope/internal/qemutest"
	"github.com/qscope/qscope/qmp/schema"
)

// The cache is keyed by the binary too: a schema cached for one binary is
// not served to a process of another that reports the same version (any
// process can serve QMP and claim a version).
func TestCacheKeyedByBinary(t *testing.T) {
	b := qemutest.Binaries(t)[0]
	inst := qemutest.Start(t, b, qemutest.Options{Paused: true})
	other := qemutest.Start(t, b, qemutest.Options{Paused: true})
	g := startGuest(t, b)
	qemu, ok := schema.BinaryID(inst.PID)
	if !ok {
		t.Fatal("no binary id for a QEMU this test started")
	}
	if same, _ := schema.BinaryID(other.PID); same != qemu {
		t.Errorf("two processes of one binary: %q and %q", qemu, same)
	}
	self, ok := schema.BinaryID(os.Getpid())
	if !ok || self == qemu {
		t.Fatalf("this test binary's id %q (%v) equals QEMU's", self, ok)
	}
	if _, ok := schema.BinaryID(0); ok {
		t.Error("an id for pid 0")
	}

	dir := t.TempDir()
	ctx := context.Background()
	load := func(binary string) schema.Source {
		t.Helper()
		s, err := (&schema.Loader{Dir: dir, Binary: binary}).Load(ctx, g.client)
		if err != nil {
			t.Fatal(err)
		}
		return s.Source
	}
	if src := load(self); src != schema.FromLive {
		t.Fatalf("first load: %s", src)
	}
	if src := load(self); src != schema.FromCache {
		t.Errorf("same binary again: %s, want the cache", src)
	}
	if src := load(qemu); src != schema.FromLive {
		t.Errorf("another binary, same version: %s, want QEMU asked again", src)
	}
}

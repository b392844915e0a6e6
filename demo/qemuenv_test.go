package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/qscope/qscope/internal/qemutest"
	"github.com/qscope/qscope/qmp"
)

func TestQEMUEnv(t *testing.T) {
	t.Setenv("QEMU_MODULE_DIR", "")
	root := t.TempDir()
	data := filepath.Join(root, "usr/share/qemu")
	mods := filepath.Join(root, "usr/lib/x86_64-linux-gnu/qemu")
	for _, d := range []string{data, mods} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if env := qemuEnv(data); env != nil {
		t.Errorf("no modules beside %s, yet an environment: %v", data, env)
	}
	if err := os.WriteFile(filepath.Join(mods, "ui-opengl.so"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env := qemuEnv(data)
	if len(env) == 0 || env[len(env)-1] != "QEMU_MODULE_DIR="+mods {
		t.Errorf("qemuEnv(%s) ends %v, want QEMU_MODULE_DIR=%s last", data, env[max(0, len(env)-1):], mods)
	}
	if env := qemuEnv(""); env != nil {
		t.Errorf("the system build (no -L) got an environment: %v", env)
	}
	t.Setenv("QEMU_MODULE_DIR", "/elsewhere")
	if env := qemuEnv(data); env != nil {
		t.Errorf("a QEMU_MODULE_DIR already set was overridden: %v", env)
	}
}

// A demo guest of a QEMU unpacked beside Debian's survives qom-list-types
// (which loads every module) and has loaded only modules of its own build.
func TestDeviceTypesOfUnpackedQEMU(t *testing.T) {
	t.Setenv("QEMU_MODULE_DIR", "")
	for _, b := range binaries(t) {
		if b.DataDir == "" {
			continue
		}
		t.Run(b.String(), func(t *testing.T) {
			own := qemutest.ModuleDir(b.DataDir)
			if own == "" {
				t.Fatalf("no module folder beside %s", b.DataDir)
			}
			set := startSet(t, b, t.TempDir(), []Spec{{Name: "modules", Monitors: []Monitor{{Network: "unix"}}}})
			g := set.Guests()[0]
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c, err := qmp.Dial(ctx, g.Monitors[0].Network, g.Monitors[0].Address)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var types []struct{ Name string }
			if err := c.Execute(ctx, "qom-list-types", map[string]any{"implements": "device", "abstract": false}, &types); err != nil {
				t.Fatalf("qom-list-types: %v", err)
			}
			names := make([]string, len(types))
			for i, x := range types {
				names[i] = x.Name
			}
			// qxl comes from a module, virtio-net-pci is built in.
			if !slices.Contains(names, "qxl") || !slices.Contains(names, "virtio-net-pci") {
				t.Errorf("device types lack qxl or virtio-net-pci: %d types", len(names))
			}
			if err := c.Execute(ctx, "query-status", nil, nil); err != nil {
				t.Fatalf("query-status after qom-list-types: %v", err)
			}
			maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", g.PID))
			if err != nil {
				t.Fatal(err)
			}
			loaded := 0
			for _, line := range strings.Split(string(maps), "\n") {
				f := strings.Fields(line)
				if len(f) < 6 || !strings.HasSuffix(f[5], ".so") || filepath.Base(filepath.Dir(f[5])) != "qemu" {
					continue
				}
				loaded++
				if filepath.Dir(f[5]) != own {
					t.Errorf("module %s mapped, want only modules from %s", f[5], own)
				}
			}
			if loaded == 0 {
				t.Error("no module mapped after qom-list-types")
			}
		})
	}
}

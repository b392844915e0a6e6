package demo

import (
	"os"
	"os/exec"
	"testing"
)

// binary is one QEMU to test against.
type binary struct {
	Version string
	Path    string
	DataDir string
}

// binaries lists the QEMUs to test with; it fails when none is found and
// QSCOPE_REQUIRE_QEMU=1, and skips otherwise.
func binaries(t *testing.T) []binary {
	t.Helper()
	p, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		if os.Getenv("QSCOPE_REQUIRE_QEMU") == "1" {
			t.Fatalf("QSCOPE_REQUIRE_QEMU=1 but no QEMU: %v", err)
		}
		t.Skipf("no QEMU: %v", err)
	}
	return []binary{{Version: "path", Path: p}}
}

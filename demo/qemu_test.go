package demo

import (
	"testing"

	"github.com/qscope/qscope/internal/qemutest"
)

// binaries lists the QEMU builds to test with (Debian's 7.2 and 10.0); it
// skips the test when they are missing, or fails it when
// QSCOPE_REQUIRE_QEMU=1.
func binaries(t *testing.T) []qemutest.Binary {
	t.Helper()
	return qemutest.Binaries(t)
}

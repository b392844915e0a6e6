package qmp_test

import (
	"testing"

	"github.com/qscope/qscope/qmp"
)

// Outputs as QEMU 7.2 prints them (see TestQEMUHMPFailures for the live
// check).
func TestHMPFailure(t *testing.T) {
	for _, tc := range []struct {
		out, msg string
		failed   bool
	}{
		{"Error: Unable to wake up: guest is not in suspended state\r\n", "Unable to wake up: guest is not in suspended state", true},
		{"unknown command: 'nosuchcmd'\r\n", "unknown command: 'nosuchcmd'", true},
		{"sendkey: string expected\r\nTry \"help sendkey\" for more information\r\n", "sendkey: string expected", true},
		{"VM status: paused (prelaunch)\r\n", "", false},
		{"", "", false},
		{"0000000000000000: 0x00000000 0x00000000\r\n", "", false},
	} {
		msg, failed := qmp.HMPFailure(tc.out)
		if msg != tc.msg || failed != tc.failed {
			t.Errorf("HMPFailure(%q) = %q, %v; want %q, %v", tc.out, msg, failed, tc.msg, tc.failed)
		}
	}
}

package policy_test

import (
	"encoding/json"
	"fmt"

	"github.com/qscope/qscope/policy"
)

func ExampleClassify() {
	for _, c := range []struct{ cmd, args string }{
		{"query-status", ""},
		{"human-monitor-command", `{"command-line":"info block"}`},
		{"stop", ""},
		{"device_del", `{"id":"net0"}`},
		{"human-monitor-command", `{"command-line":"system_reset"}`},
	} {
		var args json.RawMessage
		if c.args != "" {
			args = json.RawMessage(c.args)
		}
		fmt.Println(c.cmd, c.args, "→", policy.Classify(c.cmd, args))
	}
	// Output:
	// query-status  → read-only
	// human-monitor-command {"command-line":"info block"} → read-only
	// stop  → changing
	// device_del {"id":"net0"} → destructive
	// human-monitor-command {"command-line":"system_reset"} → destructive
}

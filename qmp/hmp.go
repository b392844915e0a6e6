package qmp

import "strings"

// HMPFailure reports whether the output of human-monitor-command says the
// HMP command failed, and with what message. HMP prints its errors into
// the text of a reply that QMP counts as a success: "Error: …", "unknown
// command: …", or an argument error followed by `Try "help CMD" for more
// information`. A few commands print failures in words of their own
// ("Device 'x' not found" from drive_del); those are not recognised.
func HMPFailure(output string) (msg string, failed bool) {
	lines := strings.Split(strings.TrimRight(strings.ReplaceAll(output, "\r\n", "\n"), "\n"), "\n")
	first := strings.TrimSpace(lines[0])
	switch {
	case strings.HasPrefix(first, "Error: "):
		return strings.TrimPrefix(first, "Error: "), true
	case strings.HasPrefix(first, "unknown command: "):
		return first, true
	}
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, `Try "help `) {
			return first, true
		}
	}
	return "", false
}

// Package e2e runs qscope's terminal UI end to end: the real binary in a
// real terminal (tmux), against real QEMU guests. The tests build the
// binary once, start it in a tmux session on a private socket, send keys
// and read the screen back with capture-pane, polling with a bound for
// the text they expect.
//
// They need tmux and QEMU; they skip when either is missing, and fail
// instead when QSCOPE_REQUIRE_QEMU=1. The libvirt case needs libvirtd on
// qemu:///system (skipped without it, failed with QSCOPE_REQUIRE_LIBVIRT=1).
// HOME and the XDG directories point
// at temporary folders so the journal and history of the tests never
// touch the user's.
package e2e

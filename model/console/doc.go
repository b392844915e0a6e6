// Package console is the QMP console pane: a Bubble Tea v2 component that
// the root model embeds for the open guest.
//
// What is typed is completed from the running QEMU's own schema (package
// qmp/schema, loaded through its disk cache when the console opens):
// command names, then the command's arguments, enum values and booleans,
// and live values the console fetches as commands (device types for
// device_add's driver, block node names, device ids, chardev ids, job
// ids). Tab accepts the selected candidate, the arrows choose.
//
// Enter checks the line against the schema first: an unknown command, an
// unknown or missing argument, a wrong type or enum value is reported
// inline and nothing is sent. Commands are classified with
// policy.Classify: read-only ones run at once, changing ones run on the
// monitor the console was given (which journals them), destructive ones
// wait until the guest's name is typed, and read-only mode refuses all
// but read-only ones. A libvirt guest's monitor refuses changes libvirt
// tracks (virt.ErrTrackedByLibvirt); the console then offers to force the
// command past libvirt, again after the guest's name is typed.
//
// A "!" prefix, or ctrl+t, sends HMP command lines (human-monitor-command),
// completed from QEMU's own help text. Replies are shown as coloured JSON
// in a scrollable viewport with the round-trip time; ctrl+y and alt+y copy
// the last exchange as QMP JSON or as a qscope qmp command line with
// OSC 52, which reaches the local clipboard over SSH too.
//
// The history is per user and per kind of guest (its owner), in
// $XDG_STATE_HOME/qscope/history (0600), one JSON line per command with
// the QEMU version and the kind of guest it was sent to; a console offers
// its guest's kind only. Up and down walk it, ctrl+r searches it fuzzily.
//
// The model never does I/O: every QMP call, file read and write runs in a
// tea.Cmd whose message carries the monitor's generation and a sequence
// number, so results for a replaced monitor or an abandoned request are
// dropped.
package console

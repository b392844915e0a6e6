// Package model is qscope's terminal UI: the Bubble Tea root model and
// its panes (the guest list, a guest's details, its events, the console
// of package console), the layout, the focus and the pop-ups.
//
// # No I/O in Update
//
// Update and View never block. Discovery (a Source), QMP calls, event
// streams, /proc reads and signals all run as tea.Cmds that return typed
// messages. Every result about an open guest carries the session id it
// was made for and, for refreshable fetches, a sequence number, so a
// result that arrives after its guest was closed or refreshed is dropped.
// Discovery and events come in through commands that drain a channel (or
// a qmp.Subscription) and deliver a burst as one message, re-armed after
// each; the live refresh of vCPU figures is a tick loop carrying a
// generation number, re-armed only by the current generation.
//
// # One monitor per open guest
//
// A plain QEMU monitor serves one client at a time. Opening a guest dials
// its monitor once (Config.Connect, with Config.CallTimeout) and that
// session is shared by the details, the events stream and the console;
// leaving the guest (esc) closes it. While it is held the status line says
// so. A dial that fails is explained (busy: another client holds it;
// stopped: the process is SIGSTOPped; unresponsive), and a monitor that
// goes away while open ("monitor closed: guest exited") leaves the panes
// usable.
//
// # Rendering
//
// View caches its frame and rebuilds it only after an Update that changed
// something, so idle messages cost nothing; Bubble Tea then writes only
// the cells that changed. Below 120 columns one pane shows at a time
// under a tab bar; from 120 columns the list stays on the left and the
// open guest (or a summary of the selected one) on the right.
package model

// Package keymap holds qscope's key bindings: one struct per context (the
// guest list, a guest's details and events, a one-line input, the
// confirmation modal, a pop-up, the console), each a help.KeyMap so the
// help view renders it.
//
// Defaults never use ctrl+a or ctrl+b (the screen and tmux prefixes) nor
// ctrl+d; ctrl+c always quits, q quits when nothing is being typed.
// Guest actions (pause/resume, reset, power down, quit, kill) are
// disabled as a whole when the UI runs read-only.
package keymap

// Package journal keeps a per-user record of every command qscope sent
// that was not read-only (policy.Classify), from the command line, the
// terminal UI or its console.
//
// The journal is one file of JSON lines, $XDG_STATE_HOME/qscope/
// journal.jsonl (~/.local/state/qscope/journal.jsonl by default), in a
// 0700 directory, mode 0600. Each [Record] is written with a single
// write(2) on a file opened with O_APPEND, under an exclusive flock, and
// fsynced before Append returns, so concurrent writers (goroutines and
// processes) never interleave. A writer killed mid-write can leave at
// most one unacknowledged partial record at the end (the kernel may cut a
// large write short for SIGKILL): readers skip such a torn final line
// ([Read]), and the next Append removes it before writing.
//
// [Wrap] makes any qmp.Monitor journal itself, so every front end goes
// through the same code: read-only commands pass straight through, every
// other command is recorded after QEMU answered, with its result or its
// error class and description. Secrets in arguments (passwords, secret
// objects' data) are redacted.
package journal

// Package journal keeps a per-user record of every command qscope sent
// that was not read-only (policy.Classify), from the command line, the
// terminal UI or its console.
//
// The journal is one file of JSON lines, $XDG_STATE_HOME/qscope/
// journal.jsonl (~/.local/state/qscope/journal.jsonl by default), in a
// 0700 directory, mode 0600. Each [Record] is written with a single
// write(2) on a file opened with O_APPEND, under an exclusive flock, and
// fsynced before Append returns: concurrent writers (goroutines and
// processes) never interleave, and a writer killed at any moment leaves
// no torn line. [Read] skips a torn final line should one ever exist.
//
// [Wrap] makes any qmp.Monitor journal itself, so every front end goes
// through the same code: read-only commands pass straight through, every
// other command is recorded after QEMU answered, with its result or its
// error class and description. Secrets in arguments (passwords, secret
// objects' data) are redacted.
package journal

// Package policy classes QMP commands by how much they can change a guest:
// [ReadOnly] (queries), [Changing] (everything else) and [Destructive]
// (commands that end or reset the guest, remove hardware or data, abort
// jobs, migrate). Front ends use it to decide what --readonly refuses,
// what is journaled and what is confirmed. [Classify] is pure; an unknown
// command is never read-only.
package policy

// Package schema models the QMP schema of a running QEMU, as its own
// introspection (query-qmp-schema) describes it, and uses it to complete
// and check commands before they are sent.
//
// [Load] asks QEMU for its version, and returns the schema cached on disk
// for that version and package string, or reads query-qmp-schema, builds
// the model and caches the raw introspection (per user, in
// $XDG_CACHE_HOME/qscope/schema, directory 0700, files 0600, validated by
// checksum on load and rebuilt when corrupt). On a QEMU without
// introspection it falls back to query-commands: names only.
//
// Introspection masks type names as numbers; the model never shows them.
// [Type.String] renders types for a reader: str, int, number, bool, null,
// any, enum(a|b|c), [T], A|B for alternates, objects by where they are
// used ("query-status result") or by their members ({a, b?}).
//
// [Schema.Check] reads a console line, `command key=value …` (dotted keys
// for nested objects, JSON for arrays and objects, values typed by the
// schema) or a raw {"execute": …} message, and returns the [Request] to
// send or an [*InputError] naming the problem: unknown command, unknown
// or missing argument, wrong type, a value outside an enum. Unions are
// entered by their discriminator, alternates chosen by the form of the
// value. device_add is the one command whose arguments go beyond its
// schema (driver, bus and id are declared; device properties are not):
// other arguments pass, typed by device-list-properties when the caller
// supplies them in [Live], or inferred from the text.
//
// [Schema.Complete] is the completion engine: pure, given the line, the
// cursor and the live values the caller fetched ([Live]), it returns
// fuzzy-ranked candidates with the matched offsets for highlighting.
// [ParseHMPHelp] and [CompleteHMP] do the same for HMP command names,
// from the text of QEMU's own help command.
//
// The package imports nothing from the terminal UI.
package schema

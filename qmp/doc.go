// Package qmp is a client for the QEMU Machine Protocol (QMP).
//
// A [Client] holds one connection to one QEMU monitor. It reads the
// greeting, negotiates capabilities (enabling out-of-band execution when
// QEMU offers it) and then multiplexes: any number of goroutines may call
// [Client.Execute] at once and keep several commands in flight. Every
// request carries an id that no other waiting call holds (ids are used
// again once answered, so they stay short); replies are matched to
// callers by that id, never by order. A waiting caller reads the socket
// itself, handing on what else it reads, so a lone caller needs no
// goroutine hand-off; while none waits, a pump goroutine reads events.
// Events are fanned out to [Subscription]s that never block a reader.
//
// Every call that can block takes a [context.Context]. The context bounds
// the wait, never the connection: a call abandoned because its context
// ended leaves the client usable, and the late reply is discarded. A
// monitor that accepts the connection but never greets (QEMU serves one
// client per monitor; a second one waits in the listen backlog, and a
// stopped QEMU greets nobody) makes [Dial] fail with [ErrBusy] when the
// context ends.
//
// QEMU's error replies are returned as *[Error] (use errors.As to read the
// class). When the connection is lost every pending call fails at once
// with an error wrapping [ErrDisconnected] and the cause; after
// [Client.Close], calls fail with [ErrClosed].
//
// Messages have no size limit and are decoded as a stream, so monitors
// started with -qmp-pretty work, and replies such as query-qmp-schema
// (about 200 KB) are read like any other.
//
// The package never logs on its own; pass [WithTranscript] or [WithLogger]
// to see the traffic.
//
// [Monitor] is the small interface that other transports (the libvirt
// route, for example) also satisfy, so code above the engine does not care
// how it reaches QEMU.
package qmp

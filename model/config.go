package model

import (
	"context"
	"time"

	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/qmp"
)

// Batch is one scan's worth of discovery: the changes since the previous
// scan, and the error of a scan that failed in part (Err set, Changes
// possibly empty).
type Batch struct {
	Changes []discover.Change
	Err     error
}

// Source feeds discovery into the UI. Watch returns a channel of batches
// (the first is the initial scan, as Added changes); the channel is
// closed when ctx ends. Watch itself must not block for long: the
// scanning happens behind the channel.
type Source interface {
	Watch(ctx context.Context) (<-chan Batch, error)
}

// SourceFunc adapts a function to Source.
type SourceFunc func(ctx context.Context) (<-chan Batch, error)

// Watch calls f.
func (f SourceFunc) Watch(ctx context.Context) (<-chan Batch, error) { return f(ctx) }

// Config is what the model needs from the outside world. Every function
// in it is called only from tea.Cmds, never from Update or View.
type Config struct {
	// Context bounds every command the model starts (the program's
	// context); nil means context.Background().
	Context context.Context
	// Source is discovery. Required.
	Source Source
	// Connect opens a guest's monitor: directly for plain QEMU processes,
	// through libvirt for libvirt's guests. It is given a context with the
	// dial timeout. Required to open guests.
	Connect func(ctx context.Context, g discover.Guest) (qmp.Monitor, error)
	// Kill ends a plain QEMU process with SIGKILL, for a QEMU whose monitor
	// cannot answer. Nil disables the kill action.
	Kill func(ctx context.Context, g discover.Guest) error
	// StartDemo starts demo guests when the host has none; nil hides the
	// offer. stop ends them.
	StartDemo func(ctx context.Context) (stop func(), err error)
	// NewConsole builds the console pane on an open monitor; nil means
	// the QMP console of package console.
	NewConsole ConsoleFactory
	// Force opens, for a libvirt guest, a monitor whose commands libvirt
	// tracks; the console offers it for commands libvirt must know
	// about. Nil means the console does not offer it.
	Force func(ctx context.Context, g discover.Guest) (qmp.Monitor, error)
	// ReadOnly hides and refuses every action that changes a guest.
	ReadOnly bool
	// Interval is how often live figures (vCPU threads' CPU%) refresh
	// while a guest is open; discovery has its own interval. Default 1s.
	Interval time.Duration
	// CallTimeout bounds the dial and each QMP call. Default 3s.
	CallTimeout time.Duration
	// NoColor turns colour off (NO_COLOR).
	NoColor bool
	// Now is the clock (tests fix it). Default time.Now.
	Now func() time.Time
	// ProcRoot is where /proc is mounted. Default "/proc".
	ProcRoot string
	// Notice is shown in the status line at start (a warning from the
	// command line, for one).
	Notice string
	// EventBuffer is how many events the events pane keeps per guest.
	// Default 10000.
	EventBuffer int
}

func (c *Config) defaults() {
	if c.Context == nil {
		c.Context = context.Background()
	}
	if c.Interval <= 0 {
		c.Interval = time.Second
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 3 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.ProcRoot == "" {
		c.ProcRoot = "/proc"
	}
	if c.EventBuffer <= 0 {
		c.EventBuffer = 10000
	}
}

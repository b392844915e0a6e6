// Package goqemu lets code written for github.com/digitalocean/go-qemu run
// on qscope's QMP engine: a [Monitor] wraps any qmp.Monitor (a *qmp.Client,
// the libvirt route) and serves go-qemu's qmp.Monitor interface, so
// go-qemu's qemu.Domain and raw helpers keep working while replies are
// matched by id, large replies are read whole, and no call waits forever.
package goqemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	gqmp "github.com/digitalocean/go-qemu/qmp"
	"github.com/qscope/qscope/qmp"
)

// DefaultTimeout bounds each Run when Monitor.Timeout is zero. go-qemu's
// interface has no context, so the adapter supplies the bound a stopped
// QEMU would otherwise never give.
const DefaultTimeout = 30 * time.Second

// Monitor adapts a qmp.Monitor to go-qemu's qmp.Monitor interface.
type Monitor struct {
	// Context bounds every call (nil means context.Background()); cancel
	// it to abort all calls and end event streams.
	Context context.Context
	// Timeout bounds each Run; zero means DefaultTimeout, negative means
	// none.
	Timeout time.Duration

	m    qmp.Monitor
	once sync.Once
}

var _ gqmp.Monitor = (*Monitor)(nil)

// New wraps m. The adapter owns m: Disconnect closes it.
func New(m qmp.Monitor) *Monitor { return &Monitor{m: m} }

func (a *Monitor) ctx() context.Context {
	if a.Context != nil {
		return a.Context
	}
	return context.Background()
}

// Connect reports whether the wrapped monitor is still connected: the
// engine connects when it is created.
func (a *Monitor) Connect() error {
	select {
	case <-a.m.Done():
		return a.m.Err()
	default:
		return nil
	}
}

// Disconnect closes the wrapped monitor.
func (a *Monitor) Disconnect() error {
	var err error
	a.once.Do(func() { err = a.m.Close() })
	return err
}

// Run executes a command given as go-qemu encodes it
// ({"execute": …, "arguments": …}) and returns the whole reply object
// ({"return": …}), as go-qemu's socket monitor does. QEMU's error replies
// come back as *qmp.Error, so the class is not lost.
func (a *Monitor) Run(command []byte) ([]byte, error) {
	var req struct {
		Execute   string          `json:"execute"`
		Arguments json.RawMessage `json:"arguments"`
		ID        json.RawMessage `json:"id"`
	}
	if err := json.Unmarshal(command, &req); err != nil {
		return nil, fmt.Errorf("goqemu: command is not a QMP request: %w", err)
	}
	if req.Execute == "" {
		return nil, errors.New(`goqemu: command has no "execute" member`)
	}
	ctx := a.ctx()
	t := a.Timeout
	if t == 0 {
		t = DefaultTimeout
	}
	if t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	var ret json.RawMessage
	var args any
	if len(req.Arguments) > 0 {
		args = req.Arguments
	}
	if err := a.m.Execute(ctx, req.Execute, args, &ret); err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(ret)+32)
	out = append(out, `{"return":`...)
	out = append(out, ret...)
	if len(req.ID) > 0 {
		out = append(out, `,"id":`...)
		out = append(out, req.ID...)
	}
	return append(out, '}'), nil
}

// Events streams every event until ctx (or the adapter's Context) ends or
// the monitor goes away; then the channel is closed. A reader that falls
// behind loses the oldest events (see qmp.Subscription), never stalls
// commands.
func (a *Monitor) Events(ctx context.Context) (<-chan gqmp.Event, error) {
	if err := a.Connect(); err != nil {
		return nil, err
	}
	sub := a.m.Subscribe()
	out := make(chan gqmp.Event)
	go func() {
		defer close(out)
		defer sub.Close()
		stop := context.AfterFunc(a.ctx(), sub.Close)
		defer stop()
		for {
			ev, err := sub.Next(ctx)
			if err != nil {
				return
			}
			ge := gqmp.Event{Event: ev.Name}
			ge.Timestamp.Seconds = ev.Timestamp.Seconds
			ge.Timestamp.Microseconds = ev.Timestamp.Microseconds
			if len(ev.Data) > 0 {
				json.Unmarshal(ev.Data, &ge.Data)
			}
			select {
			case out <- ge:
			case <-ctx.Done():
				return
			case <-a.ctx().Done():
				return
			}
		}
	}()
	return out, nil
}

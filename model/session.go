package model

import (
	"context"
	"errors"
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/qmp"
)

type sessionState int

const (
	sessDialing sessionState = iota
	sessOpen
	sessFailed // the dial failed
	sessClosed // the monitor went away while open
)

// session is the one monitor connection qscope holds for the open guest.
// A plain QEMU monitor serves a single client, so details, events and the
// console share it, and it is released (closed) as soon as the guest's
// views are left.
type session struct {
	id     uint64
	key    string
	guest  discover.Guest
	state  sessionState
	mon    qmp.Monitor
	sub    *qmp.Subscription
	ctx    context.Context
	cancel context.CancelFunc
	err    error
	// why is the sentence shown when the session is not open.
	why     string
	pending *pendingAction
	gone    bool // discovery no longer sees the guest
}

type pendingAction struct {
	act action
}

// open starts a session for g, closing any other first.
func (m *Model) open(g discover.Guest) tea.Cmd {
	var cmds []tea.Cmd
	if m.sess != nil {
		if m.sess.key == g.Key() && (m.sess.state == sessOpen || m.sess.state == sessDialing) {
			return nil
		}
		cmds = append(cmds, m.release())
	}
	m.nextSID++
	ctx, cancel := context.WithCancel(m.cfg.Context)
	s := &session{id: m.nextSID, key: g.Key(), guest: g, state: sessDialing, ctx: ctx, cancel: cancel}
	m.sess = s
	m.details.reset(s)
	m.events.reset(m.cfg.EventBuffer)
	m.console = nil
	cmds = append(cmds, dialCmd(ctx, s.id, g, m.cfg.Connect, m.cfg.CallTimeout))
	return tea.Batch(cmds...)
}

// release closes the session (in a command) and forgets it.
func (m *Model) release() tea.Cmd {
	s := m.sess
	if s == nil {
		return nil
	}
	m.sess = nil
	m.console = nil
	m.tickGen++ // stops the live refresh loop
	s.cancel()
	return closeCmd(s.mon, s.sub)
}

func dialCmd(ctx context.Context, sid uint64, g discover.Guest, connect func(context.Context, discover.Guest) (qmp.Monitor, error), timeout time.Duration) tea.Cmd {
	return func() tea.Msg {
		if connect == nil {
			return sessionOpenedMsg{sid: sid, err: errors.New("opening guests is not available in this build")}
		}
		start := time.Now()
		dctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		mon, err := connect(dctx, g)
		if err != nil {
			return sessionOpenedMsg{sid: sid, err: err, took: time.Since(start)}
		}
		// Subscribe at once so that no event is missed between the
		// dial and the first read of the stream.
		sub := mon.Subscribe()
		return sessionOpenedMsg{sid: sid, mon: mon, sub: sub, took: time.Since(start)}
	}
}

func closeCmd(mon qmp.Monitor, sub *qmp.Subscription) tea.Cmd {
	if mon == nil && sub == nil {
		return nil
	}
	return func() tea.Msg {
		if sub != nil {
			sub.Close()
		}
		if mon != nil {
			_ = mon.Close()
		}
		return nil
	}
}

// eventBatchWindow is how long the stream waits after the first event of
// a burst before delivering, so a burst becomes one message.
const eventBatchWindow = 15 * time.Millisecond

// streamCmd waits for the session's next events and delivers them as one
// batch; the model re-arms it after each batch. It ends with
// sessionEndedMsg when the monitor goes away.
func streamCmd(ctx context.Context, sid uint64, mon qmp.Monitor, sub *qmp.Subscription) tea.Cmd {
	return func() tea.Msg {
		select {
		case <-sub.Ready():
		case <-mon.Done():
		case <-ctx.Done():
			return nil
		}
		t := time.NewTimer(eventBatchWindow)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil
		}
		evs := sub.Drain()
		if len(evs) > 0 {
			return eventsMsg{sid: sid, events: evs, dropped: sub.Dropped()}
		}
		select {
		case <-mon.Done():
			err := mon.Err()
			if err == nil {
				err = sub.Err()
			}
			return sessionEndedMsg{sid: sid, err: err}
		default:
		}
		if err := sub.Err(); err != nil {
			return sessionEndedMsg{sid: sid, err: err}
		}
		return eventsMsg{sid: sid}
	}
}

// describeDialError turns a dial failure into the sentence the pane shows.
func describeDialError(g discover.Guest, err error) string {
	switch {
	case g.State == discover.StateStopped:
		return "stopped: the QEMU process is stopped (SIGSTOP), so its monitor cannot answer until it is continued"
	case errors.Is(err, qmp.ErrBusy):
		return "busy: another client holds this guest's only monitor, or QEMU is not answering"
	case errors.Is(err, context.DeadlineExceeded):
		return "unresponsive: the monitor did not answer in time"
	}
	return fmt.Sprintf("cannot open the monitor: %v", err)
}

// describeEnd turns the end of an open monitor into a sentence.
func describeEnd(s *session, err error) string {
	if s.gone {
		return "monitor closed: guest exited"
	}
	if err == nil || errors.Is(err, qmp.ErrClosed) {
		return "monitor closed"
	}
	return fmt.Sprintf("monitor closed: %v", err)
}

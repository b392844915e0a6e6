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

// action is something that changes a guest.
type action int

const (
	actPause action = iota + 1
	actResume
	actReset
	actPowerdown
	actQuit
	actKill
)

func (a action) String() string {
	switch a {
	case actPause:
		return "pause"
	case actResume:
		return "resume"
	case actReset:
		return "reset"
	case actPowerdown:
		return "power down"
	case actQuit:
		return "quit"
	case actKill:
		return "kill"
	}
	return "action"
}

// command is the QMP command the action sends ("" for kill).
func (a action) command() string {
	switch a {
	case actPause:
		return "stop"
	case actResume:
		return "cont"
	case actReset:
		return "system_reset"
	case actPowerdown:
		return "system_powerdown"
	case actQuit:
		return "quit"
	}
	return ""
}

// destructive actions are confirmed by typing the guest's name.
func (a action) destructive() bool { return a != actPause && a != actResume }

func (a action) explain(g discover.Guest) []string {
	switch a {
	case actPause:
		return []string{"Pause the guest's vCPUs (QMP stop). It can be resumed with p."}
	case actResume:
		return []string{"Resume the guest's vCPUs (QMP cont)."}
	case actReset:
		return []string{"Reset the guest like a hardware reset button (QMP system_reset).", "Unsaved data in the guest is lost."}
	case actPowerdown:
		return []string{"Send an ACPI power button press (QMP system_powerdown).", "The guest OS decides whether to shut down."}
	case actQuit:
		if g.Owner == discover.OwnerLibvirt {
			return []string{"Make QEMU exit at once (QMP quit, through libvirt).", "The guest is not shut down cleanly."}
		}
		return []string{"Make QEMU exit at once (QMP quit).", "The guest is not shut down cleanly."}
	case actKill:
		return []string{fmt.Sprintf("Send SIGKILL to QEMU process %d.", g.PID), "For a QEMU whose monitor cannot answer; prefer Q (quit).", "The guest is not shut down cleanly."}
	}
	return nil
}

// confirmState is the confirmation modal.
type confirmState struct {
	act   action
	guest discover.Guest
	input string
	err   string
}

func (c *confirmState) needsName() bool { return c.act.destructive() }

// askAction opens the confirmation modal for act on g, or refuses it.
func (m *Model) askAction(act action, g discover.Guest) {
	if m.cfg.ReadOnly {
		m.flash("read-only: "+act.String()+" refused", true)
		return
	}
	if act == actPause && isPaused(g.State) {
		act = actResume
	}
	if why := unreachable(g); act != actKill && why != "" && !(m.sess != nil && m.sess.key == g.Key() && m.sess.state == sessOpen) {
		m.flash(act.String()+" "+g.Name+": "+why, true)
		return
	}
	if act == actKill {
		if g.Owner == discover.OwnerLibvirt {
			m.flash("kill: not for libvirt's guests; Q quits it through libvirt", true)
			return
		}
		if m.cfg.Kill == nil || g.PID <= 0 {
			m.flash("kill is not available for this guest", true)
			return
		}
	}
	m.confirm = &confirmState{act: act, guest: g}
}

// unreachable says why no command can reach g's monitor now, or "" when
// one may: an action is refused at once rather than confirmed and then
// failed.
func unreachable(g discover.Guest) string {
	if g.Owner == discover.OwnerLibvirt {
		return "" // through libvirt
	}
	switch g.State {
	case discover.StateNoMonitor:
		return "it has no QMP monitor qscope can reach; K kills the process"
	case discover.StateDenied:
		return "its monitor belongs to another user; run qscope as that user or root"
	case discover.StateStopped:
		return "the process is stopped (SIGSTOP) and its monitor cannot answer; send it SIGCONT, or K kills it"
	case discover.StateBusy:
		return "another client holds its only monitor"
	}
	return ""
}

func isPaused(st discover.State) bool {
	switch st {
	case discover.StatePaused, "suspended", "prelaunch", "inmigrate", "postmigrate", "finish-migrate", "restore-vm", "save-vm", "debug", "io-error", "watchdog", "guest-panicked", "internal-error", "colo":
		return true
	}
	return false
}

// runAction performs a confirmed action: through the open session's
// monitor (opening one when needed), or, for kill, through Config.Kill.
func (m *Model) runAction(act action, g discover.Guest) tea.Cmd {
	if m.cfg.ReadOnly {
		m.flash("read-only: "+act.String()+" refused", true)
		return nil
	}
	if act == actKill {
		kill := m.cfg.Kill
		ctx := m.cfg.Context
		timeout := m.cfg.CallTimeout
		m.flash("killing "+g.Name+"…", false)
		return func() tea.Msg {
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			return actionDoneMsg{act: act, name: g.Name, err: kill(cctx, g)}
		}
	}
	if m.sess != nil && m.sess.key == g.Key() && m.sess.state == sessOpen {
		return m.execAction(act)
	}
	cmd := m.open(g)
	m.sess.pending = &pendingAction{act: act}
	m.flash("opening "+g.Name+"'s monitor to "+act.String()+" it…", false)
	return cmd
}

func (m *Model) execAction(act action) tea.Cmd {
	s := m.sess
	name := s.guest.Name
	m.flash(act.String()+" "+name+"…", false)
	return execActionCmd(s.ctx, s.id, s.mon, act, name, m.cfg.CallTimeout)
}

func execActionCmd(ctx context.Context, sid uint64, mon qmp.Monitor, act action, name string, timeout time.Duration) tea.Cmd {
	return func() tea.Msg {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		err := mon.Execute(cctx, act.command(), nil, nil)
		if act == actQuit && err != nil && errors.Is(err, qmp.ErrDisconnected) {
			err = nil // QEMU may close the socket before the reply is read
		}
		return actionDoneMsg{sid: sid, act: act, name: name, err: err}
	}
}

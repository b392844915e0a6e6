package discover

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/qscope/qscope/qmp"
)

// probeResult is what one brief visit to a guest's monitor learned.
type probeResult struct {
	state   State
	reason  string
	version string
	name    string
	uuid    string
	used    int // index in Monitors of the endpoint that answered; -1 if none
	gone    bool
}

// probe connects to the guest's monitors in turn (the one that answered
// last time first), reads the greeting, asks query-status (and query-name
// and query-uuid when they are not known), and disconnects. The whole
// visit is bounded by timeout; each monitor gets an equal share of what is
// left, so a busy first monitor still leaves time for a free second one.
func (s *Scanner) probe(ctx context.Context, g Guest, needName, needUUID bool, prefer int, timeout time.Duration) probeResult {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	order := make([]int, 0, len(g.Monitors))
	if prefer >= 0 && prefer < len(g.Monitors) {
		order = append(order, prefer)
	}
	for i := range g.Monitors {
		if i != prefer {
			order = append(order, i)
		}
	}
	res := probeResult{used: -1}
	var first *probeResult
	for n, i := range order {
		ep := g.Monitors[i]
		if ep.Network != "unix" && ep.Network != "tcp" {
			continue
		}
		dl, _ := ctx.Deadline()
		share := time.Until(dl) / time.Duration(len(order)-n)
		mctx, mcancel := context.WithTimeout(ctx, share)
		r := s.probeOne(mctx, ep, needName, needUUID)
		mcancel()
		r.used = i
		if r.state != "" && r.state != StateBusy && r.state != StateNoMonitor && r.state != StateDenied && r.state != StateUnresponsive {
			return r
		}
		if first == nil {
			rr := r
			first = &rr
		}
		if ctx.Err() != nil {
			break
		}
	}
	if first != nil {
		res = *first
		res.used = -1
	} else {
		res.state = StateNoMonitor
		res.reason = "no QMP monitor on a socket"
	}
	return res
}

// probeOne visits one monitor: through the connection this process holds
// to it (see Hold), or a connection of its own.
func (s *Scanner) probeOne(ctx context.Context, ep Endpoint, needName, needUUID bool) probeResult {
	var r probeResult
	var c qmp.Monitor
	if h := s.heldMonitor(ep); h != nil {
		c = h
	} else {
		dc, err := qmp.Dial(ctx, ep.Network, ep.Address, qmp.WithoutOOB())
		if err != nil {
			r.state, r.reason = classifyDialError(ep, err)
			return r
		}
		defer dc.Close()
		c = dc
	}
	if v, ok := c.(interface{ Version() qmp.Version }); ok {
		r.version = v.Version().String()
	}
	var st struct {
		Status  string `json:"status"`
		Running bool   `json:"running"`
	}
	if err := c.Execute(ctx, "query-status", nil, &st); err != nil {
		r.state, r.reason = classifyCommandError(ep, err)
		return r
	}
	r.state = State(st.Status)
	if r.state == "" {
		r.state = StateUnknown
	}
	if needName {
		var n struct {
			Name string `json:"name"`
		}
		if err := c.Execute(ctx, "query-name", nil, &n); err == nil {
			r.name = n.Name
		}
	}
	if needUUID {
		var u struct {
			UUID string `json:"UUID"`
		}
		if err := c.Execute(ctx, "query-uuid", nil, &u); err == nil && !isNilUUID(u.UUID) {
			r.uuid = u.UUID
		}
	}
	return r
}

func classifyDialError(ep Endpoint, err error) (State, string) {
	switch {
	case errors.Is(err, qmp.ErrBusy):
		return StateBusy, fmt.Sprintf("monitor %s accepted the connection but sent no greeting in time: another client holds it (QEMU serves one client per monitor)", ep)
	case errors.Is(err, syscall.EAGAIN):
		// A unix socket's listen queue is full: earlier connections wait
		// there because another client holds the monitor.
		return StateBusy, fmt.Sprintf("monitor %s has a full connection queue: another client holds it (QEMU serves one client per monitor)", ep)
	case errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM):
		return StateDenied, fmt.Sprintf("permission denied connecting to monitor %s: it belongs to another user (run as its owner or root)", ep)
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOENT):
		return StateNoMonitor, fmt.Sprintf("monitor socket %s does not exist (deleted, or in another mount namespace)", ep)
	case errors.Is(err, syscall.ECONNREFUSED):
		return StateNoMonitor, fmt.Sprintf("nothing listens on monitor %s", ep)
	case errors.Is(err, qmp.ErrDisconnected):
		return StateNoMonitor, fmt.Sprintf("monitor %s closed the connection before greeting", ep)
	case timedOut(err) && ep.Network == "tcp":
		// QEMU queues one connection on a tcp monitor while a client
		// holds it; once an earlier probe sits in that queue, a new
		// connection is not even accepted by the kernel.
		return StateBusy, fmt.Sprintf("monitor %s does not take connections: its one-place queue is full, so another client holds it (QEMU serves one client per monitor)", ep)
	case timedOut(err):
		return StateUnresponsive, fmt.Sprintf("monitor %s did not accept a connection in time", ep)
	}
	return StateNoMonitor, fmt.Sprintf("connecting to monitor %s: %v", ep, err)
}

// timedOut reports a dial that ran out of time: the context's end, or the
// dialer's own timeout (an i/o timeout).
func timedOut(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func classifyCommandError(ep Endpoint, err error) (State, string) {
	var qe *qmp.Error
	if errors.As(err, &qe) {
		return StateUnknown, fmt.Sprintf("query-status on %s failed: %s: %s", ep, qe.Class, qe.Desc)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, qmp.ErrBusy) {
		return StateUnresponsive, fmt.Sprintf("monitor %s greeted but did not answer in time (QEMU's main loop is busy or hung)", ep)
	}
	return StateNoMonitor, fmt.Sprintf("monitor %s: %v", ep, err)
}

// isNilUUID reports the all-zero UUID QEMU answers query-uuid with when it
// was started without -uuid: it names no guest (every such QEMU has it),
// so it is treated as no UUID at all.
func isNilUUID(u string) bool {
	u = strings.TrimSpace(u)
	if u == "" {
		return true
	}
	for _, c := range u {
		if c != '0' && c != '-' {
			return false
		}
	}
	return true
}

package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/policy"
	"github.com/qscope/qscope/qmp"
)

// Session says where a wrapped monitor's commands go and who sends them.
type Session struct {
	Guest Target
	// Route is "socket" or "libvirt".
	Route string
	// Via is the monitor socket or libvirt URI (Record.Via).
	Via string
	// Client names the front end: "cli", "tui", "console".
	Client string
}

// TargetOf describes a discovered guest.
func TargetOf(g discover.Guest) Target {
	return Target{Name: g.Name, PID: g.PID, UUID: g.UUID, Owner: string(g.Owner), Domain: g.Domain}
}

// SessionFor is the session for a guest reached the way discover.Connector
// reaches it: through libvirt for libvirt's guests, over the socket for
// the others.
func SessionFor(g discover.Guest, client string) Session {
	route := "socket"
	if g.Owner == discover.OwnerLibvirt {
		route = "libvirt"
	}
	return Session{Guest: TargetOf(g), Route: route, Via: g.Monitor, Client: client}
}

// HMPErrorClass is the error class recorded for an HMP command whose
// output says it failed (qmp.HMPFailure): QMP itself answered success.
const HMPErrorClass = "HMPError"

// ErrNotJournaled wraps the error of a command that QEMU ran but that
// could not be written to the journal.
var ErrNotJournaled = errors.New("command ran but could not be journaled")

// Monitor is a qmp.Monitor that journals every command policy does not
// class as read-only. See Wrap.
type Monitor struct {
	m qmp.Monitor
	j *Journal
	s Session
}

var _ qmp.Monitor = (*Monitor)(nil)

// Wrap returns a monitor that sends everything through m and appends a
// Record to j for every command that is not read-only (policy.Classify),
// after QEMU answered, with its result or error. Read-only commands pass
// straight through, unrecorded. Commands refused before anything was sent
// (qmp.ErrInvalid) are not recorded.
//
// When the record cannot be written, Execute still fills result and
// returns QEMU's error if there was one, else an error wrapping
// ErrNotJournaled: the command did run.
func Wrap(m qmp.Monitor, j *Journal, s Session) *Monitor {
	return &Monitor{m: m, j: j, s: s}
}

// Unwrap returns the monitor underneath.
func (w *Monitor) Unwrap() qmp.Monitor { return w.m }

// Execute runs command, journaling it when it is not read-only.
func (w *Monitor) Execute(ctx context.Context, command string, args, result any) error {
	raw, err := rawArgs(args)
	if err != nil {
		return fmt.Errorf("journal: %s: %w: %v", command, qmp.ErrInvalid, err)
	}
	class := policy.Classify(command, raw)
	if class == policy.ReadOnly {
		return w.m.Execute(ctx, command, args, result)
	}
	var ret json.RawMessage
	start := time.Now()
	var a any
	if raw != nil {
		a = raw
	}
	execErr := w.m.Execute(ctx, command, a, &ret)
	dur := time.Since(start)
	if errors.Is(execErr, qmp.ErrInvalid) {
		return execErr
	}
	rec := Record{
		Time:       start,
		Guest:      w.s.Guest,
		Route:      w.s.Route,
		Via:        w.s.Via,
		Class:      class.String(),
		Command:    command,
		Arguments:  Redact(command, raw),
		DurationMS: float64(dur.Microseconds()) / 1000,
		Client:     w.s.Client,
	}
	var hmpOut string
	if execErr != nil {
		rec.Error = errorInfo(execErr)
	} else if command == "human-monitor-command" && json.Unmarshal(ret, &hmpOut) == nil {
		// HMP reports failure in the text of a successful reply.
		if msg, failed := qmp.HMPFailure(hmpOut); failed {
			rec.Error = &ErrorInfo{Class: HMPErrorClass, Desc: msg}
		}
	}
	switch {
	case execErr != nil:
	case len(ret) > MaxResult:
		rec.ResultTruncated = true
	default:
		rec.Result = ret // HMP's output too, failed or not
	}
	jerr := w.j.Append(rec)
	if execErr == nil && result != nil && len(ret) > 0 {
		if rp, ok := result.(*json.RawMessage); ok {
			*rp = ret
		} else if err := json.Unmarshal(ret, result); err != nil {
			execErr = fmt.Errorf("qmp: %s: decoding result: %w", command, err)
		}
	}
	if execErr != nil {
		return execErr
	}
	if jerr != nil {
		return fmt.Errorf("%s: %w: %w", command, ErrNotJournaled, jerr)
	}
	return nil
}

func (w *Monitor) Subscribe(names ...string) *qmp.Subscription { return w.m.Subscribe(names...) }
func (w *Monitor) Done() <-chan struct{}                       { return w.m.Done() }
func (w *Monitor) Err() error                                  { return w.m.Err() }
func (w *Monitor) Close() error                                { return w.m.Close() }

func rawArgs(args any) (json.RawMessage, error) {
	switch a := args.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		if len(a) == 0 {
			return nil, nil
		}
		return a, nil
	}
	b, err := json.Marshal(args)
	if err != nil {
		return nil, err
	}
	if string(b) == "null" {
		return nil, nil
	}
	return b, nil
}

func errorInfo(err error) *ErrorInfo {
	var qe *qmp.Error
	switch {
	case errors.As(err, &qe):
		return &ErrorInfo{Class: qe.Class, Desc: qe.Desc}
	case errors.Is(err, context.DeadlineExceeded):
		return &ErrorInfo{Class: "Timeout", Desc: "no reply in time; the command may have run: " + err.Error()}
	case errors.Is(err, context.Canceled):
		return &ErrorInfo{Class: "Canceled", Desc: "abandoned before the reply; the command may have run: " + err.Error()}
	case errors.Is(err, qmp.ErrDisconnected), errors.Is(err, qmp.ErrClosed):
		return &ErrorInfo{Class: "Disconnected", Desc: err.Error()}
	}
	return &ErrorInfo{Class: "ClientError", Desc: err.Error()}
}

// redacted replaces secrets in journaled arguments.
const redacted = `"(redacted)"`

// Redact returns args with secrets replaced by "(redacted)": any member
// named "password", the "data" of secret objects (object-add of qom-type
// secret or secret_keyring, and HMP's object_add of those types), and the
// rest of a human-monitor-command line after "set_password". Arguments
// that are not a JSON object are returned as they are.
func Redact(command string, args json.RawMessage) json.RawMessage {
	if len(args) == 0 {
		return args
	}
	var m map[string]any
	if err := json.Unmarshal(args, &m); err != nil {
		return args
	}
	changed := redactMap(m)
	if command == "object-add" {
		if t, _ := m["qom-type"].(string); isSecretType(t) {
			if _, ok := m["data"]; ok {
				m["data"] = "(redacted)"
				changed = true
			}
			if p, ok := m["props"].(map[string]any); ok { // pre-6.0 form
				if _, ok := p["data"]; ok {
					p["data"] = "(redacted)"
					changed = true
				}
			}
		}
	}
	if command == "human-monitor-command" {
		if cl, ok := m["command-line"].(string); ok {
			f := strings.Fields(cl)
			switch {
			case len(f) > 1 && (f[0] == "set_password" || (f[0] == "change" && strings.Contains(cl, "password"))):
				m["command-line"] = f[0] + " (redacted)"
				changed = true
			case len(f) > 1 && f[0] == "object_add":
				rest := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(cl), f[0]))
				if r, ok := redactHMPObject(rest); ok {
					m["command-line"] = f[0] + " " + r
					changed = true
				}
			}
		}
	}
	if !changed {
		return args
	}
	b, err := json.Marshal(m)
	if err != nil {
		return json.RawMessage(redacted)
	}
	return b
}

// isSecretType reports whether objects of QOM type t carry a secret in
// their "data".
func isSecretType(t string) bool { return t == "secret" || t == "secret_keyring" }

// redactHMPObject redacts the data of a secret in the argument of HMP's
// object_add: "secret,id=s0,data=…" (QemuOpts, where ",," is a comma in
// a value; the type may also be given as qom-type=) or a JSON object.
func redactHMPObject(arg string) (string, bool) {
	if strings.HasPrefix(arg, "{") {
		var m map[string]any
		if err := json.Unmarshal([]byte(arg), &m); err != nil {
			// QEMU refuses it too, but it may still hold a secret.
			if strings.Contains(arg, "secret") && strings.Contains(arg, "data") {
				return "(redacted)", true
			}
			return arg, false
		}
		t, _ := m["qom-type"].(string)
		if _, ok := m["data"]; !ok || !isSecretType(t) {
			return arg, false
		}
		m["data"] = "(redacted)"
		b, err := json.Marshal(m)
		if err != nil {
			return "(redacted)", true
		}
		return string(b), true
	}
	parts := splitOpts(arg)
	secret := false
	for i, p := range parts {
		k, v, hasValue := strings.Cut(p, "=")
		if (i == 0 && !hasValue && isSecretType(strings.TrimSpace(k))) || (strings.TrimSpace(k) == "qom-type" && isSecretType(strings.TrimSpace(v))) {
			secret = true
		}
	}
	if !secret {
		return arg, false
	}
	changed := false
	for i, p := range parts {
		if k, _, ok := strings.Cut(p, "="); ok && strings.TrimSpace(k) == "data" {
			parts[i] = "data=(redacted)"
			changed = true
		}
	}
	return strings.Join(parts, ","), changed
}

// splitOpts splits a QemuOpts string at its commas, leaving doubled
// commas (an escaped comma) inside their part.
func splitOpts(s string) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] != ',' {
			continue
		}
		if i+1 < len(s) && s[i+1] == ',' {
			i++
			continue
		}
		parts = append(parts, s[start:i])
		start = i + 1
	}
	return append(parts, s[start:])
}

func redactMap(m map[string]any) bool {
	changed := false
	for k, v := range m {
		if k == "password" {
			m[k] = "(redacted)"
			changed = true
			continue
		}
		switch x := v.(type) {
		case map[string]any:
			changed = redactMap(x) || changed
		case []any:
			for _, e := range x {
				if em, ok := e.(map[string]any); ok {
					changed = redactMap(em) || changed
				}
			}
		}
	}
	return changed
}

package console

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/qscope/qscope/qmp"
	"github.com/qscope/qscope/qmp/schema"
)

// Messages. Every result of the monitor carries the generation of the
// monitor it was asked of (SetMonitor starts a new one) and, for
// commands, a sequence number: results of a replaced monitor or an
// abandoned request are dropped.

type schemaMsg struct {
	gen  uint64
	s    *schema.Schema
	err  error
	took time.Duration
}

type liveMsg struct {
	gen  uint64
	live schema.Live
}

type propsMsg struct {
	gen    uint64
	driver string
	props  []schema.DeviceProp
	err    error
}

type hmpHelpMsg struct {
	gen  uint64
	cmds []schema.HMPCommand
	err  error
}

type resultMsg struct {
	gen, seq uint64
	ex       Exchange
}

type historyMsg struct {
	entries []HistoryEntry
	err     error
}

type historySavedMsg struct{ err error }

// Exchange is one command and its reply.
type Exchange struct {
	// Line is what was typed.
	Line string
	// Request is what was sent (human-monitor-command for HMP lines).
	Request schema.Request
	HMP     bool
	// Reply is the return value; HMPOutput the text of an HMP command.
	Reply     json.RawMessage
	HMPOutput string
	// HMPFailed is the error an HMP command printed in its output (QMP
	// counts the exchange a success): "" when it did not fail, as far as
	// qmp.HMPFailure can tell.
	HMPFailed string
	Err       error
	RTT       time.Duration
	At        time.Time
	Forced    bool

	// typed is the input line as it was when Enter was pressed (with the
	// "!" of an HMP line), given back when a confirmation is cancelled.
	typed string
}

func loadSchemaCmd(ctx context.Context, gen uint64, l *schema.Loader, m qmp.Monitor, pid int, timeout time.Duration, now func() time.Time) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		start := now()
		// The cache is shared only by processes of the same QEMU binary;
		// one whose binary cannot be looked at is not cached.
		lc := *l
		if lc.Binary == "" && !lc.NoCache {
			if id, ok := schema.BinaryID(pid); ok {
				lc.Binary = id
			} else {
				lc.NoCache = true
			}
		}
		s, err := lc.Load(ctx, m)
		return schemaMsg{gen: gen, s: s, err: err, took: now().Sub(start)}
	}
}

type typesMsg struct {
	gen   uint64
	types []string
	err   error
}

// fetchTypesCmd lists the device types device_add takes. It is asked
// only when a device_add line is typed: qom-list-types makes QEMU load
// every module it has, which a QEMU with a mismatched module set does not
// survive.
func fetchTypesCmd(ctx context.Context, gen uint64, m qmp.Monitor, timeout time.Duration) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		var t []struct {
			Name string `json:"name"`
		}
		err := m.Execute(ctx, "qom-list-types", map[string]any{"implements": "device", "abstract": false}, &t)
		types := make([]string, 0, len(t))
		for _, x := range t {
			types = append(types, x.Name)
		}
		sort.Strings(types)
		return typesMsg{gen: gen, types: types, err: err}
	}
}

// fetchLiveCmd asks for the values arguments refer to: block nodes,
// device ids, chardevs, jobs. Each query is read-only; one that fails
// leaves its list empty.
func fetchLiveCmd(ctx context.Context, gen uint64, m qmp.Monitor, timeout time.Duration) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		var live schema.Live
		var nodes []struct {
			NodeName string `json:"node-name"`
		}
		if m.Execute(ctx, "query-named-block-nodes", map[string]any{"flat": true}, &nodes) != nil {
			_ = m.Execute(ctx, "query-named-block-nodes", nil, &nodes)
		}
		for _, n := range nodes {
			live.BlockNodes = append(live.BlockNodes, n.NodeName)
		}
		var props []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		}
		if m.Execute(ctx, "qom-list", map[string]any{"path": "/machine/peripheral"}, &props) == nil {
			for _, p := range props {
				if strings.HasPrefix(p.Type, "child<") {
					live.DeviceIDs = append(live.DeviceIDs, p.Name)
				}
			}
		}
		var chardevs []struct {
			Label string `json:"label"`
		}
		if m.Execute(ctx, "query-chardev", nil, &chardevs) == nil {
			for _, c := range chardevs {
				live.Chardevs = append(live.Chardevs, c.Label)
			}
		}
		var jobs []struct {
			ID string `json:"id"`
		}
		if m.Execute(ctx, "query-jobs", nil, &jobs) == nil {
			for _, j := range jobs {
				live.Jobs = append(live.Jobs, j.ID)
			}
		}
		return liveMsg{gen: gen, live: live}
	}
}

func fetchPropsCmd(ctx context.Context, gen uint64, m qmp.Monitor, timeout time.Duration, driver string) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		var props []schema.DeviceProp
		err := m.Execute(ctx, "device-list-properties", map[string]any{"typename": driver}, &props)
		return propsMsg{gen: gen, driver: driver, props: props, err: err}
	}
}

func fetchHMPHelpCmd(ctx context.Context, gen uint64, m qmp.Monitor, timeout time.Duration) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		var top, info string
		if err := m.Execute(ctx, "human-monitor-command", map[string]any{"command-line": "help"}, &top); err != nil {
			return hmpHelpMsg{gen: gen, err: err}
		}
		cmds := schema.ParseHMPHelp(top, "")
		if m.Execute(ctx, "human-monitor-command", map[string]any{"command-line": "help info"}, &info) == nil {
			cmds = append(cmds, schema.ParseHMPHelp(info, "info ")...)
		}
		return hmpHelpMsg{gen: gen, cmds: cmds}
	}
}

// executeCmd sends one checked request and times the round trip.
func executeCmd(ctx context.Context, gen, seq uint64, m qmp.Monitor, ex Exchange, closeAfter bool, now func() time.Time) tea.Cmd {
	return func() tea.Msg {
		if closeAfter {
			defer m.Close()
		}
		start := now()
		var args any
		if len(ex.Request.Args) > 0 {
			args = ex.Request.Args
		}
		var raw json.RawMessage
		err := m.Execute(ctx, ex.Request.Command, args, &raw)
		ex.RTT = now().Sub(start)
		ex.At = start
		ex.Err = err
		if err == nil {
			if ex.HMP {
				var s string
				if json.Unmarshal(raw, &s) == nil {
					ex.HMPOutput = s
					if msg, failed := qmp.HMPFailure(s); failed {
						ex.HMPFailed = msg
						if msg == "" {
							ex.HMPFailed = "the command failed"
						}
					}
				}
			}
			ex.Reply = raw
		}
		return resultMsg{gen: gen, seq: seq, ex: ex}
	}
}

// forceCmd opens a forcing monitor with open, runs the request on it and
// closes it.
func forceCmd(ctx context.Context, gen, seq uint64, open func(context.Context) (qmp.Monitor, error), ex Exchange, now func() time.Time) tea.Cmd {
	return func() tea.Msg {
		m, err := open(ctx)
		if err != nil {
			ex.Err = err
			ex.At = now()
			return resultMsg{gen: gen, seq: seq, ex: ex}
		}
		return executeCmd(ctx, gen, seq, m, ex, true, now)()
	}
}

func loadHistoryCmd(path string) tea.Cmd {
	return func() tea.Msg {
		e, err := LoadHistory(path)
		return historyMsg{entries: e, err: err}
	}
}

func saveHistoryCmd(path string, e HistoryEntry) tea.Cmd {
	return func() tea.Msg {
		return historySavedMsg{err: AppendHistory(path, e)}
	}
}

package model

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/qmp"
	"github.com/qscope/qscope/ui"
)

// sectionDef is one details section: a title and the QMP calls that fill
// it. fetch runs inside a tea.Cmd.
type sectionDef struct {
	title string
	fetch func(ctx context.Context, mon qmp.Monitor, g discover.Guest) (sectionResult, error)
}

type sectionResult struct {
	rows    []ui.Row
	note    string // a partial failure worth showing under the rows
	threads []vcpuThread
}

const secVCPUs = 3

var sections = []sectionDef{
	{"Status", fetchStatus},
	{"QEMU", fetchQEMU},
	{"Accelerator", fetchAccel},
	{"vCPUs", fetchVCPUs},
	{"Memory", fetchMemory},
	{"Block devices", fetchBlock},
	{"Character devices", fetchChardev},
	{"Network", fetchNetwork},
	{"Migration", fetchMigration},
	{"Jobs", fetchJobs},
}

func row(label, value string) ui.Row { return ui.Row{Label: label, Value: value} }

func fetchStatus(ctx context.Context, mon qmp.Monitor, g discover.Guest) (sectionResult, error) {
	var st struct {
		Status  string `json:"status"`
		Running bool   `json:"running"`
	}
	if err := mon.Execute(ctx, "query-status", nil, &st); err != nil {
		return sectionResult{}, err
	}
	tone := ui.ToneOK
	if !st.Running {
		tone = ui.ToneWarn
	}
	rows := []ui.Row{{Label: "run state", Value: st.Status, Tone: tone}}
	var name struct {
		Name string `json:"name"`
	}
	if err := mon.Execute(ctx, "query-name", nil, &name); err == nil && name.Name != "" {
		rows = append(rows, row("name", name.Name))
	}
	var uuid struct {
		UUID string `json:"UUID"`
	}
	if err := mon.Execute(ctx, "query-uuid", nil, &uuid); err == nil && uuid.UUID != "" && uuid.UUID != "00000000-0000-0000-0000-000000000000" {
		rows = append(rows, row("uuid", uuid.UUID))
	}
	return sectionResult{rows: rows}, nil
}

func fetchQEMU(ctx context.Context, mon qmp.Monitor, g discover.Guest) (sectionResult, error) {
	var v qmp.Version
	if err := mon.Execute(ctx, "query-version", nil, &v); err != nil {
		return sectionResult{}, err
	}
	rows := []ui.Row{row("version", v.String())}
	if v.Package != "" {
		rows = append(rows, row("package", strings.TrimSpace(v.Package)))
	}
	var res sectionResult
	var tgt struct {
		Arch string `json:"arch"`
	}
	if err := mon.Execute(ctx, "query-target", nil, &tgt); err == nil {
		rows = append(rows, row("target", tgt.Arch))
	} else {
		res.note = "query-target: " + err.Error()
	}
	// The machine type as given, resolved when it is an alias ("pc" is
	// pc-i440fx-7.2 on 7.2): the versioned type is what migration needs.
	var ms []struct {
		Name      string `json:"name"`
		Alias     string `json:"alias"`
		IsDefault bool   `json:"is-default"`
	}
	qerr := mon.Execute(ctx, "query-machines", nil, &ms)
	if mt := machineFromCmdline(g.Cmdline); mt != "" {
		shown := mt
		for _, m := range ms {
			if m.Alias == mt && m.Name != mt {
				shown = m.Name + " (" + mt + ")"
			}
		}
		rows = append(rows, row("machine", shown))
	} else if qerr == nil {
		for _, m := range ms {
			if m.IsDefault {
				rows = append(rows, row("machine", m.Name+" (the default; no -machine given)"))
			}
		}
	}
	if g.Binary != "" {
		rows = append(rows, row("binary", g.Binary))
	}
	res.rows = rows
	return res, nil
}

// machineFromCmdline finds the machine type given with -machine or -M.
func machineFromCmdline(args []string) string {
	for i := 0; i+1 < len(args); i++ {
		a := strings.TrimPrefix(args[i], "-")
		if a != "-machine" && a != "machine" && a != "M" {
			continue
		}
		v := args[i+1]
		for _, part := range strings.Split(v, ",") {
			if t, ok := strings.CutPrefix(part, "type="); ok {
				return t
			}
			if !strings.Contains(part, "=") {
				return part
			}
		}
	}
	return ""
}

func fetchAccel(ctx context.Context, mon qmp.Monitor, g discover.Guest) (sectionResult, error) {
	var k struct {
		Enabled bool `json:"enabled"`
		Present bool `json:"present"`
	}
	if err := mon.Execute(ctx, "query-kvm", nil, &k); err != nil {
		return sectionResult{}, err
	}
	switch {
	case k.Enabled:
		return sectionResult{rows: []ui.Row{{Label: "accelerator", Value: "kvm", Tone: ui.ToneOK}}}, nil
	case k.Present:
		return sectionResult{rows: []ui.Row{{Label: "accelerator", Value: "tcg (kvm is present but not enabled)", Tone: ui.ToneWarn}}}, nil
	}
	return sectionResult{rows: []ui.Row{{Label: "accelerator", Value: "tcg (no kvm)", Tone: ui.ToneWarn}}}, nil
}

// vcpuThread is a vCPU and the host thread that runs it.
type vcpuThread struct {
	Index  int    `json:"cpu-index"`
	Thread int    `json:"thread-id"`
	Target string `json:"target"`
	QOM    string `json:"qom-path"`
}

func fetchVCPUs(ctx context.Context, mon qmp.Monitor, g discover.Guest) (sectionResult, error) {
	var cpus []vcpuThread
	if err := mon.Execute(ctx, "query-cpus-fast", nil, &cpus); err != nil {
		return sectionResult{}, err
	}
	sort.Slice(cpus, func(i, j int) bool { return cpus[i].Index < cpus[j].Index })
	return sectionResult{threads: cpus}, nil
}

func fetchMemory(ctx context.Context, mon qmp.Monitor, g discover.Guest) (sectionResult, error) {
	var sum struct {
		Base    uint64  `json:"base-memory"`
		Plugged *uint64 `json:"plugged-memory"`
	}
	if err := mon.Execute(ctx, "query-memory-size-summary", nil, &sum); err != nil {
		return sectionResult{}, err
	}
	rows := []ui.Row{row("base", ui.Bytes(sum.Base))}
	if sum.Plugged != nil {
		rows = append(rows, row("plugged", ui.Bytes(*sum.Plugged)))
	}
	if g.RSS > 0 {
		rows = append(rows, row("host RSS", ui.Bytes(g.RSS)))
	}
	var bal struct {
		Actual uint64 `json:"actual"`
	}
	err := mon.Execute(ctx, "query-balloon", nil, &bal)
	var qe *qmp.Error
	switch {
	case err == nil:
		rows = append(rows, row("balloon", ui.Bytes(bal.Actual)))
	case errors.As(err, &qe) && qe.Class == "DeviceNotActive":
		rows = append(rows, ui.Row{Label: "balloon", Value: "no balloon device", Tone: ui.ToneDim})
	default:
		return sectionResult{rows: rows, note: "query-balloon: " + err.Error()}, nil
	}
	return sectionResult{rows: rows}, nil
}

func fetchBlock(ctx context.Context, mon qmp.Monitor, g discover.Guest) (sectionResult, error) {
	var blocks []struct {
		Device    string `json:"device"`
		QDev      string `json:"qdev"`
		Removable bool   `json:"removable"`
		Locked    bool   `json:"locked"`
		IOStatus  string `json:"io-status"`
		Inserted  *struct {
			File string `json:"file"`
			Drv  string `json:"drv"`
			RO   bool   `json:"ro"`
			Node string `json:"node-name"`
		} `json:"inserted"`
	}
	if err := mon.Execute(ctx, "query-block", nil, &blocks); err != nil {
		return sectionResult{}, err
	}
	var stats []struct {
		Device string `json:"device"`
		QDev   string `json:"qdev"`
		Node   string `json:"node-name"`
		Stats  struct {
			RdBytes uint64 `json:"rd_bytes"`
			WrBytes uint64 `json:"wr_bytes"`
			RdOps   uint64 `json:"rd_operations"`
			WrOps   uint64 `json:"wr_operations"`
			FlOps   uint64 `json:"flush_operations"`
			Failed  uint64 `json:"failed_rd_operations"`
			FailedW uint64 `json:"failed_wr_operations"`
		} `json:"stats"`
	}
	var res sectionResult
	if err := mon.Execute(ctx, "query-blockstats", nil, &stats); err != nil {
		res.note = "query-blockstats: " + err.Error()
	}
	for _, b := range blocks {
		name := b.Device
		if name == "" {
			name = b.QDev
		}
		if b.Inserted == nil {
			res.rows = append(res.rows, ui.Row{Label: name, Value: "empty", Tone: ui.ToneDim})
			continue
		}
		v := b.Inserted.Drv + " " + b.Inserted.File
		if b.Inserted.RO {
			v += " (read-only)"
		}
		res.rows = append(res.rows, row(name, v))
		tone := ui.ToneNormal
		io := b.IOStatus
		if io == "" {
			io = "-"
		} else if io != "ok" {
			tone = ui.ToneError
		}
		line := "io-status " + io
		for _, s := range stats {
			if (s.Device != "" && s.Device == b.Device) || (s.QDev != "" && s.QDev == b.QDev) {
				line += fmt.Sprintf(" · read %s in %d ops · written %s in %d ops · %d flushes",
					ui.Bytes(s.Stats.RdBytes), s.Stats.RdOps, ui.Bytes(s.Stats.WrBytes), s.Stats.WrOps, s.Stats.FlOps)
				if f := s.Stats.Failed + s.Stats.FailedW; f > 0 {
					line += fmt.Sprintf(" · %d failed", f)
					tone = ui.ToneError
				}
				break
			}
		}
		res.rows = append(res.rows, ui.Row{Label: "", Value: "  " + line, Tone: tone})
	}
	return res, nil
}

func fetchChardev(ctx context.Context, mon qmp.Monitor, g discover.Guest) (sectionResult, error) {
	var devs []struct {
		Label    string `json:"label"`
		Filename string `json:"filename"`
		Open     bool   `json:"frontend-open"`
	}
	if err := mon.Execute(ctx, "query-chardev", nil, &devs); err != nil {
		return sectionResult{}, err
	}
	var res sectionResult
	for _, d := range devs {
		v := d.Filename
		tone := ui.ToneNormal
		if rest, ok := strings.CutPrefix(v, "disconnected:"); ok {
			v, tone = rest+" (no client)", ui.ToneDim
		} else if strings.Contains(v, "server=on") {
			v += " (client connected)"
		}
		if !d.Open {
			v += " (no front end)"
		}
		res.rows = append(res.rows, ui.Row{Label: d.Label, Value: v, Tone: tone})
	}
	return res, nil
}

func fetchNetwork(ctx context.Context, mon qmp.Monitor, g discover.Guest) (sectionResult, error) {
	var out string
	err := mon.Execute(ctx, "human-monitor-command", map[string]any{"command-line": "info network"}, &out)
	if err != nil {
		return sectionResult{}, err
	}
	var res sectionResult
	for _, l := range strings.Split(strings.TrimRight(out, "\r\n"), "\n") {
		l = strings.TrimRight(l, "\r")
		if strings.TrimSpace(l) == "" {
			continue
		}
		res.rows = append(res.rows, ui.Row{Value: l})
	}
	return res, nil
}

func fetchMigration(ctx context.Context, mon qmp.Monitor, g discover.Guest) (sectionResult, error) {
	var mi struct {
		Status string `json:"status"`
		RAM    *struct {
			Transferred uint64 `json:"transferred"`
			Remaining   uint64 `json:"remaining"`
			Total       uint64 `json:"total"`
		} `json:"ram"`
		ErrorDesc string `json:"error-desc"`
	}
	if err := mon.Execute(ctx, "query-migrate", nil, &mi); err != nil {
		return sectionResult{}, err
	}
	st := mi.Status
	if st == "" {
		st = "none"
	}
	tone := ui.ToneNormal
	if st == "failed" {
		tone = ui.ToneError
	}
	rows := []ui.Row{{Label: "status", Value: st, Tone: tone}}
	if mi.RAM != nil {
		rows = append(rows, row("ram", fmt.Sprintf("%s of %s sent, %s left", ui.Bytes(mi.RAM.Transferred), ui.Bytes(mi.RAM.Total), ui.Bytes(mi.RAM.Remaining))))
	}
	if mi.ErrorDesc != "" {
		rows = append(rows, ui.Row{Label: "error", Value: mi.ErrorDesc, Tone: ui.ToneError})
	}
	return sectionResult{rows: rows}, nil
}

func fetchJobs(ctx context.Context, mon qmp.Monitor, g discover.Guest) (sectionResult, error) {
	var jobs []struct {
		ID      string `json:"id"`
		Type    string `json:"type"`
		Status  string `json:"status"`
		Current uint64 `json:"current-progress"`
		Total   uint64 `json:"total-progress"`
		Error   string `json:"error"`
	}
	if err := mon.Execute(ctx, "query-jobs", nil, &jobs); err != nil {
		return sectionResult{}, err
	}
	var res sectionResult
	for _, j := range jobs {
		v := j.Type + " " + j.Status
		if j.Total > 0 {
			v += " " + strconv.FormatUint(j.Current*100/j.Total, 10) + "%"
		}
		tone := ui.ToneNormal
		if j.Error != "" {
			v += " — " + j.Error
			tone = ui.ToneError
		}
		res.rows = append(res.rows, ui.Row{Label: j.ID, Value: v, Tone: tone})
	}
	return res, nil
}

// compactJSON returns raw as one line.
func compactJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	if !bytes.ContainsAny(raw, "\n\r\t") {
		return string(raw)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return strings.Join(strings.Fields(string(raw)), " ")
	}
	return b.String()
}

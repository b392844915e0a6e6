package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/qmp"
	"github.com/qscope/qscope/ui"
)

func init() { subcommands = append(subcommands, newListCmd) }

// Hooks for other parts of the command line (the libvirt route, for one):
// extraSources add discovery sources to every Scanner built here, and
// libvirtRoute, when set, opens a monitor for a libvirt guest.
var (
	extraSources []func(o *Options) discover.Source
	libvirtRoute func(ctx context.Context, o *Options, g discover.Guest) (qmp.Monitor, error)
)

// newScanner builds the Scanner every command uses, from the shared
// options.
func newScanner(o *Options) *discover.Scanner {
	s := &discover.Scanner{ProbeTimeout: o.ProbeTimeout}
	if o.LibvirtURI != "" && o.LibvirtURI != "none" {
		s.LibvirtURI = o.LibvirtURI
	}
	for _, f := range extraSources {
		if src := f(o); src != nil {
			s.Extra = append(s.Extra, src)
		}
	}
	return s
}

// newConnector builds the Connector the commands use to reach a guest by
// name.
func newConnector(o *Options, s *discover.Scanner) *discover.Connector {
	c := &discover.Connector{Scanner: s}
	if libvirtRoute != nil && o.LibvirtURI != "none" {
		c.Libvirt = func(ctx context.Context, g discover.Guest) (qmp.Monitor, error) {
			return libvirtRoute(ctx, o, g)
		}
	}
	return c
}

func newListCmd(o *Options) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List every QEMU guest on this host",
		Long: `List every QEMU guest this user can see: hand-started ones, libvirt's,
Incus's and Proxmox's. Each guest's monitor is visited briefly (connect,
query-status, disconnect); a monitor held by another client shows as busy,
a stopped process as stopped. CPU% here is the average since the process
started (one listing has no earlier sample); the UI shows the current rate.

With --json the output is a JSON array of objects with (at least) name,
uuid, pid, state, reason, owner, monitor, monitors, version, started,
uptime_seconds, cpu_percent, rss_bytes, vcpus and threads.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return printList(cmd.Context(), o, o.Stdout, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}

// listEntry is a guest as `list --json` prints it.
type listEntry struct {
	discover.Guest
	// UUID is always printed, "" when the guest has none.
	UUID          string  `json:"uuid"`
	UptimeSeconds float64 `json:"uptime_seconds"`
}

// printList scans once and prints the guests: a table, or a JSON array.
// A source that failed is reported on o.Stderr as a warning; the guests
// found are still printed.
func printList(ctx context.Context, o *Options, w io.Writer, asJSON bool) error {
	s := newScanner(o)
	defer s.Close()
	guests, err := s.List(ctx)
	if guests == nil && err != nil {
		return &exitError{code: 2, err: fmt.Errorf("qscope: listing guests: %w", err)}
	}
	if err != nil && o.Stderr != nil {
		fmt.Fprintln(o.Stderr, "qscope: warning:", ui.SanitizeLines(err.Error()))
	}
	now := time.Now()
	if asJSON {
		out := make([]listEntry, len(guests))
		for i, g := range guests {
			out[i] = listEntry{Guest: g, UUID: g.UUID, UptimeSeconds: g.Uptime(now).Round(time.Second).Seconds()}
		}
		enc := json.NewEncoder(jsonOut{w})
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tOWNER\tPID\tSTATE\tCPU%\tMEM\tUPTIME\tMONITOR")
	for _, g := range guests {
		pid := "-"
		if g.PID > 0 {
			pid = strconv.Itoa(g.PID)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.1f\t%s\t%s\t%s\n",
			listCell(g.Name), listCell(string(g.Owner)), pid, listCell(string(g.State)), g.CPUPercent, listBytes(g.RSS), listUptime(g.Uptime(now)), listCell(g.Monitor))
	}
	return tw.Flush()
}

// listCell keeps a table cell on one line, readable and harmless to the
// terminal: a guest's name and state are its own words (ui.Sanitize).
func listCell(s string) string {
	if s == "" {
		return "-"
	}
	return ui.Sanitize(s)
}

func listBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10) + "B"
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%c", float64(n)/float64(div), "KMGTPE"[exp])
}

func listUptime(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	d = d.Round(time.Second)
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	h := d / time.Hour
	d -= h * time.Hour
	m := d / time.Minute
	s := (d - m*time.Minute) / time.Second
	switch {
	case days > 0:
		return fmt.Sprintf("%dd%dh", days, h)
	case h > 0:
		return fmt.Sprintf("%dh%dm", h, m)
	case m > 0:
		return fmt.Sprintf("%dm%ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
}

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/qmp"
)

func init() { subcommands = append(subcommands, newEventsCmd) }

func newEventsCmd(o *Options) *cobra.Command {
	var filters []string
	cmd := &cobra.Command{
		Use:   "events TARGET",
		Short: "Stream a guest's QMP events as JSON lines",
		Long: `Print the QMP events of the guest TARGET (a name, pid or uuid) as JSON
lines, {"event": …, "data": …, "timestamp": {…}}, as they arrive, until
interrupted. --filter keeps only the named events (repeat it, or give a
comma-separated list); a name the guest's QEMU does not have (by its
query-qmp-schema) is refused, except on libvirt's guests, where asking
would set libvirt's custom-monitor taint.

The connection holds the guest's monitor while it runs (QEMU serves one
client per monitor): give QEMU a second -qmp monitor to keep the first
free. When the guest goes away the command exits with status 1 and says
why.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEvents(cmd.Context(), o, args[0], filters)
		},
	}
	cmd.Flags().StringSliceVarP(&filters, "filter", "f", nil, "only these events (e.g. STOP,RESUME)")
	return cmd
}

// validEventName reports whether s can be a QMP event name (upper-case
// letters, digits and '_').
func validEventName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func runEvents(ctx context.Context, o *Options, target string, filters []string) error {
	for _, f := range filters {
		if !validEventName(f) {
			return &exitError{code: exitCodeFailure, err: fmt.Errorf("qscope events: %q is not a QMP event name (upper case, like STOP or DEVICE_DELETED)", f)}
		}
	}
	s := newScanner(o)
	defer s.Close()
	m, g, err := newConnector(o, s).Connect(ctx, target)
	if err != nil {
		if ctx.Err() != nil {
			return nil // interrupted before the first event
		}
		return &exitError{code: exitCodeFailure, err: fmt.Errorf("qscope events: %w", err)}
	}
	defer m.Close()
	sub := m.Subscribe(filters...)
	defer sub.Close()
	// On a libvirt guest a passthrough command sets libvirt's
	// custom-monitor taint: listening alone should not, so the names are
	// not checked there.
	if g.Owner != discover.OwnerLibvirt {
		if err := checkEventNames(ctx, m, filters); err != nil {
			return &exitError{code: exitCodeFailure, err: fmt.Errorf("qscope events: guest %s (pid %d): %w", g.Name, g.PID, err)}
		}
	}
	enc := json.NewEncoder(jsonOut{o.Stdout})
	for {
		ev, err := sub.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil // interrupted
			}
			cause := m.Err()
			if cause == nil {
				cause = err
			}
			return &exitError{code: 1, err: fmt.Errorf("qscope events: guest %s (pid %d) went away: %w", g.Name, g.PID, cause)}
		}
		if err := enc.Encode(ev); err != nil {
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return fmt.Errorf("qscope events: writing: %w", err)
		}
	}
}

// checkEventNames refuses filter names this QEMU never emits (a typo would
// otherwise wait silently forever), by its own query-qmp-schema. When the
// schema cannot be read the names are not checked.
func checkEventNames(ctx context.Context, m qmp.Monitor, filters []string) error {
	if len(filters) == 0 {
		return nil
	}
	var schema []struct {
		Name     string `json:"name"`
		MetaType string `json:"meta-type"`
	}
	if err := m.Execute(ctx, "query-qmp-schema", nil, &schema); err != nil {
		return nil
	}
	known := map[string]bool{}
	for _, e := range schema {
		if e.MetaType == "event" {
			known[e.Name] = true
		}
	}
	if len(known) == 0 {
		return nil
	}
	var unknown []string
	for _, f := range filters {
		if !known[f] {
			unknown = append(unknown, f)
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("this QEMU has no event %s (its query-qmp-schema lists %d events)", strings.Join(unknown, ", "), len(known))
	}
	return nil
}

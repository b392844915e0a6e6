package cli

import (
	"encoding/json"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/qscope/qscope/journal"
	"github.com/qscope/qscope/ui"
)

func init() { subcommands = append(subcommands, newHistoryCmd) }

func newHistoryCmd(o *Options) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "history [TARGET]",
		Short: "Show the journal of commands that changed guests",
		Long: `Show the journal: every command qscope sent that was not read-only, from
the command line or the terminal UI, oldest first. TARGET (a name, libvirt
domain, uuid or pid) keeps that guest's commands only.

The journal is $XDG_STATE_HOME/qscope/journal.jsonl (by default
~/.local/state/qscope/journal.jsonl). With --json each record is printed
as one JSON line, as stored.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var f journal.Filter
			if len(args) == 1 {
				f.Target = args[0]
			}
			path, err := journal.DefaultPath()
			if err != nil {
				return &exitError{code: exitCodeFailure, err: err}
			}
			var tw *tabwriter.Writer
			enc := json.NewEncoder(jsonOut{o.Stdout})
			if !asJSON {
				tw = tabwriter.NewWriter(o.Stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "TIME\tGUEST\tPID\tROUTE\tCLASS\tCOMMAND\tRESULT")
			}
			for r, err := range journal.Read(cmd.Context(), path, f) {
				if err != nil {
					if cmd.Context().Err() != nil {
						return nil
					}
					fmt.Fprintln(o.Stderr, "qscope history: warning:", ui.SanitizeLines(err.Error()))
					continue
				}
				if asJSON {
					if err := enc.Encode(r); err != nil {
						return err
					}
					continue
				}
				result := "ok"
				if r.Error != nil {
					result = r.Error.Class + ": " + r.Error.Desc
				}
				cmdline := r.Command
				if len(r.Arguments) > 0 {
					cmdline += " " + string(r.Arguments)
				}
				// Every text cell may quote a guest: listCell sanitises it.
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
					r.Time.Local().Format(time.DateTime), listCell(r.Guest.Name), strconv.Itoa(r.Guest.PID),
					listCell(r.Route), listCell(r.Class), listCell(cmdline), listCell(result))
			}
			if tw != nil {
				return tw.Flush()
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print each record as a JSON line")
	return cmd
}

package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/qscope/qscope/demo"
)

func init() {
	subcommands = append(subcommands, newDemoCmd)
	startDemo = startDemoGuests
}

// demoStopTimeout bounds the stop of the demo guests once the command
// ends (SIGTERM, a grace period, then SIGKILL).
const demoStopTimeout = 10 * time.Second

type demoFlags struct {
	noUI bool
	dir  string
	qemu string
}

func newDemoCmd(o *Options) *cobra.Command {
	var f demoFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Start three small demo QEMU guests and open the UI on them",
		Long: `demo starts three real QEMU guests, each booting a tiny image built into
qscope, each reachable through a different style of QMP monitor:

  demo-web    -qmp unix:DIR/demo-web.qmp, user network and a virtio NIC
  demo-db     -chardev socket + -mon (DIR/demo-db.qmp) and a second
              monitor (DIR/demo-db.mon2.qmp), a qcow2 data disk
  demo-build  -qmp-pretty on tcp 127.0.0.1 (a free port), two vCPUs

then opens the terminal UI (with --no-ui, or when standard output is not a
terminal, it prints where the guests are instead), and stops the guests
when the UI quits (or on Ctrl-C / SIGTERM). DIR is
$XDG_RUNTIME_DIR/qscope-demo, or qscope-demo-UID under the temporary
directory; each guest's serial output is in DIR/NAME.serial.log. A demo
that is already running is not started twice.

QEMU is qemu-system-x86_64 from PATH, or --qemu, or $QSCOPE_QEMU.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), o, f)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.noUI, "no-ui", false, "only start the guests, print where they are, and wait for Ctrl-C or SIGTERM")
	fl.StringVar(&f.dir, "dir", "", "state directory for sockets, logs and disks (default "+demo.DefaultDir()+")")
	fl.StringVar(&f.qemu, "qemu", "", "qemu-system-x86_64 binary (default $QSCOPE_QEMU, then PATH)")
	return cmd
}

func runDemo(ctx context.Context, o *Options, f demoFlags) (err error) {
	set, err := demo.Start(ctx, demo.Config{Dir: f.dir, QEMU: f.qemu})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), demoStopTimeout)
		defer cancel()
		if serr := set.Stop(sctx); serr != nil && err == nil {
			err = serr
		}
	}()

	if f.noUI || !isTerminal(o.Stdout) || os.Getenv("TERM") == "dumb" {
		printDemo(o.Stdout, set)
		fmt.Fprintln(o.Stdout, "Ctrl-C stops them.")
		<-ctx.Done()
		return nil
	}
	return runUI(ctx, o)
}

// startDemoGuests starts the default demo set for the UI's "start the
// demo guests" key; stop ends them (SIGTERM, grace period, SIGKILL).
func startDemoGuests(ctx context.Context) (stop func(), err error) {
	set, err := demo.Start(ctx, demo.Config{})
	if err != nil {
		return nil, err
	}
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), demoStopTimeout)
		defer cancel()
		set.Stop(sctx)
	}, nil
}

// printDemo lists the running demo guests and where to reach them.
func printDemo(w io.Writer, set *demo.Set) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPID\tMONITORS")
	for _, g := range set.Guests() {
		var mons []string
		for _, m := range g.Monitors {
			s := m.String()
			if m.Pretty {
				s += " (pretty)"
			}
			mons = append(mons, s)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\n", g.Name, g.PID, strings.Join(mons, ", "))
	}
	tw.Flush()
	fmt.Fprintf(w, "State, serial and QEMU logs in %s.\n", set.Dir())
}

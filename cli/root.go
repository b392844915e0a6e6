// Package cli holds qscope's command line: the terminal UI (the default
// command) and the scripting commands (list, qmp, events, history, demo).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/qscope/qscope/ui"
)

// Options are the flags shared by every command.
type Options struct {
	// LibvirtURI is the libvirt connection (--connect, $QSCOPE_LIBVIRT_URI,
	// $LIBVIRT_DEFAULT_URI, default qemu:///system); "none" turns the
	// libvirt source off.
	LibvirtURI string
	// ReadOnly refuses every command that is not read-only.
	ReadOnly bool
	// LibvirtForce (qmp --force) sends commands libvirt tracks in its own
	// configuration (device_add, migrate, …) anyway.
	LibvirtForce bool
	// Interval is how often the live view rescans.
	Interval time.Duration
	// ProbeTimeout bounds each monitor probe during discovery.
	ProbeTimeout time.Duration

	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// subcommands are registered by the files that define them.
var subcommands []func(*Options) *cobra.Command

// rootRun runs the default command (the terminal UI); set by ui.go.
var rootRun func(ctx context.Context, o *Options) error

// Main runs the command line and returns the process exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o := &Options{Stdin: stdin, Stdout: stdout, Stderr: stderr}
	root := newRoot(o)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	// Errors quote what guests say (names in NotFound and Ambiguous
	// errors, QMP and HMP error texts): they are sanitised. Newlines stay,
	// as errors.Join puts one cause on each line.
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(stderr, ui.SanitizeLines(ee.err.Error()))
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "qscope:", ui.SanitizeLines(err.Error()))
	return 1
}

// jsonOut is a writer for JSON output: what is written is escaped with
// ui.SanitizeJSON, so no control or bidi character a guest sent reaches
// the terminal raw (encoding/json escapes C0 controls but leaves C1 and
// bidi controls as they are) and the JSON means the same. Each Write
// must hold whole characters, as a json.Encoder's writes (one value each)
// do.
type jsonOut struct{ w io.Writer }

func (j jsonOut) Write(p []byte) (int, error) {
	if _, err := j.w.Write(ui.SanitizeJSON(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

func newRoot(o *Options) *cobra.Command {
	root := &cobra.Command{
		Use:   "qscope",
		Short: "See and troubleshoot every QEMU virtual machine on this host",
		Long: `qscope shows every QEMU virtual machine on this host in one live view,
whoever started it: by hand, by a script or by libvirt. Open one to see its
details, its events, and a QMP console with completion from the running
QEMU's own schema.

Without a command it opens the terminal UI; when standard output is not a
terminal (or TERM=dumb) it prints the guest list instead.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if rootRun == nil {
				return errors.New("the terminal UI is not built into this binary")
			}
			return rootRun(cmd.Context(), o)
		},
	}
	f := root.PersistentFlags()
	f.StringVarP(&o.LibvirtURI, "connect", "c", defaultLibvirtURI(), "libvirt URI (\"none\" to skip libvirt); also $QSCOPE_LIBVIRT_URI, $LIBVIRT_DEFAULT_URI")
	f.BoolVar(&o.ReadOnly, "readonly", false, "refuse every command that changes a guest")
	f.DurationVar(&o.Interval, "interval", time.Second, "how often the live view rescans")
	f.DurationVar(&o.ProbeTimeout, "probe-timeout", 300*time.Millisecond, "how long one monitor probe may take during discovery")
	for _, sub := range subcommands {
		root.AddCommand(sub(o))
	}
	usageErrors(root)
	return root
}

// usageErrors makes bad usage — wrong arguments, unknown flags or flag
// values — exit 2, as documented, rather than 1, which means that QEMU
// answered with an error.
func usageErrors(c *cobra.Command) {
	c.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{code: exitCodeFailure, err: fmt.Errorf("%s: %w (see --help)", c.CommandPath(), err)}
	})
	if args := c.Args; args != nil {
		c.Args = func(cmd *cobra.Command, a []string) error {
			if err := args(cmd, a); err != nil {
				return &exitError{code: exitCodeFailure, err: fmt.Errorf("%s: %w (see --help)", cmd.CommandPath(), err)}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		usageErrors(sub)
	}
}

func defaultLibvirtURI() string {
	for _, k := range []string{"QSCOPE_LIBVIRT_URI", "LIBVIRT_DEFAULT_URI"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return "qemu:///system"
}

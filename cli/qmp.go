package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/journal"
	"github.com/qscope/qscope/policy"
	"github.com/qscope/qscope/qmp"
	"github.com/qscope/qscope/qmp/virt"
	"github.com/qscope/qscope/ui"
)

func init() { subcommands = append(subcommands, newQMPCmd) }

// Exit codes of the scripting commands.
const (
	exitCodeQMP     = 1 // QEMU answered with an error
	exitCodeFailure = 2 // bad usage, guest not found or not reachable
	exitCodeRefused = 3 // refused: --readonly, or a destructive command not confirmed
)

func newQMPCmd(o *Options) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "qmp TARGET COMMAND [key=value ...] | qmp TARGET '<json request>'",
		Short: "Send one QMP command to a guest and print its return value",
		Long: `Send one QMP command to the guest TARGET (a name, pid or uuid) and print
QEMU's return value as indented JSON.

Arguments are key=value pairs as in qmp-shell: a value that is valid JSON
(a number, true, false, null, an object, an array, a quoted string) is
sent as that JSON, anything else as a string; dotted keys build nested
objects (a.b=1 sends {"a":{"b":1}}) and index arrays (a.0=x a.1=y sends
{"a":["x","y"]}). A single JSON object may be given
instead: either the arguments after COMMAND, or a whole request
{"execute": …, "arguments": …} in place of COMMAND.

Every command that is not read-only is appended to the journal (see
"qscope history"). --readonly refuses such commands; destructive ones
(quit, system_reset, device_del, …) need --yes, or a "y" at the prompt
when standard input is a terminal.

Libvirt's guests are reached through libvirt. There, commands whose effect
libvirt keeps in its own configuration (device_add, blockdev-add,
netdev_add, object-add, chardev-add, migrate, block_resize, …) are refused
with the libvirt-native way to do it (virsh attach-device, …), unless
--force is given.

Exit status: 0 on success, 1 when QEMU answered with an error (printed
as "Class: description" on standard error), 2 when the guest could not be
found or reached or the arguments are wrong, 3 when the command was
refused.`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runQMP(cmd.Context(), o, args[0], args[1:], yes)
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "send destructive commands without asking")
	cmd.Flags().BoolVar(&o.LibvirtForce, "force", false, "on a libvirt guest, send commands libvirt tracks in its own configuration (device_add, migrate, …) anyway")
	return cmd
}

// parseRequest turns the words after TARGET into a command and its
// arguments.
func parseRequest(words []string) (string, json.RawMessage, error) {
	first := strings.TrimSpace(words[0])
	if strings.HasPrefix(first, "{") {
		if len(words) > 1 {
			return "", nil, errors.New("a JSON request must be the only word after TARGET")
		}
		var req struct {
			Execute   string          `json:"execute"`
			ExecOOB   string          `json:"exec-oob"`
			Arguments json.RawMessage `json:"arguments"`
		}
		dec := json.NewDecoder(strings.NewReader(first))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return "", nil, fmt.Errorf("the request is not a QMP request object {\"execute\": …, \"arguments\": {…}}: %w", err)
		}
		if req.ExecOOB != "" {
			return "", nil, errors.New("exec-oob is not supported here: use execute")
		}
		if req.Execute == "" {
			return "", nil, errors.New("the request has no \"execute\" member")
		}
		if err := checkObject(req.Arguments); err != nil {
			return "", nil, err
		}
		return req.Execute, req.Arguments, nil
	}
	command := first
	rest := words[1:]
	if len(rest) == 1 && strings.HasPrefix(strings.TrimSpace(rest[0]), "{") {
		raw := json.RawMessage(strings.TrimSpace(rest[0]))
		if !json.Valid(raw) {
			return "", nil, fmt.Errorf("the arguments of %s are not valid JSON: %s", command, rest[0])
		}
		if err := checkObject(raw); err != nil {
			return "", nil, err
		}
		return command, raw, nil
	}
	args, err := parseKeyValues(rest)
	if err != nil {
		return "", nil, fmt.Errorf("arguments of %s: %w", command, err)
	}
	if args == nil {
		return command, nil, nil
	}
	b, err := json.Marshal(args)
	if err != nil {
		return "", nil, err
	}
	return command, b, nil
}

func checkObject(raw json.RawMessage) error {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) || t[0] == '{' {
		return nil
	}
	return errors.New("\"arguments\" must be a JSON object")
}

// parseKeyValues builds an arguments object from key=value words.
func parseKeyValues(words []string) (map[string]any, error) {
	if len(words) == 0 {
		return nil, nil
	}
	out := map[string]any{}
	for _, w := range words {
		key, val, ok := strings.Cut(w, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("%q is not key=value", w)
		}
		var v any
		if json.Valid([]byte(val)) {
			d := json.NewDecoder(strings.NewReader(val))
			d.UseNumber()
			if err := d.Decode(&v); err != nil {
				v = val
			}
		} else {
			v = val
		}
		parts := strings.Split(key, ".")
		m := out
		for i, p := range parts {
			if p == "" {
				return nil, fmt.Errorf("key %q has an empty part", key)
			}
			if i == len(parts)-1 {
				if _, dup := m[p]; dup {
					return nil, fmt.Errorf("key %q is given twice", key)
				}
				m[p] = v
				break
			}
			next, exists := m[p]
			if !exists {
				nm := map[string]any{}
				m[p] = nm
				m = nm
				continue
			}
			nm, isMap := next.(map[string]any)
			if !isMap {
				return nil, fmt.Errorf("key %q: %q already has a value that is not an object", key, strings.Join(parts[:i+1], "."))
			}
			m = nm
		}
	}
	v, err := indexArrays(out, "")
	if err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}

// indexArrays turns every object built from dotted keys whose keys are
// all array indexes (a.0.b=1 a.1.b=2) into an array, as QEMU's own
// key=value syntax does. QMP member names never start with a digit, so
// such an object cannot be meant as one.
func indexArrays(v any, path string) (any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return v, nil
	}
	numeric := len(m) > 0
	for k, kid := range m {
		conv, err := indexArrays(kid, strings.TrimPrefix(path+"."+k, "."))
		if err != nil {
			return nil, err
		}
		m[k] = conv
		if k == "" || k[0] < '0' || k[0] > '9' {
			numeric = false
		}
	}
	if !numeric || path == "" {
		return m, nil
	}
	arr := make([]any, len(m))
	for k, kid := range m {
		i, err := strconv.Atoi(k)
		if err != nil || i < 0 || i >= len(m) || strconv.Itoa(i) != k {
			return nil, fmt.Errorf("%s is indexed like an array, but its indexes do not run from 0 without a gap (%q)", path, k)
		}
		arr[i] = kid
	}
	return arr, nil
}

func runQMP(ctx context.Context, o *Options, target string, words []string, yes bool) error {
	command, args, err := parseRequest(words)
	if err != nil {
		return &exitError{code: exitCodeFailure, err: fmt.Errorf("qscope qmp: %w", err)}
	}
	class := policy.Classify(command, args)
	if class != policy.ReadOnly && o.ReadOnly {
		return &exitError{code: exitCodeRefused, err: fmt.Errorf("qscope qmp: refusing %s: it is %s and --readonly is set", command, class)}
	}

	// Without a journal nothing that changes a guest is sent.
	var j *journal.Journal
	if class != policy.ReadOnly {
		if j, err = journal.OpenDefault(); err != nil {
			return &exitError{code: exitCodeFailure, err: fmt.Errorf("qscope qmp: refusing to send %s unjournaled: %w", command, err)}
		}
		defer j.Close()
	}

	s := newScanner(o)
	defer s.Close()
	g, err := s.Find(ctx, target)
	if err != nil {
		return &exitError{code: exitCodeFailure, err: fmt.Errorf("qscope qmp: %w", err)}
	}
	// Ask before connecting, so the monitor is not held during the prompt.
	if class == policy.Destructive && !yes {
		ok, err := qmpConfirm(o, fmt.Sprintf("Send %s (destructive) to %s (pid %d)?", command, g.Name, g.PID))
		if err != nil {
			return &exitError{code: exitCodeRefused, err: fmt.Errorf("qscope qmp: refusing %s to %s: it is destructive; pass --yes to send it (%v)", command, g.Name, err)}
		}
		if !ok {
			return &exitError{code: exitCodeRefused, err: fmt.Errorf("qscope qmp: %s not sent", command)}
		}
	}
	m, err := newConnector(o, s).ConnectGuest(ctx, g)
	if err != nil {
		return &exitError{code: exitCodeFailure, err: fmt.Errorf("qscope qmp: %w", err)}
	}
	defer m.Close()
	if g.Owner == discover.OwnerLibvirt && g.Monitor != "" && o.LibvirtURI != "none" && g.Monitor != o.LibvirtURI {
		// A domain goes through the daemon that runs it, whatever
		// --connect says: say so rather than surprise.
		fmt.Fprintf(o.Stderr, "qscope qmp: %s is run by the libvirt daemon at %s, not %s: sending it there\n", ui.Sanitize(g.Name), ui.Sanitize(g.Monitor), ui.Sanitize(o.LibvirtURI))
	}

	mon := qmp.Monitor(m)
	if j != nil {
		mon = journal.Wrap(m, j, journal.SessionFor(g, "cli"))
	}

	var ret json.RawMessage
	var a any
	if args != nil {
		a = args
	}
	if err := mon.Execute(ctx, command, a, &ret); err != nil {
		var qe *qmp.Error
		if errors.As(err, &qe) {
			// QEMU's words, on one line (Main sanitises all errors, but
			// keeps newlines).
			return &exitError{code: exitCodeQMP, err: fmt.Errorf("%s: %s", ui.Sanitize(qe.Class), ui.Sanitize(qe.Desc))}
		}
		if errors.Is(err, virt.ErrTrackedByLibvirt) {
			return &exitError{code: exitCodeRefused, err: fmt.Errorf("qscope qmp: %w; pass --force to send it anyway", err)}
		}
		return &exitError{code: exitCodeFailure, err: fmt.Errorf("qscope qmp: %s on %s: %w", command, g.Name, err)}
	}
	if len(ret) == 0 {
		ret = json.RawMessage("{}")
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, ret, "", "  "); err != nil {
		buf.Reset()
		buf.Write(ret)
	}
	buf.WriteByte('\n')
	// QEMU's reply: C1 and bidi controls in its strings, and anything in
	// a reply that is not JSON, are written as \u escapes.
	if _, err = o.Stdout.Write(ui.SanitizeJSON(buf.Bytes())); err != nil {
		return err
	}
	// HMP's failures come in the text of a successful reply.
	var out string
	if command == "human-monitor-command" && json.Unmarshal(ret, &out) == nil {
		if msg, failed := qmp.HMPFailure(out); failed {
			return &exitError{code: exitCodeQMP, err: fmt.Errorf("%s: %s", journal.HMPErrorClass, ui.Sanitize(msg))}
		}
	}
	return nil
}

// qmpConfirm asks a yes/no question on the terminal. Without a terminal on
// standard input it returns an error: scripts pass --yes.
func qmpConfirm(o *Options, question string) (bool, error) {
	f, ok := o.Stdin.(*os.File)
	if !ok || !stdinTerminal(f) {
		return false, errors.New("standard input is not a terminal to confirm on")
	}
	fmt.Fprintf(o.Stderr, "%s [y/N] ", ui.Sanitize(question)) // it names the guest
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && line == "" {
		return false, err
	}
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes", nil
}

// stdinTerminal reports whether f is a terminal: one that has terminal
// attributes, not merely a character device such as /dev/null.
func stdinTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

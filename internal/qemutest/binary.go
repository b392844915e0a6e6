// Package qemutest starts real QEMU processes for tests.
//
// Two QEMU builds are used: Debian's 7.2 (/usr/bin/qemu-system-x86_64) and
// 10.0 from bookworm-backports, unpacked by scripts/setup. Binaries finds
// them; Start runs one with the monitors a test asks for and makes sure it is
// killed when the test ends.
//
// Environment:
//
//	QSCOPE_QEMU10         path of the 10.0 qemu-system-x86_64
//	QSCOPE_QEMU10_DATA    its data folder (given to QEMU as -L)
//	QSCOPE_QEMU10_DIR     where scripts/setup unpacked 10.0 (used when the two above are unset;
//	                      default /var/cache/qscope/qemu-10.0)
//	QSCOPE_QEMU10_MODULES its loadable modules folder (default: usr/lib/<triplet>/qemu
//	                      beside the data folder)
//	QSCOPE_REQUIRE_QEMU=1 a missing QEMU fails the test instead of skipping it
//
// QEMU loads some parts (display devices, UIs, block drivers) as modules
// when first needed: qom-list-types and -device help load all of them. It
// looks a module up in QEMU_MODULE_DIR first, then in the folder it was
// built for, /usr/lib/<triplet>/qemu, which holds Debian's 7.2 modules. A
// 10.0 that finds one of those refuses it and aborts on the next module it
// loads. So the 10.0 Binary carries QEMU_MODULE_DIR in Env, naming its own
// modules, and every process started from it must get Binary.Environ().
package qemutest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Binary is one QEMU build usable by tests.
type Binary struct {
	// Version is what the binary reports, e.g. "7.2.22" or "10.0.2".
	Version string
	// Path is the qemu-system-x86_64 executable.
	Path string
	// DataDir is given to QEMU as -L (its firmware and data files); empty for
	// the system build, which finds its own.
	DataDir string
	// Env holds "NAME=value" settings to add to the environment of every
	// process started from Path: QEMU_MODULE_DIR for a build unpacked away
	// from its usual place; empty for the system build. See Environ.
	Env []string
}

// Environ returns the environment to start Path with: this process's
// environment followed by Env (later entries win), for exec.Cmd.Env.
func (b Binary) Environ() []string {
	return append(os.Environ(), b.Env...)
}

// String names the build, suitable as a subtest name ("qemu-7.2.22").
func (b Binary) String() string { return "qemu-" + b.Version }

// Major returns the first number of Version (0 when unparsable).
func (b Binary) Major() int { m, _ := b.majorMinor(); return m }

// Minor returns the second number of Version (0 when unparsable).
func (b Binary) Minor() int { _, n := b.majorMinor(); return n }

func (b Binary) majorMinor() (int, int) {
	var major, minor int
	_, _ = fmt.Sscanf(b.Version, "%d.%d", &major, &minor)
	return major, minor
}

// Default locations.
const (
	SystemQEMU       = "/usr/bin/qemu-system-x86_64"
	DefaultQEMU10Dir = "/var/cache/qscope/qemu-10.0"
)

// Environment variable names.
const (
	EnvQEMU10     = "QSCOPE_QEMU10"
	EnvQEMU10Data = "QSCOPE_QEMU10_DATA"
	EnvQEMU10Dir  = "QSCOPE_QEMU10_DIR"
	// EnvQEMU10Modules names 10.0's module folder; see ModuleDir for the default.
	EnvQEMU10Modules = "QSCOPE_QEMU10_MODULES"
	EnvRequireQEMU   = "QSCOPE_REQUIRE_QEMU"
	// QEMUModuleDir is the variable QEMU reads its module folder from.
	QEMUModuleDir = "QEMU_MODULE_DIR"
)

// ModuleDir returns the module folder of a QEMU unpacked with its data
// folder at dataDir (ROOT/usr/share/qemu): the ROOT/usr/lib/<triplet>/qemu
// folder that holds *.so files, or "" if there is none.
func ModuleDir(dataDir string) string {
	if dataDir == "" {
		return ""
	}
	usr := filepath.Dir(filepath.Dir(filepath.Clean(dataDir)))
	mods, _ := filepath.Glob(filepath.Join(usr, "lib", "*", "qemu", "*.so"))
	if len(mods) == 0 {
		return ""
	}
	return filepath.Dir(mods[0])
}

type probed struct {
	bin Binary
	err error
}

var (
	probeOnce sync.Once
	probes    []probed
)

// candidate is a build we look for, with the version prefix it must report.
type candidate struct {
	want    string // "7.2" or "10.0"
	path    string
	dataDir string
	modDir  string // QEMU_MODULE_DIR; "" when dataDir is "" (the system build)
	hint    string
}

func candidates() []candidate {
	q10, q10data := os.Getenv(EnvQEMU10), os.Getenv(EnvQEMU10Data)
	if q10 == "" {
		dir := os.Getenv(EnvQEMU10Dir)
		if dir == "" {
			dir = DefaultQEMU10Dir
		}
		q10 = filepath.Join(dir, "usr/bin/qemu-system-x86_64")
		if q10data == "" {
			q10data = filepath.Join(dir, "usr/share/qemu")
		}
	} else if q10data == "" {
		// $dir/usr/bin/qemu-system-x86_64 -> $dir/usr/share/qemu
		q10data = filepath.Join(filepath.Dir(filepath.Dir(q10)), "share/qemu")
	}
	q10mods := os.Getenv(EnvQEMU10Modules)
	if q10mods == "" {
		q10mods = ModuleDir(q10data)
	}
	return []candidate{
		{want: "7.2", path: SystemQEMU, hint: "apt-get install qemu-system-x86 (or run scripts/setup)"},
		{want: "10.0", path: q10, dataDir: q10data, modDir: q10mods, hint: "run scripts/setup, or set " + EnvQEMU10 + ", " + EnvQEMU10Data + " and " + EnvQEMU10Modules},
	}
}

var versionRE = regexp.MustCompile(`QEMU emulator version ([0-9]+\.[0-9]+(?:\.[0-9]+)?)`)

func probe(c candidate) (Binary, error) {
	b := Binary{Path: c.path, DataDir: c.dataDir}
	if _, err := os.Stat(c.path); err != nil {
		return b, fmt.Errorf("QEMU %s not found: %v (%s)", c.want, err, c.hint)
	}
	if c.dataDir != "" {
		if _, err := os.Stat(c.dataDir); err != nil {
			return b, fmt.Errorf("QEMU %s data folder: %v (%s)", c.want, err, c.hint)
		}
		// Without its own modules it would load the system build's and abort.
		if c.modDir == "" {
			return b, fmt.Errorf("QEMU %s: no module folder (usr/lib/<triplet>/qemu with *.so files) beside %s (%s)", c.want, c.dataDir, c.hint)
		}
		if _, err := os.Stat(c.modDir); err != nil {
			return b, fmt.Errorf("QEMU %s module folder: %v (%s)", c.want, err, c.hint)
		}
		b.Env = []string{QEMUModuleDir + "=" + c.modDir}
	}
	var lflag []string
	if c.dataDir != "" {
		lflag = []string{"-L", c.dataDir}
	}
	out, _, err := b.run(append(lflag, "--version")...)
	if err != nil {
		return b, fmt.Errorf("QEMU %s: %w", c.want, err)
	}
	m := versionRE.FindStringSubmatch(out)
	if m == nil {
		return b, fmt.Errorf("QEMU %s: %s --version printed no version: %q", c.want, c.path, out)
	}
	b.Version = m[1]
	if b.Version != c.want && !strings.HasPrefix(b.Version, c.want+".") {
		return b, fmt.Errorf("QEMU %s: %s reports version %s (%s)", c.want, c.path, b.Version, c.hint)
	}
	// -device help loads every device module and says nothing on stderr
	// when they all load. A module of another build is refused (and often
	// aborts QEMU on the next one), one missing a library fails to open:
	// better said here than found as a dead guest in the middle of a test.
	_, stderr, err := b.run(append(lflag, "-device", "help")...)
	if err == nil && strings.TrimSpace(stderr) != "" {
		err = fmt.Errorf("%s -device help: %s", c.path, lastLines(stderr, 4))
	}
	if err != nil {
		return b, fmt.Errorf("QEMU %s: modules do not load: %w (%s)", c.want, err, c.hint)
	}
	return b, nil
}

// run runs the binary with args and b's environment, and returns its
// standard output and error.
func (b Binary) run(args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, b.Path, args...)
	cmd.Env = b.Environ()
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		line := strings.Join(append(append(slices.Clip(b.Env), b.Path), args...), " ")
		return out.String(), errOut.String(), fmt.Errorf("%s: %w: %s", line, err, lastLines(errOut.String()+out.String(), 4))
	}
	return out.String(), errOut.String(), nil
}

// lastLines returns the last n lines of s, trimmed.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func probeAll() []probed {
	probeOnce.Do(func() {
		for _, c := range candidates() {
			b, err := probe(c)
			probes = append(probes, probed{b, err})
		}
	})
	return probes
}

// Required reports whether QSCOPE_REQUIRE_QEMU asks for QEMU to be present.
func Required() bool {
	v := os.Getenv(EnvRequireQEMU)
	return v != "" && v != "0" && !strings.EqualFold(v, "false")
}

// Binaries returns Debian's QEMU 7.2 and the backported 10.0, in that order.
// If either is missing or broken the test is skipped, or fails when
// QSCOPE_REQUIRE_QEMU=1. Versions are probed once per test binary.
func Binaries(t testing.TB) []Binary {
	t.Helper()
	var bins []Binary
	var problems []string
	for _, p := range probeAll() {
		if p.err != nil {
			problems = append(problems, p.err.Error())
			continue
		}
		bins = append(bins, p.bin)
	}
	if len(problems) > 0 {
		msg := "qemutest: " + strings.Join(problems, "; ")
		if Required() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bins
}

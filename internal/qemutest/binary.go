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
//	QSCOPE_REQUIRE_QEMU=1 a missing QEMU fails the test instead of skipping it
package qemutest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
	EnvQEMU10      = "QSCOPE_QEMU10"
	EnvQEMU10Data  = "QSCOPE_QEMU10_DATA"
	EnvQEMU10Dir   = "QSCOPE_QEMU10_DIR"
	EnvRequireQEMU = "QSCOPE_REQUIRE_QEMU"
)

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
	return []candidate{
		{want: "7.2", path: SystemQEMU, hint: "apt-get install qemu-system-x86 (or run scripts/setup)"},
		{want: "10.0", path: q10, dataDir: q10data, hint: "run scripts/setup, or set " + EnvQEMU10 + " and " + EnvQEMU10Data},
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
	}
	args := []string{"--version"}
	if c.dataDir != "" {
		args = []string{"-L", c.dataDir, "--version"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, c.path, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return b, fmt.Errorf("QEMU %s: %s %s: %v: %s", c.want, c.path, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	m := versionRE.FindStringSubmatch(out.String())
	if m == nil {
		return b, fmt.Errorf("QEMU %s: %s --version printed no version: %q", c.want, c.path, out.String())
	}
	b.Version = m[1]
	if b.Version != c.want && !strings.HasPrefix(b.Version, c.want+".") {
		return b, fmt.Errorf("QEMU %s: %s reports version %s (%s)", c.want, c.path, b.Version, c.hint)
	}
	return b, nil
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

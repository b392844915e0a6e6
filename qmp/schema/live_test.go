package schema_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/qscope/qscope/internal/qemutest"
	"github.com/qscope/qscope/qmp"
	"github.com/qscope/qscope/qmp/qmptest"
	"github.com/qscope/qscope/qmp/schema"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// guest is one real QEMU with a client on its monitor.
type guest struct {
	bin    qemutest.Binary
	client *qmp.Client
	tr     *qmptest.Transcript
}

func startGuest(t testing.TB, b qemutest.Binary) *guest {
	t.Helper()
	inst := qemutest.Start(t, b, qemutest.Options{Paused: true})
	tr := &qmptest.Transcript{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	mon := inst.Monitors[0]
	c, err := qmp.Dial(ctx, mon.Network, mon.Address, qmp.WithTranscript(tr))
	if err != nil {
		t.Fatalf("dialling %s: %v", b, err)
	}
	t.Cleanup(func() { c.Close() })
	return &guest{bin: b, client: c, tr: tr}
}

// expected counts of the Debian builds, as measured (FIELD-NOTES).
var counts = map[string][2]int{
	"7.2":  {216, 52},
	"10.0": {233, 55},
}

func majorMinor(v string) string {
	p := strings.SplitN(v, ".", 3)
	if len(p) < 2 {
		return v
	}
	return p[0] + "." + p[1]
}

var (
	enumRE   = regexp.MustCompile(`enum\([^)]*\)`)
	numberRE = regexp.MustCompile(`\b[0-9]+\b`)
)

func TestLiveSchemaAndCache(t *testing.T) {
	for _, b := range qemutest.Binaries(t) {
		t.Run(b.String(), func(t *testing.T) {
			g := startGuest(t, b)
			ctx := context.Background()
			dir := filepath.Join(t.TempDir(), "cache", "qscope", "schema")
			l := &schema.Loader{Dir: dir}

			s, err := l.Load(ctx, g.client)
			if err != nil {
				t.Fatal(err)
			}
			if s.Source != schema.FromLive || s.NamesOnly {
				t.Fatalf("first load: source %s, names only %v; want live with types", s.Source, s.NamesOnly)
			}
			if s.Version != b.Version {
				t.Errorf("version %q, binary says %q", s.Version, b.Version)
			}
			want, ok := counts[majorMinor(b.Version)]
			if !ok {
				t.Fatalf("no expected counts for %s", b.Version)
			}
			if got := [2]int{len(s.CommandNames()), len(s.EventNames())}; got != want {
				t.Errorf("commands/events = %v, want %v", got, want)
			}

			// Readable types only: no masked numeric names anywhere.
			for _, c := range s.Commands() {
				for _, txt := range []string{c.Args.String(), c.Returns.String(), c.Returns.Short(4)} {
					if numberRE.MatchString(enumRE.ReplaceAllString(txt, "")) {
						t.Errorf("%s: type rendered with a masked name: %s", c.Name, txt)
					}
				}
				for _, m := range c.Args.AllMembers("") {
					if txt := m.Type.Short(6); numberRE.MatchString(enumRE.ReplaceAllString(txt, "")) {
						t.Errorf("%s.%s: type rendered with a masked name: %s", c.Name, m.Name, txt)
					}
				}
			}
			if got := s.Command("device_add").Args.String(); got != "{driver, bus?, id?}" {
				t.Errorf("device_add arguments = %s", got)
			}
			if got := s.Command("query-status").Returns.Short(6); got != "query-status result" {
				t.Errorf("query-status returns %s", got)
			}
			if st := s.Command("query-status").Returns.Member("status", ""); st == nil || st.Type.Kind != schema.Enum || !strings.Contains(st.Type.String(), "running|") {
				t.Errorf("query-status status member: %+v", st)
			}
			ba := s.Command("blockdev-add").Args
			if ba.Tag != "driver" || ba.Variant("qcow2") == nil || ba.Member("file", "qcow2") == nil || ba.Member("file", "") != nil {
				t.Errorf("blockdev-add is not a union on driver with qcow2's file member")
			}
			if f := ba.Member("file", "qcow2"); f.Type.Kind != schema.Alternate || !strings.HasSuffix(f.Type.String(), "|str") {
				t.Errorf("qcow2 file: %s, want an alternate ending in |str", f.Type)
			}
			if !s.Command("migrate-pause").AllowOOB || s.Command("query-status").AllowOOB {
				t.Error("allow-oob not read")
			}
			if !s.Command("x-query-roms").Unstable() {
				t.Error("x-query-roms not unstable")
			}
			if b.Major() >= 10 && !s.Command("drive-backup").Deprecated() {
				t.Error("drive-backup not deprecated on 10.0")
			}
			if ev := s.Event("SHUTDOWN"); ev == nil || ev.Data.Member("guest", "") == nil {
				t.Error("SHUTDOWN event data not read")
			}

			// The cache: 0700 directory, one 0600 file.
			st, err := os.Stat(dir)
			if err != nil || st.Mode().Perm() != 0o700 {
				t.Fatalf("cache dir: %v %v", st.Mode(), err)
			}
			files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
			if len(files) != 1 {
				t.Fatalf("cache files: %v", files)
			}
			if st, _ := os.Stat(files[0]); st.Mode().Perm() != 0o600 {
				t.Errorf("cache file mode %v", st.Mode().Perm())
			}

			// Second open: from the cache, without query-qmp-schema.
			before := len(g.tr.Sent())
			s2, err := l.Load(ctx, g.client)
			if err != nil {
				t.Fatal(err)
			}
			if s2.Source != schema.FromCache {
				t.Errorf("second load from %s", s2.Source)
			}
			for _, line := range g.tr.Sent()[before:] {
				if strings.Contains(line, "query-qmp-schema") {
					t.Errorf("second load asked QEMU: %s", line)
				}
			}
			if len(s2.CommandNames()) != len(s.CommandNames()) || s2.Types() != s.Types() {
				t.Errorf("cached schema differs: %d/%d commands, %d/%d types", len(s2.CommandNames()), len(s.CommandNames()), s2.Types(), s.Types())
			}

			// Corruption in several forms: each is rebuilt from QEMU.
			good, _ := os.ReadFile(files[0])
			for name, bad := range map[string][]byte{
				"truncated": good[:len(good)/2],
				"garbage":   []byte("\x00\xffnot json"),
				"flipped":   bytes.Replace(good, []byte(`"query-status"`), []byte(`"query-statuz"`), 1),
				"empty":     {},
			} {
				if err := os.WriteFile(files[0], bad, 0o600); err != nil {
					t.Fatal(err)
				}
				s3, err := l.Load(ctx, g.client)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if s3.Source != schema.FromLive || s3.Command("query-status") == nil {
					t.Errorf("%s cache: source %s; want a rebuild from QEMU", name, s3.Source)
				}
				again, _ := os.ReadFile(files[0])
				if !bytes.Equal(again, good) {
					t.Errorf("%s cache was not rewritten", name)
				}
			}
			// A file of the same name written for another QEMU is not used.
			var cf map[string]json.RawMessage
			_ = json.Unmarshal(good, &cf)
			cf["package"] = json.RawMessage(`"another build"`)
			other, _ := json.Marshal(cf)
			os.WriteFile(files[0], other, 0o600)
			if s4, err := l.Load(ctx, g.client); err != nil || s4.Source != schema.FromLive {
				t.Errorf("cache of another package used: %v %v", s4.Source, err)
			}
		})
	}
}

func TestDefaultCacheDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/x/cache")
	if d, _ := schema.DefaultCacheDir(); d != "/x/cache/qscope/schema" {
		t.Errorf("with XDG_CACHE_HOME: %s", d)
	}
	t.Setenv("XDG_CACHE_HOME", "relative")
	t.Setenv("HOME", "/home/u")
	if d, _ := schema.DefaultCacheDir(); d != "/home/u/.cache/qscope/schema" {
		t.Errorf("relative XDG_CACHE_HOME: %s", d)
	}
}

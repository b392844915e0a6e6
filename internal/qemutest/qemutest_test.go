package qemutest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// rawMonitor is a deliberately minimal QMP client for checking the helper
// itself: it must not depend on the project's qmp package.
type rawMonitor struct {
	t      *testing.T
	conn   net.Conn
	r      *bufio.Reader
	dec    *json.Decoder // pretty monitors only
	pretty bool
}

type greeting struct {
	QMP *struct {
		Version struct {
			QEMU struct {
				Major, Minor, Micro int
			} `json:"qemu"`
			Package string `json:"package"`
		} `json:"version"`
		Capabilities []string `json:"capabilities"`
	} `json:"QMP"`
}

func dialMonitor(t *testing.T, m Monitor) *rawMonitor {
	t.Helper()
	c, err := m.Dial(5 * time.Second)
	if err != nil {
		t.Fatalf("dial %s %s: %v", m.Network, m.Address, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	rm := &rawMonitor{t: t, conn: c, r: bufio.NewReader(c), pretty: m.Pretty}
	if m.Pretty {
		rm.dec = json.NewDecoder(rm.r)
	}
	return rm
}

// next reads one JSON message. Non-pretty monitors must send exactly one
// object per CRLF-terminated line; pretty ones spread it over several lines.
func (rm *rawMonitor) next(timeout time.Duration) (json.RawMessage, error) {
	_ = rm.conn.SetReadDeadline(time.Now().Add(timeout))
	defer func() { _ = rm.conn.SetReadDeadline(time.Time{}) }()
	if rm.pretty {
		var msg json.RawMessage
		if err := rm.dec.Decode(&msg); err != nil {
			return nil, err
		}
		if !bytes.Contains(msg, []byte("\n")) {
			return nil, fmt.Errorf("pretty monitor sent a single-line message: %s", msg)
		}
		return msg, nil
	}
	line, err := rm.r.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	if !bytes.HasSuffix(line, []byte("}\r\n")) {
		return nil, fmt.Errorf("line not framed as one object + CRLF: %q", line)
	}
	if !json.Valid(line) {
		return nil, fmt.Errorf("invalid JSON line: %q", line)
	}
	return json.RawMessage(bytes.TrimSpace(line)), nil
}

func (rm *rawMonitor) greeting(want Binary) {
	rm.t.Helper()
	msg, err := rm.next(10 * time.Second)
	if err != nil {
		rm.t.Fatalf("reading greeting: %v", err)
	}
	var g greeting
	if err := json.Unmarshal(msg, &g); err != nil || g.QMP == nil {
		rm.t.Fatalf("not a QMP greeting: %s (%v)", msg, err)
	}
	v := g.QMP.Version.QEMU
	if got := fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Micro); got != want.Version && got != want.Version+".0" {
		rm.t.Errorf("greeting version %s, want %s (%s)", got, want.Version, msg)
	}
	if !strings.Contains(g.QMP.Version.Package, "Debian") {
		rm.t.Errorf("greeting package %q: want a Debian build", g.QMP.Version.Package)
	}
	found := false
	for _, c := range g.QMP.Capabilities {
		found = found || c == "oob"
	}
	if !found {
		rm.t.Errorf("greeting capabilities %v lack oob", g.QMP.Capabilities)
	}
}

// execute sends a command and returns its "return" value, skipping events.
func (rm *rawMonitor) execute(cmd string, args any) json.RawMessage {
	rm.t.Helper()
	req := map[string]any{"execute": cmd, "id": cmd}
	if args != nil {
		req["arguments"] = args
	}
	data, _ := json.Marshal(req)
	if _, err := rm.conn.Write(append(data, '\n')); err != nil {
		rm.t.Fatalf("%s: write: %v", cmd, err)
	}
	for {
		msg, err := rm.next(10 * time.Second)
		if err != nil {
			rm.t.Fatalf("%s: read: %v", cmd, err)
		}
		var resp struct {
			Event  string          `json:"event"`
			ID     string          `json:"id"`
			Return json.RawMessage `json:"return"`
			Error  json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(msg, &resp); err != nil {
			rm.t.Fatalf("%s: %v: %s", cmd, err, msg)
		}
		if resp.Event != "" {
			continue
		}
		if resp.ID != cmd {
			rm.t.Fatalf("%s: reply with id %q: %s", cmd, resp.ID, msg)
		}
		if resp.Error != nil {
			rm.t.Fatalf("%s: error reply: %s", cmd, resp.Error)
		}
		return resp.Return
	}
}

func compact(t *testing.T, msg json.RawMessage) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, msg); err != nil {
		t.Fatalf("compact %s: %v", msg, err)
	}
	return buf.String()
}

func TestBinaries(t *testing.T) {
	bins := Binaries(t)
	if len(bins) != 2 {
		t.Fatalf("Binaries returned %d builds, want 2: %v", len(bins), bins)
	}
	if bins[0].Major() != 7 || bins[0].Minor() != 2 || bins[0].Path != SystemQEMU || bins[0].DataDir != "" {
		t.Errorf("first build %+v, want Debian's 7.2 at %s", bins[0], SystemQEMU)
	}
	if bins[1].Major() != 10 || bins[1].Minor() != 0 || bins[1].DataDir == "" {
		t.Errorf("second build %+v, want 10.0 with a data folder", bins[1])
	}
	if len(bins[0].Env) != 0 {
		t.Errorf("system build carries environment %v, want none", bins[0].Env)
	}
	// 10.0 names its own module folder, holding modules, not the system one.
	if len(bins[1].Env) != 1 || !strings.HasPrefix(bins[1].Env[0], QEMUModuleDir+"=") {
		t.Fatalf("10.0 environment %v, want one %s setting", bins[1].Env, QEMUModuleDir)
	}
	mods := strings.TrimPrefix(bins[1].Env[0], QEMUModuleDir+"=")
	if so, _ := filepath.Glob(filepath.Join(mods, "*.so")); len(so) == 0 {
		t.Errorf("10.0 module folder %s holds no modules", mods)
	}
	if sys := systemModuleDir(t); mods == sys {
		t.Errorf("10.0 module folder is the system build's %s", sys)
	}
	for _, b := range bins {
		if st, err := os.Stat(b.Path); err != nil || st.Mode()&0o111 == 0 {
			t.Errorf("%s: %s not executable: %v", b, b.Path, err)
		}
		if b.String() != "qemu-"+b.Version {
			t.Errorf("String() = %q", b.String())
		}
	}
	// Probed once: a second call returns the same answer.
	again := Binaries(t)
	if fmt.Sprint(again) != fmt.Sprint(bins) {
		t.Errorf("second call %v != first %v", again, bins)
	}
}

func TestProbeRejectsWrongVersion(t *testing.T) {
	bins := Binaries(t)
	// Debian's 7.2 offered where 10.0 is expected must be refused, with the reason.
	_, err := probe(candidate{want: "10.0", path: bins[0].Path, hint: "hint"})
	if err == nil || !strings.Contains(err.Error(), "reports version "+bins[0].Version) {
		t.Errorf("probe of %s as 10.0: err = %v", bins[0].Path, err)
	}
	_, err = probe(candidate{want: "10.0", path: filepath.Join(t.TempDir(), "missing"), hint: "hint"})
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("probe of a missing file: err = %v", err)
	}
}

func TestCandidatesFromEnv(t *testing.T) {
	t.Setenv(EnvQEMU10, "")
	t.Setenv(EnvQEMU10Data, "")
	t.Setenv(EnvQEMU10Modules, "")
	root := t.TempDir()
	t.Setenv(EnvQEMU10Dir, root)
	fakeModules(t, root)
	c := candidates()
	if c[1].path != root+"/usr/bin/qemu-system-x86_64" || c[1].dataDir != root+"/usr/share/qemu" ||
		c[1].modDir != root+"/usr/lib/x86_64-linux-gnu/qemu" {
		t.Errorf("from %s: %+v", EnvQEMU10Dir, c[1])
	}
	t.Setenv(EnvQEMU10Dir, "/opt/q10")
	c = candidates()
	if c[1].path != "/opt/q10/usr/bin/qemu-system-x86_64" || c[1].dataDir != "/opt/q10/usr/share/qemu" || c[1].modDir != "" {
		t.Errorf("from %s without modules: %+v", EnvQEMU10Dir, c[1])
	}
	t.Setenv(EnvQEMU10Modules, "/mods")
	if c = candidates(); c[1].modDir != "/mods" {
		t.Errorf("from %s: %+v", EnvQEMU10Modules, c[1])
	}
	if c[0].modDir != "" {
		t.Errorf("system candidate given a module folder: %+v", c[0])
	}
	t.Setenv(EnvQEMU10, "/x/usr/bin/qemu-system-x86_64")
	c = candidates()
	if c[1].path != "/x/usr/bin/qemu-system-x86_64" || c[1].dataDir != "/x/usr/share/qemu" {
		t.Errorf("from %s alone: %+v", EnvQEMU10, c[1])
	}
	t.Setenv(EnvQEMU10Data, "/data")
	if c = candidates(); c[1].dataDir != "/data" {
		t.Errorf("from %s: %+v", EnvQEMU10Data, c[1])
	}
	if c[0].path != SystemQEMU || c[0].want != "7.2" {
		t.Errorf("system candidate %+v", c[0])
	}
}

func TestMonitorStyles(t *testing.T) {
	cases := []struct {
		name   string
		styles []MonitorStyle
	}{
		{"default", nil},
		{"fd", []MonitorStyle{MonitorFD}},
		{"qmp-unix", []MonitorStyle{MonitorQMPUnix}},
		{"qmp-tcp", []MonitorStyle{MonitorQMPTCP}},
		{"qmp-pretty", []MonitorStyle{MonitorQMPPretty}},
		{"chardev", []MonitorStyle{MonitorChardev}},
		{"several", []MonitorStyle{MonitorFD, MonitorQMPUnix, MonitorQMPTCP, MonitorQMPPretty, MonitorChardev, MonitorFD, MonitorQMPUnix}},
		{"none", []MonitorStyle{MonitorNone}},
	}
	for _, b := range Binaries(t) {
		t.Run(b.String(), func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					checkStyles(t, b, tc.styles)
				})
			}
		})
	}
}

func checkStyles(t *testing.T, b Binary, styles []MonitorStyle) {
	inst := Start(t, b, Options{Monitors: styles, Name: "qstest", Paused: true})
	want := len(styles)
	if styles == nil {
		want = 1
	} else if styles[0] == MonitorNone {
		want = 0
	}
	if len(inst.Monitors) != want {
		t.Fatalf("%d monitors, want %d: %+v", len(inst.Monitors), want, inst.Monitors)
	}
	if want == 0 {
		for _, a := range inst.Cmd.Args {
			if a == "-qmp" || a == "-mon" || a == "-qmp-pretty" || a == "-monitor" {
				t.Errorf("monitor option %s on a MonitorNone command line: %v", a, inst.Cmd.Args)
			}
		}
		time.Sleep(200 * time.Millisecond)
		if inst.Exited() {
			t.Fatalf("QEMU without monitor exited: %v\n%s", inst.Wait(), inst.Stderr())
		}
		return
	}

	// Every monitor greets and answers; connect to all of them at once.
	mons := make([]*rawMonitor, len(inst.Monitors))
	for i, m := range inst.Monitors {
		if styles != nil && m.Style != styles[i] {
			t.Errorf("monitor %d style %s, want %s", i, m.Style, styles[i])
		}
		if (m.Style == MonitorQMPTCP) != (m.Network == "tcp") {
			t.Errorf("monitor %d: style %s on network %s", i, m.Style, m.Network)
		}
		if m.Network == "unix" && len(m.Address) >= 108 {
			t.Errorf("socket path too long for sun_path: %s", m.Address)
		}
		mons[i] = dialMonitor(t, m)
	}
	for i, rm := range mons {
		rm.greeting(b)
		if got := compact(t, rm.execute("qmp_capabilities", nil)); got != "{}" {
			t.Errorf("monitor %d: qmp_capabilities returned %s", i, got)
		}
		var status struct {
			Status  string `json:"status"`
			Running bool   `json:"running"`
		}
		if err := json.Unmarshal(rm.execute("query-status", nil), &status); err != nil {
			t.Fatal(err)
		}
		if status.Running || status.Status != "prelaunch" {
			t.Errorf("monitor %d: -S instance status %+v, want prelaunch", i, status)
		}
	}

	// The helper's notion of each monitor matches QEMU's own chardev table.
	var chardevs []struct {
		Label    string `json:"label"`
		Filename string `json:"filename"`
	}
	if err := json.Unmarshal(mons[0].execute("query-chardev", nil), &chardevs); err != nil {
		t.Fatal(err)
	}
	byLabel := map[string]string{}
	for _, c := range chardevs {
		byLabel[c.Label] = c.Filename
	}
	for i, m := range inst.Monitors {
		fn, ok := byLabel[m.ChardevID]
		if !ok {
			t.Errorf("monitor %d: chardev %q not in query-chardev %+v", i, m.ChardevID, chardevs)
			continue
		}
		// Connected monitors show "unix:PATH,server=on" or similar.
		wantIn := m.Address
		if m.Network == "tcp" {
			_, port, _ := net.SplitHostPort(m.Address)
			wantIn = ":" + port
		}
		if !strings.Contains(fn, wantIn) {
			t.Errorf("monitor %d (%s): chardev %s filename %q lacks %q", i, m.Style, m.ChardevID, fn, wantIn)
		}
	}

	var name struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(mons[len(mons)-1].execute("query-name", nil), &name); err != nil || name.Name != "qstest" {
		t.Errorf("query-name = %+v, %v; want qstest", name, err)
	}
}

// A stopped QEMU accepts connections but does not greet: the situation a
// client must survive. Continued, it greets at once.
func TestStopContKillWait(t *testing.T) {
	for _, b := range Binaries(t) {
		t.Run(b.String(), func(t *testing.T) {
			t.Parallel()
			inst := Start(t, b, Options{})
			if err := inst.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			rm := dialMonitor(t, inst.Monitor())
			if msg, err := rm.next(300 * time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("stopped QEMU: read got %s, %v; want a timeout", msg, err)
			}
			if err := inst.Signal(syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
			rm.greeting(b)
			if inst.Exited() {
				t.Fatal("Exited() true for a running QEMU")
			}

			if err := inst.Kill(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-inst.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("QEMU still running 10s after SIGKILL")
			}
			var ee *exec.ExitError
			if err := inst.Wait(); !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Errorf("Wait() = %v, want killed by SIGKILL", err)
			}
			if err2 := inst.Wait(); err2 != inst.Wait() {
				t.Error("Wait is not idempotent")
			}
			if !inst.Exited() {
				t.Error("Exited() false after Wait")
			}
			if err := inst.Kill(); !errors.Is(err, os.ErrProcessDone) {
				t.Errorf("Kill after exit = %v, want ErrProcessDone", err)
			}
			if _, err := rm.next(2 * time.Second); err == nil {
				t.Error("connection to a killed QEMU still delivers data")
			}
		})
	}
}

// quit ends QEMU with status 0; the helper's Wait reports it.
func TestQuit(t *testing.T) {
	for _, b := range Binaries(t) {
		t.Run(b.String(), func(t *testing.T) {
			t.Parallel()
			inst := Start(t, b, Options{Machine: "q35", Serial: true, Name: "guest=qsq,process=qs-proc"})
			rm := dialMonitor(t, inst.Monitor())
			rm.greeting(b)
			// The greeting comes from QEMU's monitor I/O thread and may precede
			// the end of its initialization; a command reply comes from the
			// main loop, which runs only once initialization is done.
			rm.execute("qmp_capabilities", nil)
			comm, err := os.ReadFile("/proc/" + strconv.Itoa(inst.PID) + "/comm")
			if err != nil || strings.TrimSpace(string(comm)) != "qs-proc" {
				t.Errorf("process name %q (%v), want qs-proc from -name process=", comm, err)
			}
			if st, err := os.Stat(inst.SerialPath); err != nil || !st.Mode().IsRegular() {
				t.Errorf("serial file %s: %v", inst.SerialPath, err)
			}
			rm.execute("quit", nil)
			select {
			case <-inst.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("QEMU still running 10s after quit")
			}
			if err := inst.Wait(); err != nil {
				t.Errorf("Wait after quit = %v, want nil\n%s", err, inst.Stderr())
			}
		})
	}
}

// Cleanup kills QEMU (even a stopped one), reaps it and removes its folder.
func TestCleanup(t *testing.T) {
	b := Binaries(t)[0]
	var inst *Instance
	t.Run("inner", func(t *testing.T) {
		inst = Start(t, b, Options{Monitors: []MonitorStyle{MonitorQMPUnix}})
		if err := inst.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(inst.Dir); err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("Dir %s: mode %v, %v; want 0700", inst.Dir, st.Mode().Perm(), err)
		}
	})
	if !inst.Exited() {
		t.Fatal("QEMU still running after its test ended")
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(inst.PID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("process %d not reaped: %v", inst.PID, err)
	}
	if _, err := os.Stat(inst.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Dir %s not removed: %v", inst.Dir, err)
	}
}

// A QEMU that refuses its command line is reported with its own message.
func TestStartFailureCarriesQEMUOutput(t *testing.T) {
	for _, b := range Binaries(t) {
		t.Run(b.String(), func(t *testing.T) {
			inst, retry, err := start(t, b, Options{
				Monitors: []MonitorStyle{MonitorQMPUnix},
				Args:     []string{"-no-such-option"},
			})
			if err == nil {
				t.Fatalf("start succeeded: %v", inst.Cmd.Args)
			}
			if retry {
				t.Error("a bad option must not be retried")
			}
			if !strings.Contains(err.Error(), "-no-such-option") || !strings.Contains(err.Error(), "invalid option") {
				t.Errorf("error lacks QEMU's message: %v", err)
			}
		})
	}
}

func TestOptionValidation(t *testing.T) {
	b := Binary{Path: "/nonexistent", Version: "0"}
	for _, styles := range [][]MonitorStyle{{MonitorNone, MonitorFD}, {MonitorStyle(42)}} {
		if _, _, err := start(t, b, Options{Monitors: styles}); err == nil {
			t.Errorf("styles %v accepted", styles)
		}
	}
}

func TestStyleNames(t *testing.T) {
	seen := map[string]bool{}
	for s := MonitorFD; s <= MonitorNone; s++ {
		n := s.String()
		if seen[n] || strings.HasPrefix(n, "MonitorStyle(") {
			t.Errorf("style %d named %q", int(s), n)
		}
		seen[n] = true
	}
	if got := MonitorStyle(99).String(); got != "MonitorStyle(99)" {
		t.Errorf("unknown style named %q", got)
	}
}

// fakeModules lays out ROOT/usr/share/qemu and a module folder
// ROOT/usr/lib/x86_64-linux-gnu/qemu holding one (empty) module.
func fakeModules(t *testing.T, root string) string {
	t.Helper()
	mods := filepath.Join(root, "usr/lib/x86_64-linux-gnu/qemu")
	for _, d := range []string{filepath.Join(root, "usr/share/qemu"), mods} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(mods, "ui-opengl.so"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return mods
}

func TestModuleDir(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "usr/share/qemu")
	if err := os.MkdirAll(filepath.Join(root, "usr/lib/x86_64-linux-gnu/qemu"), 0o700); err != nil {
		t.Fatal(err)
	}
	if got := ModuleDir(data); got != "" {
		t.Errorf("ModuleDir with an empty module folder = %q, want none", got)
	}
	mods := fakeModules(t, root)
	for _, d := range []string{data, data + "/"} {
		if got := ModuleDir(d); got != mods {
			t.Errorf("ModuleDir(%q) = %q, want %q", d, got, mods)
		}
	}
	if got := ModuleDir(""); got != "" {
		t.Errorf("ModuleDir(\"\") = %q, want none", got)
	}
}

func TestEnviron(t *testing.T) {
	t.Setenv(QEMUModuleDir, "/inherited")
	b := Binary{Env: []string{QEMUModuleDir + "=/own"}}
	env := b.Environ()
	// exec.Cmd keeps the last of duplicate names: Env must come last.
	last := ""
	for _, kv := range env {
		if strings.HasPrefix(kv, QEMUModuleDir+"=") {
			last = kv
		}
	}
	if last != QEMUModuleDir+"=/own" {
		t.Errorf("last %s in Environ() is %q, want the binary's", QEMUModuleDir, last)
	}
	if len(env) != len(os.Environ())+1 {
		t.Errorf("Environ() has %d entries, want the process's %d plus 1", len(env), len(os.Environ()))
	}
}

// systemModuleDir is the system build's module folder (/usr/lib/<triplet>/qemu).
func systemModuleDir(t *testing.T) string {
	t.Helper()
	mods, _ := filepath.Glob("/usr/lib/*/qemu/*.so")
	if len(mods) == 0 {
		t.Fatal("no modules of the system QEMU under /usr/lib/*/qemu")
	}
	return filepath.Dir(mods[0])
}

// mappedModules lists the QEMU modules (.so files in a folder named qemu)
// that process pid has mapped.
func mappedModules(t *testing.T, pid int) []string {
	t.Helper()
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var mods []string
	for _, line := range strings.Split(string(maps), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		path := f[len(f)-1]
		if strings.HasSuffix(path, ".so") && filepath.Base(filepath.Dir(path)) == "qemu" && !seen[path] {
			seen[path] = true
			mods = append(mods, path)
		}
	}
	return mods
}

// qom-list-types loads every device module. Each build must take them from
// its own module folder and survive: 10.0 beside Debian's 7.2 used to load
// 7.2's modules and abort.
func TestModulesLoadFromOwnBuild(t *testing.T) {
	sys := systemModuleDir(t)
	for _, b := range Binaries(t) {
		t.Run(b.String(), func(t *testing.T) {
			t.Parallel()
			own := sys
			if len(b.Env) > 0 {
				own = strings.TrimPrefix(b.Env[0], QEMUModuleDir+"=")
			}
			inst := Start(t, b, Options{Paused: true})
			rm := dialMonitor(t, inst.Monitor())
			rm.greeting(b)
			rm.execute("qmp_capabilities", nil)
			var types []struct {
				Name string `json:"name"`
			}
			if err := json.Unmarshal(rm.execute("qom-list-types", map[string]any{"implements": "device", "abstract": false}), &types); err != nil {
				t.Fatal(err)
			}
			names := map[string]bool{}
			for _, x := range types {
				names[x.Name] = true
			}
			// qxl and virtio-gpu-pci live in modules; virtio-net-pci is built in.
			for _, want := range []string{"virtio-net-pci", "qxl", "virtio-gpu-pci"} {
				if !names[want] {
					t.Errorf("qom-list-types lacks %s (%d types)", want, len(types))
				}
			}
			if got := compact(t, rm.execute("query-status", nil)); !strings.Contains(got, `"prelaunch"`) {
				t.Errorf("query-status after qom-list-types: %s", got)
			}
			mods := mappedModules(t, inst.PID)
			if len(mods) == 0 {
				t.Fatalf("no module mapped after qom-list-types")
			}
			for _, m := range mods {
				if filepath.Dir(m) != own {
					t.Errorf("module %s loaded, want only modules from %s", m, own)
				}
			}
			if inst.Exited() || strings.Contains(inst.Stderr(), "module") {
				t.Errorf("QEMU exited=%v; stderr:\n%s", inst.Exited(), inst.Stderr())
			}
		})
	}
}

// The probe catches a build that would load foreign modules, before any
// test runs into a dead guest.
func TestProbeRejectsForeignModules(t *testing.T) {
	bins := Binaries(t)
	b := bins[1]
	_, err := probe(candidate{want: "10.0", path: b.Path, dataDir: b.DataDir, hint: "hint"})
	if err == nil || !strings.Contains(err.Error(), "no module folder") {
		t.Errorf("probe without a module folder: err = %v", err)
	}
	// The system build's modules given to 10.0: it refuses them and aborts.
	_, err = probe(candidate{want: "10.0", path: b.Path, dataDir: b.DataDir, modDir: systemModuleDir(t), hint: "hint"})
	if err == nil || !strings.Contains(err.Error(), "modules do not load") {
		t.Errorf("probe with the system build's modules: err = %v", err)
	}
	// One module missing from its own folder: QEMU takes the system build's,
	// refuses it with a message and, with luck, does not abort.
	own := ModuleDir(b.DataDir)
	partial := t.TempDir()
	mods, _ := filepath.Glob(filepath.Join(own, "*.so"))
	for _, m := range mods {
		if filepath.Base(m) == "ui-opengl.so" {
			continue
		}
		if err := os.Symlink(m, filepath.Join(partial, filepath.Base(m))); err != nil {
			t.Fatal(err)
		}
	}
	_, err = probe(candidate{want: "10.0", path: b.Path, dataDir: b.DataDir, modDir: partial, hint: "hint"})
	if err == nil || !strings.Contains(err.Error(), "ui-opengl") {
		t.Errorf("probe with ui-opengl.so missing from its modules: err = %v", err)
	}
	got, err := probe(candidate{want: "10.0", path: b.Path, dataDir: b.DataDir, modDir: own, hint: "hint"})
	if err != nil || got.Version != b.Version {
		t.Errorf("probe with its own modules: %+v, %v", got, err)
	}
}

package demo

import (
	"bufio"
	"context"
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

	"github.com/qscope/qscope/internal/qemutest"
	"github.com/qscope/qscope/qmp"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		helperMain(dir)
		return
	}
	goleak.VerifyTestMain(m)
}

// helperEnv makes the test binary a process that starts one demo guest in
// the given directory, prints its pid, and waits to be killed.
const helperEnv = "QSCOPE_DEMO_TEST_HELPER"

func helperMain(dir string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	set, err := Start(ctx, Config{Dir: dir, QEMU: os.Getenv(helperEnv + "_QEMU"), DataDir: os.Getenv(helperEnv + "_DATA"),
		Guests: []Spec{{Name: "orphan", Monitors: []Monitor{{Network: "unix"}}}}})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Println(set.Guests()[0].PID)
	time.Sleep(time.Hour)
	os.Exit(3)
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cpuTicks is a process's user+system time in clock ticks.
func cpuTicks(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return u + k
}

// gone reports whether no process pid runs as guest name.
func gone(pid int, name string) bool { return !isGuest(pid, name) }

func startSet(t *testing.T, b qemutest.Binary, dir string, specs []Spec) *Set {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	set, err := Start(ctx, Config{Dir: dir, QEMU: b.Path, DataDir: b.DataDir, Guests: specs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Stop(context.Background()) })
	return set
}

// The boot sector boots in real QEMU, prints its banner and heartbeats on
// the serial port, and sleeps between them.
func TestBootSectorBoots(t *testing.T) {
	for _, b := range binaries(t) {
		t.Run(b.String(), func(t *testing.T) {
			t.Parallel()
			set := startSet(t, b, t.TempDir(), []Spec{{Name: "boot", Monitors: []Monitor{{Network: "unix"}}}})
			g := set.Guests()[0]
			serial := func() string {
				s, _ := os.ReadFile(g.Files.Serial)
				return string(s)
			}
			waitFor(t, 20*time.Second, "the banner", func() bool { return strings.Contains(serial(), Banner+"\r\n") })
			waitFor(t, 20*time.Second, "heartbeat 1", func() bool { return strings.Contains(serial(), "heartbeat 1\r\n") })
			c0, t0 := cpuTicks(t, g.PID), time.Now()
			waitFor(t, 20*time.Second, "heartbeat 2", func() bool { return strings.Contains(serial(), "heartbeat 2\r\n") })
			c1, t1 := cpuTicks(t, g.PID), time.Now()
			// Clock ticks are 1/100 s on Linux.
			cpu := float64(c1-c0) / 100 / t1.Sub(t0).Seconds()
			t.Logf("QEMU %s: %.1f%% of a CPU between heartbeats 1 and 2 (%.1fs)", b.Version, cpu*100, t1.Sub(t0).Seconds())
			if cpu > 0.5 {
				t.Errorf("an idle demo guest uses %.0f%% of a CPU; the boot sector should sleep with hlt", cpu*100)
			}
			if want := "\r\nqscope demo guest: heartbeat 1\r\nqscope demo guest: heartbeat 2\r\n"; !strings.Contains(serial(), want) {
				t.Errorf("serial log lacks %q:\n%s", want, serial())
			}
		})
	}
}

// dial connects to one endpoint of a running guest.
func dial(t *testing.T, ep Endpoint) *qmp.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := qmp.Dial(ctx, ep.Network, ep.Address)
	if err != nil {
		t.Fatalf("dialing %s: %v", ep, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func exec1(t *testing.T, c *qmp.Client, cmd string, args, result any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Execute(ctx, cmd, args, result); err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
}

func TestStartStopDefaultSet(t *testing.T) {
	for _, b := range binaries(t) {
		t.Run(b.String(), func(t *testing.T) {
			dir := t.TempDir()
			t0 := time.Now()
			set := startSet(t, b, dir, nil)
			t.Logf("QEMU %s: three guests answering QMP after %v", b.Version, time.Since(t0).Round(time.Millisecond))
			guests := set.Guests()
			if len(guests) != 3 {
				t.Fatalf("%d guests, want 3", len(guests))
			}
			styles := map[string]string{}
			for _, g := range guests {
				if gone(g.PID, g.Name) {
					t.Fatalf("guest %s: pid %d does not run as that guest", g.Name, g.PID)
				}
				comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", g.PID))
				if strings.TrimSpace(string(comm)) != g.Name {
					t.Errorf("guest %s: process name %q", g.Name, comm)
				}
				for i, ep := range g.Monitors {
					m := g.Spec.Monitors[i]
					styles[fmt.Sprintf("%s chardev=%v pretty=%v", ep.Network, m.Chardev, m.Pretty)] = g.Name
					c := dial(t, ep)
					var st struct {
						Status  string `json:"status"`
						Running bool   `json:"running"`
					}
					exec1(t, c, "query-status", nil, &st)
					if st.Status != "running" || !st.Running {
						t.Errorf("guest %s via %s: status %+v", g.Name, ep, st)
					}
					var name struct {
						Name string `json:"name"`
					}
					exec1(t, c, "query-name", nil, &name)
					if name.Name != g.Name {
						t.Errorf("via %s: query-name %q, want %q", ep, name.Name, g.Name)
					}
					var uuid struct {
						UUID string `json:"UUID"`
					}
					exec1(t, c, "query-uuid", nil, &uuid)
					if uuid.UUID != g.UUID || uuid.UUID != NameUUID(g.Name) {
						t.Errorf("guest %s: query-uuid %q, want %q", g.Name, uuid.UUID, g.UUID)
					}
					c.Close()
				}
			}
			for _, want := range []string{"unix chardev=false pretty=false", "unix chardev=true pretty=false", "tcp chardev=false pretty=true"} {
				if styles[want] == "" {
					t.Errorf("no monitor of style %q (have %v)", want, styles)
				}
			}

			// demo-db: a qcow2 data disk beside the boot disk, and a second
			// monitor that sees the events caused through the first.
			db := guests[1]
			first, second := dial(t, db.Monitors[0]), dial(t, db.Monitors[1])
			var blocks []struct {
				Device   string `json:"device"`
				Inserted *struct {
					File string `json:"file"`
					Drv  string `json:"drv"`
				} `json:"inserted"`
			}
			exec1(t, first, "query-block", nil, &blocks)
			drv := map[string]string{}
			for _, bl := range blocks {
				if bl.Inserted != nil {
					drv[bl.Device] = bl.Inserted.Drv
				}
			}
			if drv["boot"] != "raw" || drv["data"] != "qcow2" {
				t.Errorf("demo-db block devices %v, want boot=raw data=qcow2", drv)
			}
			sub := second.Subscribe("STOP", "RESUME")
			defer sub.Close()
			exec1(t, first, "stop", nil, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ev, err := sub.Next(ctx)
			if err != nil || ev.Name != "STOP" {
				t.Fatalf("second monitor: event %v, %v; want STOP", ev.Name, err)
			}
			exec1(t, first, "cont", nil, nil)
			if ev, err = sub.Next(ctx); err != nil || ev.Name != "RESUME" {
				t.Fatalf("second monitor: event %v, %v; want RESUME", ev.Name, err)
			}
			first.Close()
			second.Close()

			// demo-web has its NIC.
			web := dial(t, guests[0].Monitors[0])
			var filters []struct {
				Name string `json:"name"`
			}
			exec1(t, web, "query-rx-filter", nil, &filters)
			if len(filters) != 1 {
				t.Errorf("demo-web: %d NICs, want 1", len(filters))
			}
			web.Close()

			t0 = time.Now()
			if err := set.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Logf("QEMU %s: stopped in %v", b.Version, time.Since(t0).Round(time.Millisecond))
			for _, g := range guests {
				if !gone(g.PID, g.Name) {
					t.Errorf("guest %s (pid %d) still runs after Stop", g.Name, g.PID)
				}
			}
			assertNoLeftovers(t, dir)
			// The serial logs stay for a look after the fact.
			if _, err := os.Stat(guests[0].Files.Serial); err != nil {
				t.Errorf("serial log removed: %v", err)
			}
		})
	}
}

// assertNoLeftovers checks that dir holds no socket, pid file, disk, and
// that its lock is free.
func assertNoLeftovers(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		n := e.Name()
		if e.Type()&os.ModeSocket != 0 || strings.HasSuffix(n, ".pid") || strings.HasSuffix(n, ".img") ||
			strings.HasSuffix(n, ".qcow2") || strings.HasSuffix(n, ".raw") || strings.HasSuffix(n, ".qmp") {
			t.Errorf("left behind: %s", n)
		}
	}
	l, err := lockDir(dir)
	if err != nil {
		t.Fatalf("lock not released: %v", err)
	}
	l.Close()
}

func TestStartCanceledLeavesNothing(t *testing.T) {
	b := binaries(t)[0]
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var pids []Guest
	n := len(DefaultGuests())
	set, err := Start(ctx, Config{Dir: dir, QEMU: b.Path, DataDir: b.DataDir, spawned: func(g Guest) {
		pids = append(pids, g)
		if len(pids) == n {
			cancel() // while Start waits for the monitors
		}
	}})
	if err == nil {
		set.Stop(context.Background())
		t.Fatal("Start succeeded after its context was canceled")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if len(pids) != n {
		t.Fatalf("%d guests spawned, want %d", len(pids), n)
	}
	for _, g := range pids {
		if !gone(g.PID, g.Name) {
			t.Errorf("guest %s (pid %d) still runs after a canceled Start", g.Name, g.PID)
		}
	}
	assertNoLeftovers(t, dir)
}

func TestSecondDemoOnSameDirRefused(t *testing.T) {
	b := binaries(t)[0]
	dir := t.TempDir()
	one := []Spec{{Name: "only", Monitors: []Monitor{{Network: "unix"}}}}
	startSet(t, b, dir, one)
	_, err := Start(context.Background(), Config{Dir: dir, QEMU: b.Path, DataDir: b.DataDir, Guests: one})
	if !errors.Is(err, ErrRunning) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("err = %v, want ErrRunning naming pid %d", err, os.Getpid())
	}
}

// A guest left running by an earlier demo (its pid file says so) is not
// started twice.
func TestLeftoverGuestRefused(t *testing.T) {
	b := binaries(t)[0]
	one := []Spec{{Name: "leftover", Monitors: []Monitor{{Network: "unix"}}}}
	running := startSet(t, b, t.TempDir(), one).Guests()[0]

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "leftover.pid"), []byte(strconv.Itoa(running.PID)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Start(context.Background(), Config{Dir: dir, QEMU: b.Path, DataDir: b.DataDir, Guests: one})
	if !errors.Is(err, ErrRunning) || !strings.Contains(err.Error(), fmt.Sprintf("kill %d", running.PID)) {
		t.Fatalf("err = %v, want ErrRunning with the kill command", err)
	}
	// A stale pid file naming a process that is not that guest is cleared.
	if err := os.WriteFile(filepath.Join(dir, "leftover.pid"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	startSet(t, b, dir, one)
}

// QEMU failing at start (here: the tcp port it was told to use is taken)
// comes back as an error carrying QEMU's own message, with nothing left
// behind; a port given explicitly is not replaced by another.
func TestQEMUFailureReported(t *testing.T) {
	b := binaries(t)[0]
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	set, err := Start(context.Background(), Config{Dir: dir, QEMU: b.Path, DataDir: b.DataDir,
		Guests: []Spec{{Name: "taken", Monitors: []Monitor{{Network: "tcp", Port: port}}}}})
	if err == nil {
		set.Stop(context.Background())
		t.Fatal("Start succeeded on a taken port")
	}
	if !strings.Contains(err.Error(), "qemu exited during start") || !strings.Contains(err.Error(), "Address already in use") {
		t.Fatalf("err = %v, want QEMU's complaint about the port", err)
	}
	assertNoLeftovers(t, dir)
}

func TestStopKillsAfterGrace(t *testing.T) {
	b := binaries(t)[0]
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	set, err := Start(ctx, Config{Dir: dir, QEMU: b.Path, DataDir: b.DataDir, Grace: 200 * time.Millisecond,
		Guests: []Spec{{Name: "frozen", Monitors: []Monitor{{Network: "unix"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	g := set.Guests()[0]
	// A stopped process cannot act on SIGTERM: Stop must SIGKILL it.
	if err := syscall.Kill(g.PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := set.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Errorf("Stop returned after %v, before the grace period", el)
	}
	if !gone(g.PID, g.Name) {
		t.Fatalf("frozen guest still there after Stop")
	}
	assertNoLeftovers(t, dir)
}

// A qscope killed without a chance to stop its guests (SIGKILL) leaves no
// guest running: the kernel sends each QEMU SIGTERM when its parent dies,
// and the next demo in the same directory starts cleanly.
func TestGuestsEndWithTheirParent(t *testing.T) {
	b := binaries(t)[0]
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir, helperEnv+"_QEMU="+b.Path, helperEnv+"_DATA="+b.DataDir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper printed no pid: %v; stderr:\n%s", err, stderr.String())
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || !isGuest(pid, "orphan") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper printed %q, not the pid of a running guest", line)
	}
	cmd.Process.Kill()
	cmd.Wait()
	waitFor(t, 10*time.Second, "the orphaned guest to exit", func() bool { return gone(pid, "orphan") })

	set := startSet(t, b, dir, []Spec{{Name: "orphan", Monitors: []Monitor{{Network: "unix"}}}})
	if g := set.Guests()[0]; g.PID == pid || gone(g.PID, "orphan") {
		t.Fatalf("restarted guest: pid %d (old %d)", g.PID, pid)
	}
}

package qmp_test

// Tests against real QEMU processes (Debian's 7.2 and the backported
// 10.0). Each failure mode FIELD-NOTES lists for go-qemu is a regression
// test here.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/qscope/qscope/internal/qemutest"
	"github.com/qscope/qscope/qmp"
)

// forEachQEMU runs f once per QEMU build, in parallel subtests.
func forEachQEMU(t *testing.T, f func(t *testing.T, b qemutest.Binary)) {
	for _, b := range qemutest.Binaries(t) {
		t.Run(b.String(), func(t *testing.T) { f(t, b) })
	}
}

func dial(t *testing.T, m qemutest.Monitor, opts ...qmp.Option) *qmp.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := qmp.Dial(ctx, m.Network, m.Address, opts...)
	if err != nil {
		t.Fatalf("Dial %s: %v", m.Address, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func status(t *testing.T, ctx context.Context, c qmp.Monitor) string {
	t.Helper()
	var st struct {
		Status  string `json:"status"`
		Running bool   `json:"running"`
	}
	if err := c.Execute(ctx, "query-status", nil, &st); err != nil {
		t.Fatalf("query-status: %v", err)
	}
	return st.Status
}

func TestQEMUHandshakeAndErrors(t *testing.T) {
	forEachQEMU(t, func(t *testing.T, b qemutest.Binary) {
		inst := qemutest.Start(t, b, qemutest.Options{})
		c := dial(t, inst.Monitor())
		ctx := context.Background()
		if got := c.Version().String(); got != b.Version && got+".0" != b.Version && got != b.Version+".0" {
			t.Errorf("greeting version %s, binary reports %s", got, b.Version)
		}
		if !c.OOB() {
			t.Errorf("oob not negotiated; greeting capabilities %v", c.Greeting().Capabilities)
		}
		if s := status(t, ctx, c); s != "running" {
			t.Errorf("status %q", s)
		}
		var qe *qmp.Error
		err := c.Execute(ctx, "no-such-command", nil, nil)
		if !errors.As(err, &qe) || qe.Class != "CommandNotFound" {
			t.Errorf("unknown command: %v", err)
		}
		err = c.Execute(ctx, "query-status", map[string]int{"bogus": 1}, nil)
		if !errors.As(err, &qe) || qe.Class != "GenericError" {
			t.Errorf("unknown argument: %v", err)
		}
		err = c.Execute(ctx, "device_del", map[string]string{"id": "nope"}, nil)
		if !errors.As(err, &qe) || qe.Class != "DeviceNotFound" {
			t.Errorf("device_del of a missing device: %v", err)
		}
		// The client is still fine after errors.
		if s := status(t, ctx, c); s != "running" {
			t.Errorf("status after errors %q", s)
		}
	})
}

// TestQEMUHMPFailures: HMP reports failures inside a successful reply;
// HMPFailure recognises QEMU's own wordings and passes real output.
func TestQEMUHMPFailures(t *testing.T) {
	forEachQEMU(t, func(t *testing.T, b qemutest.Binary) {
		inst := qemutest.Start(t, b, qemutest.Options{Paused: true})
		c := dial(t, inst.Monitor())
		ctx := context.Background()
		for _, tc := range []struct {
			line   string
			failed bool
		}{
			{"system_wakeup", true},
			{"nosuchcmd", true},
			{"device_add", true},
			{"sendkey", true},
			{"info status", false},
			{"cont", false},
		} {
			var out string
			if err := c.Execute(ctx, "human-monitor-command", map[string]string{"command-line": tc.line}, &out); err != nil {
				t.Fatalf("%s: %v", tc.line, err)
			}
			if msg, failed := qmp.HMPFailure(out); failed != tc.failed || (failed && msg == "") {
				t.Errorf("HMP %q printed %q: failure %v %q, want %v", tc.line, out, failed, msg, tc.failed)
			}
		}
	})
}

func TestQEMUMonitorStyles(t *testing.T) {
	forEachQEMU(t, func(t *testing.T, b qemutest.Binary) {
		inst := qemutest.Start(t, b, qemutest.Options{Monitors: []qemutest.MonitorStyle{
			qemutest.MonitorFD, qemutest.MonitorQMPUnix, qemutest.MonitorQMPTCP,
			qemutest.MonitorQMPPretty, qemutest.MonitorChardev,
		}})
		for _, m := range inst.Monitors {
			t.Run(m.Style.String(), func(t *testing.T) {
				c := dial(t, m)
				ctx := context.Background()
				if s := status(t, ctx, c); s != "running" {
					t.Errorf("status %q", s)
				}
				// A large reply over every framing, pretty included.
				var schema []struct {
					Name     string `json:"name"`
					MetaType string `json:"meta-type"`
				}
				if err := c.Execute(ctx, "query-qmp-schema", nil, &schema); err != nil {
					t.Fatal(err)
				}
				if len(schema) < 500 {
					t.Errorf("schema has %d entries", len(schema))
				}
			})
		}
	})
}

// go-qemu's bufio.Scanner dies on replies over 64 KiB; query-qmp-schema is
// about 200 KB.
func TestQEMULargeReply(t *testing.T) {
	forEachQEMU(t, func(t *testing.T, b qemutest.Binary) {
		inst := qemutest.Start(t, b, qemutest.Options{})
		c := dial(t, inst.Monitor())
		raw, err := c.ExecuteRaw(context.Background(), "query-qmp-schema", nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) < 128<<10 {
			t.Fatalf("schema reply is only %d bytes", len(raw))
		}
		var entries []struct {
			Name     string `json:"name"`
			MetaType string `json:"meta-type"`
		}
		if err := json.Unmarshal(raw, &entries); err != nil {
			t.Fatal(err)
		}
		commands := map[string]bool{}
		for _, e := range entries {
			if e.MetaType == "command" {
				commands[e.Name] = true
			}
		}
		for _, want := range []string{"query-status", "qmp_capabilities", "device_add", "query-qmp-schema"} {
			if !commands[want] {
				t.Errorf("schema lacks %s", want)
			}
		}
		t.Logf("%d bytes, %d commands", len(raw), len(commands))
		// And the connection goes on.
		if s := status(t, context.Background(), c); s != "running" {
			t.Errorf("status %q", s)
		}
	})
}

// go-qemu: one unread event subscriber blocks every later command.
func TestQEMUUnreadSubscriberDuringStopCont(t *testing.T) {
	forEachQEMU(t, func(t *testing.T, b qemutest.Binary) {
		inst := qemutest.Start(t, b, qemutest.Options{})
		c := dial(t, inst.Monitor(), qmp.WithQueueSize(8))
		unread := c.Subscribe()
		defer unread.Close()
		reader := c.Subscribe("STOP", "RESUME")
		defer reader.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		const rounds = 100
		for i := range rounds {
			if err := c.Execute(ctx, "stop", nil, nil); err != nil {
				t.Fatalf("round %d stop: %v", i, err)
			}
			if err := c.Execute(ctx, "cont", nil, nil); err != nil {
				t.Fatalf("round %d cont: %v", i, err)
			}
			// The reading subscriber sees both events of this round.
			for _, want := range []string{"STOP", "RESUME"} {
				ev, err := reader.Next(ctx)
				if err != nil || ev.Name != want {
					t.Fatalf("round %d: event %q (%v), want %s", i, ev.Name, err, want)
				}
			}
		}
		if d := unread.Dropped(); d != 2*rounds-8 {
			t.Errorf("unread subscriber dropped %d, want %d", d, 2*rounds-8)
		}
	})
}

// go-qemu hangs forever on a stopped QEMU. Here a deadline ends the call,
// a new connection reports busy, and once QEMU runs again the old client
// works (the late reply was dropped).
func TestQEMUStoppedProcess(t *testing.T) {
	forEachQEMU(t, func(t *testing.T, b qemutest.Binary) {
		inst := qemutest.Start(t, b, qemutest.Options{Monitors: []qemutest.MonitorStyle{qemutest.MonitorFD, qemutest.MonitorFD}})
		c := dial(t, inst.Monitors[0])
		if err := inst.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		start := time.Now()
		err := c.Execute(ctx, "query-status", nil, nil)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("call on a stopped QEMU: %v", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("call took %v to give up", d)
		}
		ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
		_, err = qmp.Dial(ctx, inst.Monitors[1].Network, inst.Monitors[1].Address)
		cancel()
		if !errors.Is(err, qmp.ErrBusy) {
			t.Fatalf("dial of a stopped QEMU: %v, want ErrBusy", err)
		}
		if err := inst.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if s := status(t, ctx, c); s != "running" {
			t.Errorf("status after SIGCONT %q", s)
		}
	})
}

// A monitor serves one client; a second connects but gets no greeting
// until the first leaves, and is then served at once.
func TestQEMUMonitorHeldByAnotherClient(t *testing.T) {
	forEachQEMU(t, func(t *testing.T, b qemutest.Binary) {
		inst := qemutest.Start(t, b, qemutest.Options{})
		first := dial(t, inst.Monitor())
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		_, err := qmp.Dial(ctx, inst.Monitor().Network, inst.Monitor().Address)
		cancel()
		if !errors.Is(err, qmp.ErrBusy) {
			t.Fatalf("second client: %v, want ErrBusy", err)
		}
		first.Close()
		second := dial(t, inst.Monitor())
		if s := status(t, context.Background(), second); s != "running" {
			t.Errorf("status %q", s)
		}
	})
}

// go-qemu: replies overwritten by event text under load. Sixteen
// goroutines run mixed commands, each checking it got its own command's
// reply, while a second monitor floods STOP/RESUME.
func TestQEMUConcurrentUnderEventFlood(t *testing.T) {
	forEachQEMU(t, func(t *testing.T, b qemutest.Binary) {
		inst := qemutest.Start(t, b, qemutest.Options{
			Name:     "flood-vm",
			Monitors: []qemutest.MonitorStyle{qemutest.MonitorFD, qemutest.MonitorFD},
		})
		c := dial(t, inst.Monitors[0])
		flooder := dial(t, inst.Monitors[1])
		events := c.Subscribe("STOP", "RESUME")
		defer events.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()

		stopFlood := make(chan struct{})
		floodDone := make(chan error, 1)
		go func() {
			for {
				select {
				case <-stopFlood:
					floodDone <- flooder.Execute(ctx, "cont", nil, nil)
					return
				default:
				}
				if err := flooder.Execute(ctx, "stop", nil, nil); err != nil {
					floodDone <- err
					return
				}
				if err := flooder.Execute(ctx, "cont", nil, nil); err != nil {
					floodDone <- err
					return
				}
			}
		}()

		checks := []struct {
			cmd   string
			check func(json.RawMessage) error
		}{
			{"query-name", func(r json.RawMessage) error {
				var v struct{ Name string }
				if err := json.Unmarshal(r, &v); err != nil || v.Name != "flood-vm" {
					return fmt.Errorf("query-name returned %s", r)
				}
				return nil
			}},
			{"query-version", func(r json.RawMessage) error {
				var v qmp.Version
				if err := json.Unmarshal(r, &v); err != nil || v.QEMU.Major != b.Major() {
					return fmt.Errorf("query-version returned %s", r)
				}
				return nil
			}},
			{"query-status", func(r json.RawMessage) error {
				var v struct {
					Status  *string
					Running *bool
				}
				if err := json.Unmarshal(r, &v); err != nil || v.Status == nil || v.Running == nil {
					return fmt.Errorf("query-status returned %s", r)
				}
				return nil
			}},
			{"query-cpus-fast", func(r json.RawMessage) error {
				var v []struct {
					ThreadID *int `json:"thread-id"`
				}
				if err := json.Unmarshal(r, &v); err != nil || len(v) != 1 || v[0].ThreadID == nil {
					return fmt.Errorf("query-cpus-fast returned %s", r)
				}
				return nil
			}},
		}
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for g := range 16 {
			wg.Go(func() {
				for i := range 40 {
					ch := checks[(g+i)%len(checks)]
					r, err := c.ExecuteRaw(ctx, ch.cmd, nil)
					if err == nil {
						err = ch.check(r)
					}
					if err != nil {
						errs <- fmt.Errorf("goroutine %d call %d: %w", g, i, err)
						return
					}
				}
			})
		}
		wg.Wait()
		close(stopFlood)
		if err := <-floodDone; err != nil {
			t.Fatalf("flooding monitor: %v", err)
		}
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := len(events.Drain()); n == 0 && events.Dropped() == 0 {
			t.Error("no STOP/RESUME event reached the busy client")
		}
	})
}

// QEMU killed with calls pending: every call fails at once with the cause.
func TestQEMUKilledWithCallsPending(t *testing.T) {
	forEachQEMU(t, func(t *testing.T, b qemutest.Binary) {
		inst := qemutest.Start(t, b, qemutest.Options{})
		c := dial(t, inst.Monitor())
		sub := c.Subscribe()
		defer sub.Close()
		// Stop the process so the calls stay pending, then kill it.
		if err := inst.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		const n = 4
		errs := make(chan error, n)
		for range n {
			go func() { errs <- c.Execute(ctx, "query-status", nil, nil) }()
		}
		for deadline := time.Now().Add(10 * time.Second); c.Pending() < n; {
			if time.Now().After(deadline) {
				t.Fatalf("only %d calls pending", c.Pending())
			}
			time.Sleep(time.Millisecond)
		}
		if err := inst.Kill(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for range n {
			if err := <-errs; !errors.Is(err, qmp.ErrDisconnected) {
				t.Errorf("pending call: %v, want ErrDisconnected", err)
			}
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("pending calls took %v to fail", d)
		}
		<-c.Done()
		if err := c.Execute(ctx, "query-status", nil, nil); !errors.Is(err, qmp.ErrDisconnected) {
			t.Errorf("call after death: %v", err)
		}
		if _, err := sub.Next(ctx); !errors.Is(err, qmp.ErrDisconnected) {
			t.Errorf("subscription after death: %v", err)
		}
	})
}

// RESUME can come before cont's reply; ExecuteAndWait subscribes first.
func TestQEMUExecuteAndWait(t *testing.T) {
	forEachQEMU(t, func(t *testing.T, b qemutest.Binary) {
		inst := qemutest.Start(t, b, qemutest.Options{Paused: true})
		c := dial(t, inst.Monitor())
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if s := status(t, ctx, c); s != "prelaunch" && s != "paused" {
			t.Fatalf("status %q before cont", s)
		}
		for i := range 20 {
			if _, err := c.ExecuteAndWait(ctx, "cont", nil, nil, "RESUME", nil); err != nil {
				t.Fatalf("round %d cont: %v", i, err)
			}
			if _, err := c.ExecuteAndWait(ctx, "stop", nil, nil, "STOP", nil); err != nil {
				t.Fatalf("round %d stop: %v", i, err)
			}
		}
	})
}

func TestQEMUOutOfBand(t *testing.T) {
	forEachQEMU(t, func(t *testing.T, b qemutest.Binary) {
		inst := qemutest.Start(t, b, qemutest.Options{})
		c := dial(t, inst.Monitor())
		ctx := context.Background()
		var yanks []json.RawMessage
		if err := c.ExecuteOOB(ctx, "query-yank", nil, &yanks); err != nil {
			t.Fatalf("query-yank out of band: %v", err)
		}
		var qe *qmp.Error
		if err := c.ExecuteOOB(ctx, "query-status", nil, nil); !errors.As(err, &qe) {
			t.Errorf("exec-oob of a command without allow-oob: %v, want QEMU's refusal", err)
		}
	})
}

// Descriptors travel with the command that consumes them.
func TestQEMUFilePassing(t *testing.T) {
	forEachQEMU(t, func(t *testing.T, b qemutest.Binary) {
		inst := qemutest.Start(t, b, qemutest.Options{})
		c := dial(t, inst.Monitor())
		ctx := context.Background()
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		defer w.Close()
		if err := c.ExecuteWithFile(ctx, "getfd", map[string]string{"fdname": "qs-pipe"}, w, nil); err != nil {
			t.Fatalf("getfd: %v", err)
		}
		if err := c.Execute(ctx, "closefd", map[string]string{"fdname": "qs-pipe"}, nil); err != nil {
			t.Errorf("closefd of the passed fd: %v", err)
		}
		var qe *qmp.Error
		if err := c.Execute(ctx, "closefd", map[string]string{"fdname": "qs-pipe"}, nil); !errors.As(err, &qe) {
			t.Errorf("second closefd: %v, want an error", err)
		}

		f, err := os.CreateTemp(t.TempDir(), "fdset")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var added struct {
			FdsetID int `json:"fdset-id"`
			FD      int `json:"fd"`
		}
		if err := c.ExecuteWithFile(ctx, "add-fd", map[string]any{"opaque": "qscope-test"}, f, &added); err != nil {
			t.Fatalf("add-fd: %v", err)
		}
		var sets []struct {
			FdsetID int `json:"fdset-id"`
			FDs     []struct {
				FD     int    `json:"fd"`
				Opaque string `json:"opaque"`
			} `json:"fds"`
		}
		if err := c.Execute(ctx, "query-fdsets", nil, &sets); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, s := range sets {
			for _, fd := range s.FDs {
				found = found || (s.FdsetID == added.FdsetID && fd.FD == added.FD && fd.Opaque == "qscope-test")
			}
		}
		if !found {
			t.Errorf("fdset %d fd %d not in query-fdsets %+v", added.FdsetID, added.FD, sets)
		}
	})
}

func TestQEMUQuit(t *testing.T) {
	forEachQEMU(t, func(t *testing.T, b qemutest.Binary) {
		inst := qemutest.Start(t, b, qemutest.Options{})
		c := dial(t, inst.Monitor())
		sub := c.Subscribe("SHUTDOWN")
		defer sub.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.Execute(ctx, "quit", nil, nil); err != nil {
			t.Fatalf("quit: %v", err)
		}
		select {
		case <-c.Done():
		case <-ctx.Done():
			t.Fatal("connection still open after quit")
		}
		if !errors.Is(c.Err(), qmp.ErrDisconnected) {
			t.Errorf("Err after quit: %v", c.Err())
		}
		if ev, err := sub.Next(ctx); err != nil || ev.Name != "SHUTDOWN" {
			t.Errorf("SHUTDOWN event: %v %v", ev.Name, err)
		}
		select {
		case <-inst.Done():
		case <-ctx.Done():
			t.Fatal("QEMU still running after quit")
		}
	})
}

// Events reach an idle client: no call of its own is reading, so its pump
// must notice them.
func TestQEMUEventsWhileIdle(t *testing.T) {
	forEachQEMU(t, func(t *testing.T, b qemutest.Binary) {
		inst := qemutest.Start(t, b, qemutest.Options{Monitors: []qemutest.MonitorStyle{qemutest.MonitorFD, qemutest.MonitorQMPPretty}})
		idle := dial(t, inst.Monitors[0])
		other := dial(t, inst.Monitors[1])
		sub := idle.Subscribe("STOP", "RESUME")
		defer sub.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for i := range 5 {
			if err := other.Execute(ctx, "stop", nil, nil); err != nil {
				t.Fatal(err)
			}
			if ev, err := sub.Next(ctx); err != nil || ev.Name != "STOP" {
				t.Fatalf("round %d: %v %v, want STOP", i, ev.Name, err)
			}
			if err := other.Execute(ctx, "cont", nil, nil); err != nil {
				t.Fatal(err)
			}
			if ev, err := sub.Next(ctx); err != nil || ev.Name != "RESUME" {
				t.Fatalf("round %d: %v %v, want RESUME", i, ev.Name, err)
			}
		}
		// The idle client still answers, and saw nothing else.
		if s := status(t, ctx, idle); s != "running" {
			t.Errorf("status %q", s)
		}
		if idle.Orphaned() != 0 {
			t.Errorf("%d orphaned replies", idle.Orphaned())
		}
	})
}

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qscope/qscope/internal/qemutest"
	"github.com/qscope/qscope/qmp"
)

// lockedBuffer is written by the command and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestEventsCommand streams a real QEMU's events through `qscope events`,
// filtered, until QEMU goes away; and stops cleanly when interrupted.
func TestEventsCommand(t *testing.T) {
	for _, b := range qemutest.Binaries(t) {
		t.Run(b.String(), func(t *testing.T) {
			name := uniqueName("cli-events")
			// Two monitors: events holds the first, the test drives QEMU
			// through the second.
			inst := startSmall(t, b, qemutest.Options{Name: name, Monitors: []qemutest.MonitorStyle{qemutest.MonitorFD, qemutest.MonitorChardev}})
			ctx := context.Background()
			drive, err := qmp.Dial(ctx, inst.Monitors[1].Network, inst.Monitors[1].Address)
			if err != nil {
				t.Fatal(err)
			}
			defer drive.Close()

			var out, errb lockedBuffer
			done := make(chan int, 1)
			go func() {
				done <- Main(ctx, []string{"--connect", "none", "events", name, "--filter", "STOP"}, strings.NewReader(""), &out, &errb)
			}()
			// Until the command has subscribed, events are lost: repeat
			// stop/cont until a STOP line arrives.
			deadline := time.Now().Add(30 * time.Second)
			for !strings.Contains(out.String(), `"STOP"`) {
				if time.Now().After(deadline) {
					t.Fatalf("no STOP event printed; stderr %q", errb.String())
				}
				select {
				case code := <-done:
					t.Fatalf("events exited %d early: %s", code, errb.String())
				default:
				}
				drive.Execute(ctx, "stop", nil, nil)
				drive.Execute(ctx, "cont", nil, nil)
				time.Sleep(20 * time.Millisecond)
			}
			inst.Kill()
			var code int
			select {
			case code = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("events did not exit when QEMU went away")
			}
			if code != 1 || !strings.Contains(errb.String(), "went away") {
				t.Errorf("exit %d, stderr %q", code, errb.String())
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			for _, l := range lines {
				var ev struct {
					Event     string `json:"event"`
					Timestamp struct {
						Seconds int64 `json:"seconds"`
					} `json:"timestamp"`
				}
				if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Timestamp.Seconds == 0 {
					t.Errorf("line %q is not an event: %v", l, err)
				}
				if ev.Event != "STOP" {
					t.Errorf("the filter let %s through", ev.Event)
				}
			}
		})
	}
}

func TestEventsInterruptedAndBadFilter(t *testing.T) {
	b := qemutest.Binaries(t)[0]
	name := uniqueName("cli-events-int")
	inst := startSmall(t, b, qemutest.Options{Name: name})
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"--connect", "none", "events", name}, strings.NewReader(""), &out, &errb)
	}()
	// Wait until the command holds the monitor: then a second client
	// gets no greeting.
	for deadline := time.Now().Add(30 * time.Second); ; {
		dctx, dcancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		c, err := qmp.Dial(dctx, inst.Monitors[0].Network, inst.Monitors[0].Address)
		dcancel()
		if err == nil {
			c.Close()
		} else if errors.Is(err, qmp.ErrBusy) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events never connected; stderr %q", errb.String())
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("interrupted: exit %d %q", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("events ignored its context")
	}
	// Interrupted while still finding and connecting: the same quiet end.
	gone, goneCancel := context.WithCancel(context.Background())
	goneCancel()
	if code, _, errs := runCLI(t, gone, "--connect", "none", "events", name); code != 0 || errs != "" {
		t.Errorf("interrupted before connecting: exit %d %q", code, errs)
	}
	code, _, errs := runCLI(t, context.Background(), "--connect", "none", "events", name, "--filter", "stop")
	if code != 2 || !strings.Contains(errs, "not a QMP event name") {
		t.Errorf("lower-case filter: exit %d %q", code, errs)
	}
	// A well-formed name this QEMU never emits would wait forever: it is
	// refused by the guest's own schema, naming it.
	tctx, tcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer tcancel()
	code, _, errs = runCLI(t, tctx, "--connect", "none", "events", name, "--filter", "STOP,NO_SUCH_EVENT")
	if code != 2 || !strings.Contains(errs, "NO_SUCH_EVENT") || strings.Contains(errs, "STOP,") {
		t.Errorf("unknown event filter: exit %d %q", code, errs)
	}
}

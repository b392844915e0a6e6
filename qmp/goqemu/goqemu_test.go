package goqemu_test

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/digitalocean/go-qemu/qemu"
	"github.com/digitalocean/go-qemu/qmp/raw"
	"github.com/qscope/qscope/internal/qemutest"
	"github.com/qscope/qscope/qmp"
	"github.com/qscope/qscope/qmp/goqemu"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// go-qemu's own helpers, run over the adapter against real QEMU.
func TestGoQEMUHelpers(t *testing.T) {
	for _, b := range qemutest.Binaries(t) {
		t.Run(b.String(), func(t *testing.T) {
			inst := qemutest.Start(t, b, qemutest.Options{
				Name: "goqemu-vm",
				Args: []string{
					"-blockdev", "driver=null-co,node-name=null0",
					"-device", "virtio-blk-pci,drive=null0,id=disk0",
				},
			})
			m := inst.Monitor()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := qmp.Dial(ctx, m.Network, m.Address)
			if err != nil {
				t.Fatal(err)
			}
			mon := goqemu.New(c)
			defer mon.Disconnect()

			d, err := qemu.NewDomain(mon, "goqemu-vm")
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			st, err := d.Status()
			if err != nil || st != qemu.StatusRunning {
				t.Errorf("Status = %v, %v", st, err)
			}
			v, err := d.Version()
			if err != nil || !strings.HasPrefix(b.Version, v[:strings.LastIndex(v, ".")]) {
				t.Errorf("Version = %q, %v; binary %s", v, err, b.Version)
			}
			devs, err := d.BlockDevices()
			if err != nil {
				t.Fatalf("BlockDevices: %v", err)
			}
			if len(devs) != 1 || devs[0].Inserted.NodeName != "null0" || devs[0].Inserted.Driver != "null-co" {
				t.Errorf("BlockDevices = %+v", devs)
			}
			// The generated raw API over the adapter.
			r := raw.NewMonitor(mon)
			rs, err := r.QueryStatus()
			if err != nil || rs.Status != raw.RunStateRunning {
				t.Errorf("raw QueryStatus = %+v, %v", rs, err)
			}
			// Errors keep QEMU's class (go-qemu's own monitor drops it).
			_, err = mon.Run([]byte(`{"execute":"device_del","arguments":{"id":"nope"}}`))
			var qe *qmp.Error
			if !errors.As(err, &qe) || qe.Class != "DeviceNotFound" {
				t.Errorf("Run(device_del nope) = %v, want DeviceNotFound", err)
			}
			// go-qemu's Domain event stream.
			evs, done, err := d.Events()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := mon.Run([]byte(`{"execute":"stop"}`)); err != nil {
				t.Fatal(err)
			}
			select {
			case ev := <-evs:
				if ev.Event != "STOP" {
					t.Errorf("event %s, want STOP", ev.Event)
				}
			case <-ctx.Done():
				t.Fatal("no STOP event")
			}
			close(done)
		})
	}
}

// go-qemu's socket monitor waits forever on a stopped QEMU; through the
// adapter a call ends at its timeout.
func TestRunTimesOutOnStoppedQEMU(t *testing.T) {
	b := qemutest.Binaries(t)[0]
	inst := qemutest.Start(t, b, qemutest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := qmp.Dial(ctx, inst.Monitor().Network, inst.Monitor().Address)
	if err != nil {
		t.Fatal(err)
	}
	mon := goqemu.New(c)
	mon.Timeout = 200 * time.Millisecond
	defer mon.Disconnect()
	if err := inst.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer inst.Signal(syscall.SIGCONT)
	start := time.Now()
	_, err = mon.Run([]byte(`{"execute":"query-status"}`))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run on a stopped QEMU: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Run took %v", d)
	}
}

func TestRunRejectsNonRequests(t *testing.T) {
	mon := goqemu.New(nil)
	for _, in := range []string{`not json`, `{"arguments":{}}`, `[]`} {
		if _, err := mon.Run([]byte(in)); err == nil {
			t.Errorf("Run(%s) accepted", in)
		}
	}
}

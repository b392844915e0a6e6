package qmp_test

// Benchmarks against a real QEMU. Each compares the engine with a
// reference measured in the same run, against the same QEMU, in
// alternating rounds, and reports the ratio: absolute times on a shared
// machine mean little, ratios do.
//
// QEMU starts paused (-S): a guest booting right after start takes about
// a core for a second or two, which would skew whichever rounds run then.
// Paused, QEMU spends its time on the monitors alone.
//
//	go test -run '^$' -bench . -benchtime 20000x ./qmp/

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	gqmp "github.com/digitalocean/go-qemu/qmp"
	"github.com/qscope/qscope/internal/qemutest"
	"github.com/qscope/qscope/qmp"
)

// rawClient is the reference: the least a Go client can do (bufio and
// encoding/json, one command at a time, no ids, no events).
type rawClient struct {
	conn net.Conn
	r    *bufio.Reader
}

// dialRaw connects and negotiates; with oob, out-of-band execution is
// enabled, so QEMU queues up to 8 commands.
func dialRaw(m qemutest.Monitor, oob bool) (*rawClient, error) {
	conn, err := net.DialTimeout(m.Network, m.Address, 10*time.Second)
	if err != nil {
		return nil, err
	}
	rc := &rawClient{conn: conn, r: bufio.NewReader(conn)}
	if _, err := rc.r.ReadBytes('\n'); err != nil { // greeting
		return nil, err
	}
	caps := `{"execute":"qmp_capabilities"}` + "\n"
	if oob {
		caps = `{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}` + "\n"
	}
	if _, err := rc.call([]byte(caps)); err != nil {
		return nil, err
	}
	return rc, nil
}

func (rc *rawClient) call(req []byte) (json.RawMessage, error) {
	if _, err := rc.conn.Write(req); err != nil {
		return nil, err
	}
	for {
		line, err := rc.r.ReadBytes('\n')
		if err != nil {
			return nil, err
		}
		var m struct {
			Return json.RawMessage
			Error  *qmp.Error
			Event  string
		}
		if err := json.Unmarshal(line, &m); err != nil {
			return nil, err
		}
		switch {
		case m.Event != "":
			continue
		case m.Error != nil:
			return nil, m.Error
		}
		return m.Return, nil
	}
}

var queryStatus = []byte(`{"execute":"query-status"}` + "\n")

type runStatus struct {
	Status  string `json:"status"`
	Running bool   `json:"running"`
}

func (rc *rawClient) status() error {
	ret, err := rc.call(queryStatus)
	if err != nil {
		return err
	}
	var st runStatus
	return json.Unmarshal(ret, &st)
}

func p50(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func mean(d []time.Duration) time.Duration {
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return sum / time.Duration(len(d))
}

// BenchmarkRoundTrip: sequential query-status round trips through the
// engine, the raw reference client and go-qemu's socket monitor, each on
// its own monitor of one QEMU, in alternating rounds.
func BenchmarkRoundTrip(b *testing.B) {
	for _, bin := range qemutest.Binaries(b) {
		b.Run(bin.String(), func(b *testing.B) {
			inst := qemutest.Start(b, bin, qemutest.Options{Paused: true, Monitors: []qemutest.MonitorStyle{
				qemutest.MonitorFD, qemutest.MonitorFD, qemutest.MonitorFD,
			}})
			ctx := context.Background()
			c, err := qmp.Dial(ctx, inst.Monitors[0].Network, inst.Monitors[0].Address)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			rc, err := dialRaw(inst.Monitors[1], false)
			if err != nil {
				b.Fatal(err)
			}
			defer rc.conn.Close()
			gm, err := gqmp.NewSocketMonitor(inst.Monitors[2].Network, inst.Monitors[2].Address, 10*time.Second)
			if err != nil {
				b.Fatal(err)
			}
			if err := gm.Connect(); err != nil {
				b.Fatal(err)
			}
			defer gm.Disconnect()

			engine := func() error {
				var st runStatus
				return c.Execute(ctx, "query-status", nil, &st)
			}
			goqemu := func() error {
				out, err := gm.Run(queryStatus[:len(queryStatus)-1])
				if err != nil {
					return err
				}
				var r struct{ Return runStatus }
				return json.Unmarshal(out, &r)
			}
			clients := []struct {
				name string
				call func() error
				lat  []time.Duration
			}{
				{name: "raw", call: rc.status},
				{name: "engine", call: engine},
				{name: "go-qemu", call: goqemu},
			}
			// Warm up every path.
			for i := range clients {
				for range 200 {
					if err := clients[i].call(); err != nil {
						b.Fatal(err)
					}
				}
			}
			const round = 250
			b.ResetTimer()
			for done := 0; done < b.N; done += round {
				for i := range clients {
					for range round {
						start := time.Now()
						if err := clients[i].call(); err != nil {
							b.Fatal(err)
						}
						clients[i].lat = append(clients[i].lat, time.Since(start))
					}
				}
			}
			b.StopTimer()
			raw, eng, gq := clients[0].lat, clients[1].lat, clients[2].lat
			b.ReportMetric(float64(p50(raw).Microseconds()), "raw-p50-µs")
			b.ReportMetric(float64(p50(eng).Microseconds()), "engine-p50-µs")
			b.ReportMetric(float64(p50(eng))/float64(p50(raw)), "engine/raw-p50")
			b.ReportMetric(float64(mean(eng))/float64(mean(raw)), "engine/raw-mean")
			b.ReportMetric(float64(p50(gq))/float64(p50(raw)), "goqemu/raw-p50")
		})
	}
}

// BenchmarkPipelined: query-status throughput with 8 callers sharing one
// engine client versus one caller, in alternating rounds on the same
// connection. For the ceiling on this machine it also measures the raw
// client (out-of-band negotiated, so QEMU queues up to 8 commands) writing
// 8 requests at once and reading 8 replies, against itself sequential.
func BenchmarkPipelined(b *testing.B) {
	for _, bin := range qemutest.Binaries(b) {
		b.Run(bin.String(), func(b *testing.B) {
			inst := qemutest.Start(b, bin, qemutest.Options{Paused: true, Monitors: []qemutest.MonitorStyle{qemutest.MonitorFD, qemutest.MonitorFD}})
			ctx := context.Background()
			c, err := qmp.Dial(ctx, inst.Monitors[0].Network, inst.Monitors[0].Address)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if !c.OOB() {
				b.Fatal("oob not negotiated")
			}
			rc, err := dialRaw(inst.Monitors[1], true)
			if err != nil {
				b.Fatal(err)
			}
			defer rc.conn.Close()
			call := func() error {
				var st runStatus
				return c.Execute(ctx, "query-status", nil, &st)
			}
			const callers, round = 8, 400
			timed := func(f func() error) (time.Duration, error) {
				start := time.Now()
				err := f()
				return time.Since(start), err
			}
			sequential := func() error {
				for range round {
					if err := call(); err != nil {
						return err
					}
				}
				return nil
			}
			pipelined := func() error {
				var wg sync.WaitGroup
				errs := make(chan error, callers)
				for range callers {
					wg.Go(func() {
						for range round / callers {
							if err := call(); err != nil {
								errs <- err
								return
							}
						}
					})
				}
				wg.Wait()
				close(errs)
				return errors.Join(slices.Collect(chanSeq(errs))...)
			}
			rawSequential := func() error {
				for range round {
					if err := rc.status(); err != nil {
						return err
					}
				}
				return nil
			}
			batch := bytes.Repeat(queryStatus, callers)
			rawBatched := func() error {
				for range round / callers {
					if _, err := rc.conn.Write(batch); err != nil {
						return err
					}
					for range callers {
						if _, err := rc.r.ReadBytes('\n'); err != nil {
							return err
						}
					}
				}
				return nil
			}
			if err := pipelined(); err != nil { // warm up
				b.Fatal(err)
			}
			runs := []func() error{sequential, pipelined, rawSequential, rawBatched}
			totals := make([]time.Duration, len(runs))
			b.ResetTimer()
			for done := 0; done < b.N; done += len(runs) * round {
				for i, f := range runs {
					d, err := timed(f)
					if err != nil {
						b.Fatal(err)
					}
					totals[i] += d
				}
			}
			b.StopTimer()
			rounds := float64((b.N + len(runs)*round - 1) / (len(runs) * round))
			rate := func(d time.Duration) float64 { return rounds * round / d.Seconds() }
			b.ReportMetric(rate(totals[0]), "seq-cmd/s")
			b.ReportMetric(rate(totals[1]), "pipe8-cmd/s")
			b.ReportMetric(totals[0].Seconds()/totals[1].Seconds(), "pipelined/sequential")
			b.ReportMetric(totals[2].Seconds()/totals[3].Seconds(), "raw-batch8/raw-seq")
			b.ReportMetric(totals[3].Seconds()/totals[1].Seconds(), "pipe8/raw-batch8")
		})
	}
}

func chanSeq[T any](ch <-chan T) func(func(T) bool) {
	return func(yield func(T) bool) {
		for v := range ch {
			if !yield(v) {
				return
			}
		}
	}
}

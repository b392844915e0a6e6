package qmp_test

// Benchmarks against a real QEMU. Each compares the engine with a
// reference measured in the same run, against the same QEMU, in
// alternating rounds, and reports the ratio: absolute times on a shared
// machine mean little, ratios do.
//
//	go test -run '^$' -bench . -benchtime 20000x ./qmp/

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

func dialRaw(m qemutest.Monitor) (*rawClient, error) {
	conn, err := net.DialTimeout(m.Network, m.Address, 10*time.Second)
	if err != nil {
		return nil, err
	}
	rc := &rawClient{conn: conn, r: bufio.NewReader(conn)}
	if _, err := rc.r.ReadBytes('\n'); err != nil { // greeting
		return nil, err
	}
	if _, err := rc.call([]byte(`{"execute":"qmp_capabilities"}` + "\n")); err != nil {
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
			inst := qemutest.Start(b, bin, qemutest.Options{Monitors: []qemutest.MonitorStyle{
				qemutest.MonitorFD, qemutest.MonitorFD, qemutest.MonitorFD,
			}})
			ctx := context.Background()
			c, err := qmp.Dial(ctx, inst.Monitors[0].Network, inst.Monitors[0].Address)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			rc, err := dialRaw(inst.Monitors[1])
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
// connection.
func BenchmarkPipelined(b *testing.B) {
	for _, bin := range qemutest.Binaries(b) {
		b.Run(bin.String(), func(b *testing.B) {
			inst := qemutest.Start(b, bin, qemutest.Options{})
			ctx := context.Background()
			c, err := qmp.Dial(ctx, inst.Monitor().Network, inst.Monitor().Address)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			call := func() error {
				var st runStatus
				return c.Execute(ctx, "query-status", nil, &st)
			}
			const callers, round = 8, 400
			sequential := func() (time.Duration, error) {
				start := time.Now()
				for range round {
					if err := call(); err != nil {
						return 0, err
					}
				}
				return time.Since(start), nil
			}
			pipelined := func() (time.Duration, error) {
				var wg sync.WaitGroup
				errs := make(chan error, callers)
				start := time.Now()
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
				d := time.Since(start)
				close(errs)
				return d, errors.Join(slices.Collect(chanSeq(errs))...)
			}
			if _, err := pipelined(); err != nil { // warm up
				b.Fatal(err)
			}
			var seqT, pipeT time.Duration
			b.ResetTimer()
			for done := 0; done < b.N; done += 2 * round {
				s, err := sequential()
				if err != nil {
					b.Fatal(err)
				}
				p, err := pipelined()
				if err != nil {
					b.Fatal(err)
				}
				seqT += s
				pipeT += p
			}
			b.StopTimer()
			rounds := float64((b.N + 2*round - 1) / (2 * round))
			b.ReportMetric(rounds*round/seqT.Seconds(), "seq-cmd/s")
			b.ReportMetric(rounds*round/pipeT.Seconds(), "pipe8-cmd/s")
			b.ReportMetric(seqT.Seconds()/pipeT.Seconds(), "pipelined/sequential")
			if c.OOB() {
				b.Log("oob negotiated: QEMU queues up to 8 commands")
			} else {
				b.Log(fmt.Sprintf("oob not negotiated"))
			}
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

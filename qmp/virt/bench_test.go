package virt

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/qscope/qscope/qmp/virt/virttest"
)

// BenchmarkRoundTrip compares one query-status round trip through a
// Monitor with a bare go-libvirt QEMUDomainMonitorCommand on its own
// connection, to the same domain, alternating the two every round (and
// which goes first) so that both see the same machine load. ns/op is one
// round of both; the medians of each and their ratio ("x-vs-bare-p50",
// target at most 1.05) are reported, with the ratio of the means.
func BenchmarkRoundTrip(b *testing.B) {
	virttest.Require(b)
	l := virttest.Conn(b)
	d := virttest.StartDomain(b, l, "bench")
	ctx := context.Background()
	r, err := Dial(ctx, Config{URI: virttest.URI})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	m, err := r.Open(ctx, d.Name)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	var st status
	bare := func() {
		s, err := l.QEMUDomainMonitorCommand(d, `{"execute":"query-status"}`, 0)
		if err != nil {
			b.Fatal(err)
		}
		var rep struct {
			Return status `json:"return"`
		}
		if err := json.Unmarshal([]byte(s), &rep); err != nil || rep.Return.Status != "running" {
			b.Fatalf("bare reply %s: %v", s, err)
		}
	}
	route := func() {
		if err := m.Execute(ctx, "query-status", nil, &st); err != nil || st.Status != "running" {
			b.Fatalf("route: %+v %v", st, err)
		}
	}
	for range 20 { // warm both paths
		bare()
		route()
	}
	tRoute := make([]time.Duration, 0, b.N)
	tBare := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if i%2 == 0 {
			route()
			t1 := time.Now()
			bare()
			t2 := time.Now()
			tRoute = append(tRoute, t1.Sub(t0))
			tBare = append(tBare, t2.Sub(t1))
		} else {
			bare()
			t1 := time.Now()
			route()
			t2 := time.Now()
			tBare = append(tBare, t1.Sub(t0))
			tRoute = append(tRoute, t2.Sub(t1))
		}
	}
	b.StopTimer()
	mr, mb := median(tRoute), median(tBare)
	b.ReportMetric(float64(mr.Nanoseconds()), "route-p50-ns")
	b.ReportMetric(float64(mb.Nanoseconds()), "bare-p50-ns")
	b.ReportMetric(float64(mr)/float64(mb), "x-vs-bare-p50")
	b.ReportMetric(float64(sum(tRoute))/float64(sum(tBare)), "x-vs-bare-mean")
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func sum(d []time.Duration) (t time.Duration) {
	for _, x := range d {
		t += x
	}
	return t
}

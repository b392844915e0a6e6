package virt

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/qscope/qscope/qmp/virt/virttest"
)

// BenchmarkRoundTrip compares one query-status round trip through a
// Monitor with a bare go-libvirt QEMUDomainMonitorCommand on its own
// connection, to the same domain, alternating the two every round so that
// both see the same machine load. ns/op is the Monitor's; the ratio is
// reported as "x-vs-bare" (target: at most 1.05).
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
	var tRoute, tBare time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if i%2 == 0 {
			route()
			t1 := time.Now()
			bare()
			t2 := time.Now()
			tRoute += t1.Sub(t0)
			tBare += t2.Sub(t1)
		} else {
			bare()
			t1 := time.Now()
			route()
			t2 := time.Now()
			tBare += t1.Sub(t0)
			tRoute += t2.Sub(t1)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(tRoute.Nanoseconds())/float64(b.N), "route-ns/op")
	b.ReportMetric(float64(tBare.Nanoseconds())/float64(b.N), "bare-ns/op")
	b.ReportMetric(float64(tRoute)/float64(tBare), "x-vs-bare")
}

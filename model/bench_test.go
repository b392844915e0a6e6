package model

import (
	"encoding/json"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/qscope/qscope/qmp"
)

// keystrokeBudget is the target for one keystroke's Update plus View.
const keystrokeBudget = 2 * time.Millisecond

// benchModel is a 120×40 UI with 100 guests, the first one open with
// 10,000 buffered events.
func benchModel(b *testing.B, view string) *Model {
	m := New(Config{Now: fixedNow})
	m.Update(sizeMsg(120, 40))
	m.Update(added(manyGuests(100)...))
	if view == "list" {
		m.View()
		return m
	}
	press(m, "e")
	m.sess.state = sessOpen
	evs := make([]qmp.Event, 0, 10000)
	for i := range 10000 {
		evs = append(evs, qmp.Event{Name: []string{"STOP", "RESUME", "BLOCK_JOB_READY", "DEVICE_DELETED"}[i%4],
			Data:      json.RawMessage(`{"device":"disk` + strconv.Itoa(i%8) + `","path":"/machine/peripheral/disk","len":` + strconv.Itoa(i) + `}`),
			Timestamp: qmp.Timestamp{Seconds: epoch.Unix() + int64(i)}})
	}
	m.Update(eventsMsg{sid: m.sess.id, events: evs})
	if m.events.ring.n != 10000 {
		b.Fatalf("buffered %d events", m.events.ring.n)
	}
	m.View()
	return m
}

// benchKeys measures Update+View for each keystroke and reports the
// 99th percentile against the budget.
func benchKeys(b *testing.B, m *Model, keys []string) {
	durs := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := keyMsg(keys[i%len(keys)])
		start := time.Now()
		m.Update(k)
		_ = m.View()
		durs = append(durs, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(durs)
	p99 := durs[len(durs)*99/100]
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(p99)/float64(keystrokeBudget), "p99/budget")
}

func BenchmarkKeystroke(b *testing.B) {
	b.Run("list-100-guests", func(b *testing.B) {
		benchKeys(b, benchModel(b, "list"), []string{"j", "j", "j", "k", "k", "k"})
	})
	b.Run("events-10000", func(b *testing.B) {
		benchKeys(b, benchModel(b, "events"), []string{"k", "k", "k", "j", "j", "j"})
	})
	b.Run("events-filter-typing", func(b *testing.B) {
		m := benchModel(b, "events")
		press(m, "/")
		benchKeys(b, m, []string{"B", "L", "O", "C", "K", "backspace", "backspace", "backspace", "backspace", "backspace"})
	})
	b.Run("list-filter-typing", func(b *testing.B) {
		m := benchModel(b, "list")
		press(m, "/")
		benchKeys(b, m, []string{"v", "m", "1", "backspace", "backspace", "backspace"})
	})
}

// BenchmarkDiscoveryUpdate is one discovery batch that changes every
// guest's figures (what the UI does every interval when idle), against
// the cost of a keystroke in the list as the reference.
func BenchmarkDiscoveryUpdate(b *testing.B) {
	m := benchModel(b, "list")
	src := SyntheticSource{N: 100, Start: epoch}
	prev := src.Guests(0)
	batches := make([]changesMsg, 8)
	for i := range batches {
		next := src.Guests(i + 1)
		batches[i] = changesMsg{changes: diff(prev, next)}
		prev = next
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		m.Update(batches[i%len(batches)])
		_ = m.View()
	}
	per := time.Since(start) / time.Duration(b.N)
	b.ReportMetric(float64(per)/float64(time.Second)*100, "%core-at-1s")
}

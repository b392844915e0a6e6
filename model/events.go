package model

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"

	"github.com/qscope/qscope/qmp"
	"github.com/qscope/qscope/ui"
)

type eventEntry struct {
	seq  uint64
	ev   ui.Event
	raw  json.RawMessage
	name int // index of the name in eventsState.names
}

// ring is a bounded buffer of events addressed by sequence number: the
// oldest are forgotten first.
type ring struct {
	buf   []eventEntry
	start int
	n     int
	next  uint64 // sequence number of the next event
}

func newRing(size int) *ring { return &ring{buf: make([]eventEntry, size)} }

func (r *ring) first() uint64 { return r.next - uint64(r.n) }

func (r *ring) push(e eventEntry) {
	e.seq = r.next
	r.next++
	if r.n == len(r.buf) {
		r.buf[r.start] = e
		r.start = (r.start + 1) % len(r.buf)
		return
	}
	r.buf[(r.start+r.n)%len(r.buf)] = e
	r.n++
}

func (r *ring) get(seq uint64) *eventEntry {
	if seq < r.first() || seq >= r.next {
		return nil
	}
	return &r.buf[(r.start+int(seq-r.first()))%len(r.buf)]
}

// eventsState is the events pane: the buffer, the filtered view of it
// (sequence numbers), and where the user is looking.
type eventsState struct {
	ring        *ring
	shown       []uint64 // seqs passing the filter, ascending
	filter      string
	lowerFilter string
	names       []string       // distinct event names, lower case
	nameIDs     map[string]int // name → index in names
	match       []bool         // names[i] passes the filter
	typing      bool
	follow      bool
	paused      bool
	frozen      uint64 // while paused: show only seqs below this
	sel         uint64 // selected seq
	top         uint64 // first visible seq when not following
	dropped     uint64
	stream      string
	rows        int // visible rows, from the last layout
}

func (e *eventsState) reset(size int) {
	*e = eventsState{ring: newRing(size), follow: true, rows: e.rows}
}

// nameID interns an event name: a guest sends few distinct names, so the
// filter is matched once per name, not once per event.
func (e *eventsState) nameID(name string) int {
	if id, ok := e.nameIDs[name]; ok {
		return id
	}
	if e.nameIDs == nil {
		e.nameIDs = map[string]int{}
	}
	id := len(e.names)
	e.nameIDs[name] = id
	e.names = append(e.names, strings.ToLower(name))
	e.match = append(e.match, e.filter == "" || strings.Contains(e.names[id], e.lowerFilter))
	return id
}

func (e *eventsState) matches(id int) bool { return e.match[id] }

func (e *eventsState) add(evs []qmp.Event) {
	for _, ev := range evs {
		ent := eventEntry{ev: ui.Event{Time: ev.Time(), Name: ev.Name, Summary: compactJSON(ev.Data)}, raw: ev.Data, name: e.nameID(ev.Name)}
		e.ring.push(ent)
		if e.matches(ent.name) {
			e.shown = append(e.shown, e.ring.next-1)
		}
	}
	e.trim()
}

// trim forgets filtered seqs the ring no longer holds.
func (e *eventsState) trim() {
	first := e.ring.first()
	i := sort.Search(len(e.shown), func(i int) bool { return e.shown[i] >= first })
	if i > 0 {
		e.shown = append(e.shown[:0], e.shown[i:]...)
	}
}

func (e *eventsState) refilter() {
	e.lowerFilter = strings.ToLower(e.filter)
	for i, n := range e.names {
		e.match[i] = e.filter == "" || strings.Contains(n, e.lowerFilter)
	}
	e.shown = e.shown[:0]
	for seq := e.ring.first(); seq < e.ring.next; seq++ {
		if ent := e.ring.get(seq); e.matches(ent.name) {
			e.shown = append(e.shown, seq)
		}
	}
}

// visible is the part of shown the view may use (all of it unless paused).
func (e *eventsState) visible() []uint64 {
	if !e.paused {
		return e.shown
	}
	n := sort.Search(len(e.shown), func(i int) bool { return e.shown[i] >= e.frozen })
	return e.shown[:n]
}

func (e *eventsState) index(v []uint64, seq uint64) int {
	return sort.Search(len(v), func(i int) bool { return v[i] >= seq })
}

// move shifts the selection by delta rows; moving up stops following.
func (e *eventsState) move(delta int) {
	v := e.visible()
	if len(v) == 0 {
		return
	}
	i := e.selIndex(v) + delta
	i = max(0, min(i, len(v)-1))
	e.sel = v[i]
	e.follow = i == len(v)-1 && delta > 0 && e.follow
	if delta < 0 {
		e.follow = false
	}
	e.scrollTo(v, i)
}

func (e *eventsState) selIndex(v []uint64) int {
	if e.follow && !e.paused {
		return len(v) - 1
	}
	i := e.index(v, e.sel)
	if i >= len(v) {
		i = len(v) - 1
	}
	return i
}

func (e *eventsState) scrollTo(v []uint64, i int) {
	rows := max(1, e.rows)
	t := e.index(v, e.top)
	if i < t {
		t = i
	}
	if i >= t+rows {
		t = i - rows + 1
	}
	t = max(0, min(t, len(v)-1))
	e.top = v[t]
}

func (e *eventsState) bottom() {
	e.follow = true
}

func (e *eventsState) topmost() {
	v := e.visible()
	if len(v) == 0 {
		return
	}
	e.follow = false
	e.sel = v[0]
	e.top = v[0]
}

func (e *eventsState) selected() *eventEntry {
	v := e.visible()
	if len(v) == 0 {
		return nil
	}
	return e.ring.get(v[e.selIndex(v)])
}

// data is the view's input: only the rows that fit.
func (e *eventsState) data(rows int, focused bool) ui.EventsData {
	v := e.visible()
	d := ui.EventsData{
		Shown: len(v), Total: e.ring.n, Dropped: e.dropped, Follow: e.follow, Paused: e.paused,
		Filter: e.filter, Typing: e.typing, Stream: e.stream, Selected: -1, Focused: focused,
	}
	if e.paused {
		d.Pending = len(e.shown) - len(v)
	}
	if len(v) == 0 || rows <= 0 {
		return d
	}
	sel := e.selIndex(v)
	var top int
	if e.follow && !e.paused {
		top = max(0, len(v)-rows)
	} else {
		top = e.index(v, e.top)
		if sel < top {
			top = sel
		}
		if sel >= top+rows {
			top = sel - rows + 1
		}
		top = max(0, min(top, len(v)-1))
	}
	end := min(len(v), top+rows)
	d.Window = make([]ui.Event, 0, end-top)
	for _, seq := range v[top:end] {
		d.Window = append(d.Window, e.ring.get(seq).ev)
	}
	d.First = top
	d.Selected = sel - top
	return d
}

// prettyEvent indents an event for the pop-up, in the shape QEMU sent
// it (the timestamp as seconds and microseconds), so that it can be
// copied into a script that reads QEMU's events.
func prettyEvent(ent *eventEntry) []string {
	var b bytes.Buffer
	type stamp struct {
		Seconds      int64 `json:"seconds"`
		Microseconds int64 `json:"microseconds"`
	}
	obj := struct {
		Timestamp stamp           `json:"timestamp"`
		Event     string          `json:"event"`
		Data      json.RawMessage `json:"data,omitempty"`
	}{stamp{ent.ev.Time.Unix(), int64(ent.ev.Time.Nanosecond() / 1000)}, ent.ev.Name, ent.raw}
	raw, _ := json.Marshal(obj)
	// The guest's words, escaped where encoding/json leaves C1 and bidi
	// controls raw: the lines are shown, and stay JSON to copy.
	raw = ui.SanitizeJSON(raw)
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return []string{string(raw)}
	}
	return strings.Split(b.String(), "\n")
}

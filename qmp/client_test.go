package qmp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qscope/qscope/qmp"
	"github.com/qscope/qscope/qmp/qmptest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func connect(t *testing.T, s *qmptest.Server, opts ...qmp.Option) *qmp.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := qmp.NewClient(ctx, s.Pipe(t), opts...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestHandshake(t *testing.T) {
	s := &qmptest.Server{}
	transcript := &qmptest.Transcript{}
	c := connect(t, s, qmp.WithTranscript(transcript))
	if v := c.Version(); v.String() != "7.2.22" || !v.AtLeast(7, 2) || v.AtLeast(7, 3) {
		t.Errorf("version = %v", v)
	}
	if !c.Greeting().Has("oob") || !c.OOB() {
		t.Errorf("oob not negotiated: greeting %v, OOB %v", c.Greeting(), c.OOB())
	}
	if !strings.Contains(transcript.String(), `-> {"execute":"qmp_capabilities","arguments":{"enable":["oob"]},"id":1}`) {
		t.Errorf("transcript lacks the negotiation:\n%s", transcript.String())
	}
}

func TestWithoutOOB(t *testing.T) {
	s := &qmptest.Server{}
	tr := &qmptest.Transcript{}
	c := connect(t, s, qmp.WithoutOOB(), qmp.WithTranscript(tr))
	if c.OOB() {
		t.Fatal("OOB negotiated despite WithoutOOB")
	}
	if strings.Contains(tr.String(), "enable") {
		t.Errorf("negotiation asked for a capability:\n%s", tr.String())
	}
	err := c.ExecuteOOB(context.Background(), "query-yank", nil, nil)
	if !errors.Is(err, qmp.ErrNotSupported) {
		t.Errorf("ExecuteOOB without oob: %v, want ErrNotSupported", err)
	}
}

// Replies come back in the reverse order of the requests; every caller
// must still get its own.
func TestRepliesMatchedByID(t *testing.T) {
	const n = 16
	var mu sync.Mutex
	var held []qmptest.Request
	s := &qmptest.Server{Handle: func(c *qmptest.Conn, r qmptest.Request) {
		mu.Lock()
		held = append(held, r)
		if len(held) < n {
			mu.Unlock()
			return
		}
		reqs := held
		held = nil
		mu.Unlock()
		for i := len(reqs) - 1; i >= 0; i-- {
			var a struct{ N int }
			json.Unmarshal(reqs[i].Arguments, &a)
			c.Event("NOISE", map[string]int{"n": a.N}) // events between replies
			c.Reply(reqs[i], map[string]int{"n": a.N * 10})
		}
	}}
	c := connect(t, s)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			var out struct{ N int }
			if err := c.Execute(context.Background(), "echo", map[string]int{"n": i}, &out); err != nil {
				errs <- err
				return
			}
			if out.N != i*10 {
				errs <- fmt.Errorf("caller %d got reply %d", i, out.N)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestErrorReply(t *testing.T) {
	s := &qmptest.Server{Handle: func(c *qmptest.Conn, r qmptest.Request) {
		c.ReplyError(r, "DeviceNotFound", "Device 'nope' not found")
	}}
	c := connect(t, s)
	err := c.Execute(context.Background(), "device_del", map[string]string{"id": "nope"}, nil)
	var qe *qmp.Error
	if !errors.As(err, &qe) {
		t.Fatalf("err = %v (%T), want *qmp.Error", err, err)
	}
	if qe.Class != "DeviceNotFound" || qe.Desc != "Device 'nope' not found" || qe.Command != "device_del" {
		t.Errorf("error = %+v", qe)
	}
	if want := "qmp: device_del: DeviceNotFound: Device 'nope' not found"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}

// A call whose context ends returns at once; the late reply is dropped
// and the client goes on working.
func TestCancelDropsLateReply(t *testing.T) {
	release := make(chan struct{})
	s := &qmptest.Server{Handle: func(c *qmptest.Conn, r qmptest.Request) {
		if r.Command() == "slow" {
			go func() { <-release; c.Reply(r, map[string]string{"who": "slow"}) }()
			return
		}
		c.Reply(r, map[string]string{"who": r.Command()})
	}}
	c := connect(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.Execute(ctx, "slow", nil, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancel took %v", d)
	}
	close(release)
	var out struct{ Who string }
	if err := c.Execute(context.Background(), "fast", nil, &out); err != nil || out.Who != "fast" {
		t.Fatalf("after cancel: %v, %+v", err, out)
	}
}

func TestDisconnectMidReply(t *testing.T) {
	s := &qmptest.Server{Handle: func(c *qmptest.Conn, r qmptest.Request) {
		c.WriteRaw([]byte(`{"return": {"status": "runn`))
		c.Close()
	}}
	c := connect(t, s)
	err := c.Execute(context.Background(), "query-status", nil, nil)
	if !errors.Is(err, qmp.ErrDisconnected) {
		t.Fatalf("err = %v, want ErrDisconnected", err)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed")
	}
	start := time.Now()
	if err := c.Execute(context.Background(), "query-status", nil, nil); !errors.Is(err, qmp.ErrDisconnected) {
		t.Errorf("later call: %v", err)
	}
	if time.Since(start) > time.Second {
		t.Error("later call did not fail at once")
	}
}

func TestMalformedJSON(t *testing.T) {
	s := &qmptest.Server{Handle: func(c *qmptest.Conn, r qmptest.Request) {
		c.WriteRaw([]byte("{\"return\": }\r\n"))
	}}
	c := connect(t, s)
	err := c.Execute(context.Background(), "query-status", nil, nil)
	if !errors.Is(err, qmp.ErrProtocol) || !errors.Is(err, qmp.ErrDisconnected) {
		t.Fatalf("err = %v, want ErrProtocol and ErrDisconnected", err)
	}
}

func TestHugeReply(t *testing.T) {
	big := strings.Repeat("x", 16<<20)
	s := &qmptest.Server{Handle: func(c *qmptest.Conn, r qmptest.Request) {
		c.Reply(r, map[string]string{"blob": big})
	}}
	c := connect(t, s)
	var out struct{ Blob string }
	if err := c.Execute(context.Background(), "big", nil, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Blob) != len(big) {
		t.Errorf("got %d bytes, want %d", len(out.Blob), len(big))
	}
}

func TestNoGreetingIsBusy(t *testing.T) {
	s := &qmptest.Server{NoGreeting: true}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := qmp.NewClient(ctx, s.Pipe(t))
	if !errors.Is(err, qmp.ErrBusy) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrBusy wrapping DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v to give up", d)
	}
}

func TestNotAGreeting(t *testing.T) {
	s := &qmptest.Server{Greeting: `{"hello": "world"}`}
	_, err := qmp.NewClient(context.Background(), s.Pipe(t))
	if !errors.Is(err, qmp.ErrProtocol) {
		t.Fatalf("err = %v, want ErrProtocol", err)
	}
}

// -qmp-pretty: messages span lines.
func TestPrettyFraming(t *testing.T) {
	s := &qmptest.Server{
		Greeting: "{\n    \"QMP\": {\n        \"version\": {\"qemu\": {\"micro\": 2, \"minor\": 0, \"major\": 10},\n \"package\": \"\"},\n        \"capabilities\": [\n            \"oob\"\n        ]\n    }\n}",
		Handle: func(c *qmptest.Conn, r qmptest.Request) {
			c.WriteRaw([]byte("{\n    \"event\": \"STOP\",\n    \"timestamp\": {\n        \"seconds\": 1,\n        \"microseconds\": 2\n    }\n}\n"))
			c.WriteRaw([]byte("{\n    \"return\": {\n        \"status\": \"paused\",\n        \"running\": false\n    },\n    \"id\": " + string(r.ID) + "\n}\n"))
		},
	}
	c := connect(t, s)
	sub := c.Subscribe("STOP")
	defer sub.Close()
	if c.Version().String() != "10.0.2" {
		t.Errorf("version %v", c.Version())
	}
	var st struct{ Status string }
	if err := c.Execute(context.Background(), "query-status", nil, &st); err != nil || st.Status != "paused" {
		t.Fatalf("%v %+v", err, st)
	}
	ev, err := sub.Next(context.Background())
	if err != nil || ev.Name != "STOP" || ev.Timestamp.Microseconds != 2 {
		t.Fatalf("event %+v, %v", ev, err)
	}
}

// QEMU may raise the event before it replies (RESUME before cont's reply):
// ExecuteAndWait subscribes first, so it sees it.
func TestExecuteAndWaitEventBeforeReply(t *testing.T) {
	s := &qmptest.Server{Handle: func(c *qmptest.Conn, r qmptest.Request) {
		var a struct{ ID string }
		json.Unmarshal(r.Arguments, &a)
		c.Event("DEVICE_DELETED", map[string]string{"device": "other"})
		c.Event("DEVICE_DELETED", map[string]string{"device": a.ID, "path": "/machine/peripheral/" + a.ID})
		c.Reply(r, struct{}{})
	}}
	c := connect(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ev, err := c.ExecuteAndWait(ctx, "device_del", map[string]string{"id": "net0"}, nil, "DEVICE_DELETED", qmp.DataEquals("device", "net0"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct{ Device, Path string }
	if err := ev.DecodeData(&d); err != nil || d.Device != "net0" {
		t.Fatalf("event %+v %v", d, err)
	}
}

// A subscriber that never reads costs a bounded queue and never slows
// commands or other subscribers.
func TestUnreadSubscriberDoesNotBlock(t *testing.T) {
	const flood = 5000
	s := &qmptest.Server{Handle: func(c *qmptest.Conn, r qmptest.Request) {
		if r.Command() == "flood" {
			for i := range flood {
				c.Event("STOP", map[string]int{"i": i})
			}
		}
		c.Reply(r, struct{}{})
	}}
	c := connect(t, s, qmp.WithQueueSize(64))
	lazy := c.Subscribe() // never read
	defer lazy.Close()
	reader := c.Subscribe("STOP")
	defer reader.Close()
	got := make(chan int)
	go func() {
		n := 0
		for {
			ev, err := reader.Next(context.Background())
			if err != nil {
				got <- n
				return
			}
			var d struct{ I int }
			ev.DecodeData(&d)
			n++
			if d.I == flood-1 {
				got <- n
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Execute(ctx, "flood", nil, nil); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if err := c.Execute(ctx, "ping", nil, nil); err != nil {
			t.Fatalf("command %d after flood: %v", i, err)
		}
	}
	if n := <-got; n == 0 {
		t.Error("reading subscriber saw nothing")
	}
	if d := lazy.Dropped(); d != flood-64 {
		t.Errorf("lazy subscriber dropped %d, want %d", d, flood-64)
	}
	evs := lazy.Drain()
	if len(evs) != 64 {
		t.Fatalf("lazy queue holds %d", len(evs))
	}
	var last struct{ I int }
	evs[63].DecodeData(&last)
	if last.I != flood-1 {
		t.Errorf("queue does not keep the newest: last is %d", last.I)
	}
}

func TestCloseFailsPending(t *testing.T) {
	received := make(chan struct{})
	s := &qmptest.Server{Handle: func(c *qmptest.Conn, r qmptest.Request) { close(received) }} // never replies
	c := connect(t, s)
	sub := c.Subscribe()
	errc := make(chan error)
	go func() { errc <- c.Execute(context.Background(), "hang", nil, nil) }()
	<-received // the call is pending now; Close must retire it
	c.Close()
	if err := <-errc; !errors.Is(err, qmp.ErrClosed) {
		t.Errorf("pending call: %v, want ErrClosed", err)
	}
	if _, err := sub.Next(context.Background()); !errors.Is(err, qmp.ErrClosed) {
		t.Errorf("subscription: %v, want ErrClosed", err)
	}
	if err := c.Execute(context.Background(), "x", nil, nil); !errors.Is(err, qmp.ErrClosed) {
		t.Errorf("after close: %v", err)
	}
	c.Close() // idempotent
}

func TestInvalidRequestsSendNothing(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	s := &qmptest.Server{Handle: func(c *qmptest.Conn, r qmptest.Request) {
		mu.Lock()
		seen = append(seen, r.Command())
		mu.Unlock()
		c.Reply(r, struct{}{})
	}}
	c := connect(t, s)
	ctx := context.Background()
	cases := []struct {
		cmd  string
		args any
		want string
	}{
		{"", nil, "empty command name"},
		{"query status", nil, `has character ' '`},
		{`x"}`, nil, "has character"},
		{"device_add", []int{1}, "must be a JSON object"},
		{"device_add", "driver=e1000", "must be a JSON object"},
		{"device_add", json.RawMessage(`{"driver":`), "not valid JSON"},
		{"device_add", map[string]any{"f": func() {}}, "encoding arguments"},
	}
	for _, tc := range cases {
		err := c.Execute(ctx, tc.cmd, tc.args, nil)
		if !errors.Is(err, qmp.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Execute(%q, %v) = %v, want ErrInvalid mentioning %q", tc.cmd, tc.args, err, tc.want)
		}
	}
	if err := c.ExecuteWithFile(ctx, "device_add", nil, nil, nil); !errors.Is(err, qmp.ErrInvalid) {
		t.Errorf("ExecuteWithFile(device_add): %v", err)
	}
	// A valid command afterwards proves the stream is intact and is the
	// only thing the server ever saw.
	if err := c.Execute(ctx, "query-status", json.RawMessage(" {\n} "), nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen[0] != "query-status" {
		t.Errorf("server saw %v", seen)
	}
}

func TestDispatcherCloseEndsSubscriptionsAfterQueue(t *testing.T) {
	var d qmp.Dispatcher
	s := d.Subscribe("A")
	d.Publish(qmp.Event{Name: "B"})
	d.Publish(qmp.Event{Name: "A"})
	cause := errors.New("gone")
	d.Close(cause)
	ev, err := s.Next(context.Background())
	if err != nil || ev.Name != "A" {
		t.Fatalf("first Next = %v, %v", ev, err)
	}
	if _, err := s.Next(context.Background()); err != cause {
		t.Fatalf("second Next err = %v", err)
	}
	late := d.Subscribe()
	if late.Err() != cause {
		t.Errorf("subscription after close: %v", late.Err())
	}
}

func TestCheckRequest(t *testing.T) {
	for _, tc := range []struct {
		args any
		want string
		err  bool
	}{
		{nil, "", false},
		{json.RawMessage(` { "a" : 1 } `), `{"a":1}`, false},
		{json.RawMessage(`null`), "", false},
		{map[string]any{"path": "/machine"}, `{"path":"/machine"}`, false},
		{json.RawMessage(`[1]`), "", true},
		{json.RawMessage(`{`), "", true},
		{42, "", true},
	} {
		got, err := qmp.CheckRequest("c", tc.args)
		if tc.err != (err != nil) || string(got) != tc.want {
			t.Errorf("CheckRequest(%v) = %s, %v", tc.args, got, err)
		}
		if err != nil && !errors.Is(err, qmp.ErrInvalid) {
			t.Errorf("CheckRequest(%v): %v is not ErrInvalid", tc.args, err)
		}
	}
	for _, bad := range []string{"", "a b", `x"y`, strings.Repeat("a", 129)} {
		if _, err := qmp.CheckRequest(bad, nil); !errors.Is(err, qmp.ErrInvalid) {
			t.Errorf("CheckRequest(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

// Whatever arrives in the same read as a caller's reply is handed on
// before the caller returns: events, and a protocol error.
func TestBytesAfterReplyInSameRead(t *testing.T) {
	s := &qmptest.Server{Handle: func(c *qmptest.Conn, r qmptest.Request) {
		tail := `{"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 0}}`
		if r.Command() == "then-garbage" {
			tail = `]]`
		}
		c.WriteRaw([]byte(`{"return": {}, "id": ` + string(r.ID) + `}` + tail))
	}}
	c := connect(t, s)
	sub := c.Subscribe("STOP")
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Execute(ctx, "then-event", nil, nil); err != nil {
		t.Fatal(err)
	}
	if ev, err := sub.Next(ctx); err != nil || ev.Name != "STOP" {
		t.Fatalf("event after the reply: %v %v", ev.Name, err)
	}
	if err := c.Execute(ctx, "then-garbage", nil, nil); err != nil {
		t.Fatalf("the reply itself was fine: %v", err)
	}
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("garbage after a reply did not end the connection")
	}
	if err := c.Err(); !errors.Is(err, qmp.ErrProtocol) {
		t.Errorf("Err = %v, want ErrProtocol", err)
	}
}

// Ids come back into use once their reply has been read, so that they stay
// short; an abandoned call's id stays out of use until its late reply has
// come, so that reply cannot be taken for a newer call's.
func TestIDsReusedOnlyOnceAnswered(t *testing.T) {
	var mu sync.Mutex
	var ids []string
	var held qmptest.Request // only the server's reader goroutine uses it
	s := &qmptest.Server{Handle: func(c *qmptest.Conn, r qmptest.Request) {
		mu.Lock()
		ids = append(ids, string(r.ID))
		mu.Unlock()
		switch r.Command() {
		case "hold":
			held = r
			return
		case "answer-held":
			c.Reply(held, map[string]string{"who": "hold"})
		case "stray":
			c.WriteRaw([]byte(`{"return": {}, "id": 999}`))
		}
		c.Reply(r, map[string]string{"who": r.Command()})
	}}
	c := connect(t, s)
	idOf := func(i int) string {
		mu.Lock()
		defer mu.Unlock()
		return ids[i]
	}
	call := func(name string) {
		t.Helper()
		var out struct{ Who string }
		if err := c.Execute(context.Background(), name, nil, &out); err != nil || out.Who != name {
			t.Fatalf("%s: %v, reply from %q", name, err, out.Who)
		}
	}

	for range 10 {
		call("a")
	}
	x := idOf(0)
	for i := range 10 {
		if idOf(i) != x {
			t.Fatalf("sequential calls used ids %v, want one id again and again", ids[:10])
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.Execute(ctx, "hold", nil, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hold: %v, want DeadlineExceeded", err)
	}
	if got := idOf(10); got != x {
		t.Errorf("hold used id %s, want the free id %s", got, x)
	}
	if n := c.Pending(); n != 0 {
		t.Errorf("Pending = %d after the only call gave up", n)
	}
	call("b")
	if got := idOf(11); got == x {
		t.Fatalf("b reused id %s while the abandoned call's reply could still come", x)
	}
	// The server answers the abandoned call first: that reply must be
	// dropped, not handed to answer-held (call checks who replied).
	call("answer-held")
	for range 10 {
		call("c")
	}
	mu.Lock()
	used := map[string]bool{}
	for _, id := range ids {
		used[id] = true
	}
	mu.Unlock()
	if len(used) != 2 {
		t.Errorf("%d ids used by calls at most two at a time: %v", len(used), ids)
	}
	if n := c.Orphaned(); n != 0 {
		t.Errorf("Orphaned = %d before any stray reply", n)
	}
	call("stray")
	if n := c.Orphaned(); n != 1 {
		t.Errorf("Orphaned = %d after a reply with an id never sent, want 1", n)
	}
}

// A request is one compact JSON object with no newline after it: QEMU
// reads requests a byte per system call, so every byte costs it.
func TestRequestBytes(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	got := make(chan string, 1)
	go func() {
		defer close(got)
		server.Write([]byte(qmptest.DefaultGreeting + "\r\n"))
		buf := make([]byte, 512)
		for i := 0; ; i++ {
			n, err := server.Read(buf)
			if err != nil {
				return
			}
			if i == 0 { // qmp_capabilities
				server.Write([]byte(`{"return": {}, "id": 1}` + "\r\n"))
				continue
			}
			got <- string(buf[:n])
			server.Write([]byte(`{"return": {}, "id": 1}` + "\r\n"))
			return
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := qmp.NewClient(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Execute(ctx, "query-status", map[string]any{}, nil); err != nil {
		t.Fatal(err)
	}
	if sent, want := <-got, `{"execute":"query-status","arguments":{},"id":1}`; sent != want {
		t.Errorf("sent %q, want %q", sent, want)
	}
}

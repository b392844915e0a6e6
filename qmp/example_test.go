package qmp_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/qscope/qscope/qmp"
	"github.com/qscope/qscope/qmp/qmptest"
)

// A fake monitor stands in for QEMU here so the example runs anywhere;
// with a real QEMU, use qmp.Dial(ctx, "unix", "/path/to/qmp.sock").
func fakeQEMU() *qmptest.Server {
	return &qmptest.Server{Handle: func(c *qmptest.Conn, r qmptest.Request) {
		switch r.Command() {
		case "query-status":
			c.Reply(r, map[string]any{"status": "running", "running": true})
		case "stop":
			c.Event("STOP", nil) // QEMU may announce it before replying
			c.Reply(r, struct{}{})
		default:
			c.ReplyError(r, "CommandNotFound", "The command "+r.Command()+" has not been found")
		}
	}}
}

func Example() {
	srv := fakeQEMU()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	c, err := qmp.NewClient(ctx, srv.Conn())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	fmt.Println("QEMU", c.Version(), "oob:", c.OOB())

	var st struct{ Status string }
	if err := c.Execute(ctx, "query-status", nil, &st); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("status:", st.Status)

	err = c.Execute(ctx, "query-nothing", nil, nil)
	var qe *qmp.Error
	if errors.As(err, &qe) {
		fmt.Println("class:", qe.Class)
	}
	// Output:
	// QEMU 7.2.22 oob: true
	// status: running
	// class: CommandNotFound
}

func ExampleClient_ExecuteAndWait() {
	srv := fakeQEMU()
	defer srv.Close()
	ctx := context.Background()
	c, err := qmp.NewClient(ctx, srv.Conn())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	ev, err := c.ExecuteAndWait(ctx, "stop", nil, nil, "STOP", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("got", ev.Name)
	// Output: got STOP
}

func ExampleSubscription() {
	srv := fakeQEMU()
	defer srv.Close()
	ctx := context.Background()
	c, err := qmp.NewClient(ctx, srv.Conn())
	if err != nil {
		fmt.Println(err)
		return
	}
	sub := c.Subscribe("STOP", "RESUME")
	c.Execute(ctx, "stop", nil, nil)
	c.Close()
	for ev, err := range sub.All(ctx) {
		if err != nil {
			fmt.Println("ended:", errors.Is(err, qmp.ErrClosed))
			break
		}
		fmt.Println(ev.Name)
	}
	// Output:
	// STOP
	// ended: true
}

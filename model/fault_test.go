package model

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/qmp"
	"github.com/qscope/qscope/qmp/qmptest"
	"github.com/qscope/qscope/ui"
)

// TestHungThenGoneTransport injects the faults of a route whose far end
// stops answering (a hung libvirtd, a stopped QEMU behind a proxy) and
// then goes away: every section fails on its own timeout, keys keep
// working throughout, and the panes say the monitor closed.
func TestHungThenGoneTransport(t *testing.T) {
	srv := &qmptest.Server{Handle: func(c *qmptest.Conn, r qmptest.Request) {}} // never replies
	m := newTest(t, Config{
		CallTimeout: 200 * time.Millisecond,
		Connect: func(ctx context.Context, g discover.Guest) (qmp.Monitor, error) {
			return qmp.NewClient(ctx, srv.Conn())
		},
	})
	m.Update(sizeMsg(120, 40))
	g := testGuest("hung", 77, "running")
	g.Owner = discover.OwnerLibvirt
	m.Update(added(g))
	d := newDriver(t, m)
	d.keys("enter")
	start := time.Now()
	d.until("sections to time out", 10*time.Second, func() bool { return m.sess.state == sessOpen && sectionsSettled(m) })
	for i, s := range m.details.secs {
		if s.State != ui.SectionFailed || !strings.Contains(s.Err, "no answer within") {
			t.Errorf("section %s: state %v err %q", sections[i].title, s.State, s.Err)
		}
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("sections took %v to give up with a 200ms timeout", took)
	}
	// Keys are handled while calls hang.
	d.keys("e")
	if m.view != viewEvents {
		t.Error("e ignored while the monitor hangs")
	}
	srv.Close()
	d.until("the end of the monitor", 10*time.Second, func() bool { return m.sess.state == sessClosed })
	if s := screen(t, m); !strings.Contains(s, "monitor closed") {
		t.Errorf("events pane after the transport went away:\n%s", s)
	}
	d.keys("esc")
	if m.view != viewList || m.sess != nil {
		t.Error("esc after the monitor went away")
	}
}

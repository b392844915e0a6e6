package model

import (
	"time"

	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/qmp"
	"github.com/qscope/qscope/ui"
)

// Messages produced by the model's commands. Each result of a guest's
// monitor carries the session id it was made for (and, for refreshable
// fetches, a sequence number), so a result that arrives after the guest
// was closed, or after a newer refresh, is dropped.

type watchStartedMsg struct {
	ch  <-chan Batch
	err error
}

type changesMsg struct {
	changes []discover.Change
	err     error // the last batch's error
	ch      <-chan Batch
	closed  bool
}

type sessionOpenedMsg struct {
	sid  uint64
	mon  qmp.Monitor
	sub  *qmp.Subscription
	err  error
	took time.Duration
}

type sessionEndedMsg struct {
	sid uint64
	err error
}

type eventsMsg struct {
	sid     uint64
	events  []qmp.Event
	dropped uint64
}

type sectionMsg struct {
	sid, seq uint64
	idx      int
	rows     []ui.Row
	note     string
	err      error
	threads  []vcpuThread // for the vCPU section
	sample   procSample
}

type vcpuSampleMsg struct {
	sid, seq uint64
	sample   procSample
}

type tickMsg struct{ gen uint64 }

type actionDoneMsg struct {
	sid  uint64
	act  action
	name string
	err  error
}

type demoStartedMsg struct {
	stop func()
	err  error
}

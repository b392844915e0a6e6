package qmp

import (
	"context"
	"iter"
	"sync"
)

// DefaultQueueSize is how many events a Subscription holds before it
// starts dropping the oldest.
const DefaultQueueSize = 256

// Dispatcher fans events out to subscriptions. Publish never blocks: each
// subscription has its own bounded queue. Transports embed one; its zero
// value is ready to use.
type Dispatcher struct {
	// QueueSize is the capacity of each new subscription's queue;
	// zero means DefaultQueueSize.
	QueueSize int

	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	closed bool
	err    error
}

// Subscribe returns a subscription to the events whose name is one of
// names, or to every event when names is empty. Subscribe before sending
// the command whose effect you wait for: QEMU may raise the event before
// it replies.
func (d *Dispatcher) Subscribe(names ...string) *Subscription {
	size := d.QueueSize
	if size <= 0 {
		size = DefaultQueueSize
	}
	s := &Subscription{d: d, buf: make([]Event, size), notify: make(chan struct{}, 1)}
	if len(names) > 0 {
		s.names = make(map[string]struct{}, len(names))
		for _, n := range names {
			s.names[n] = struct{}{}
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		s.err = d.err
		return s
	}
	if d.subs == nil {
		d.subs = make(map[*Subscription]struct{})
	}
	d.subs[s] = struct{}{}
	return s
}

// Publish queues ev on every subscription that wants it.
func (d *Dispatcher) Publish(ev Event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for s := range d.subs {
		if s.names != nil {
			if _, ok := s.names[ev.Name]; !ok {
				continue
			}
		}
		s.push(ev)
	}
}

// Close ends every subscription: each delivers what it has queued, then
// err. Later subscriptions end at once with err.
func (d *Dispatcher) Close(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	d.closed, d.err = true, err
	for s := range d.subs {
		s.end(err)
	}
	d.subs = nil
}

func (d *Dispatcher) remove(s *Subscription) {
	d.mu.Lock()
	delete(d.subs, s)
	d.mu.Unlock()
}

// Subscription is a queue of events. Overflow policy: the queue keeps the
// newest events; when it is full, the oldest is dropped and counted (see
// Dropped). A subscription that is never read therefore costs a bounded
// amount of memory and never slows commands or other subscribers.
// Close it when done.
type Subscription struct {
	d      *Dispatcher
	names  map[string]struct{}
	notify chan struct{}

	mu      sync.Mutex
	buf     []Event
	head, n int
	dropped uint64
	err     error // set when the subscription ends
}

func (s *Subscription) push(ev Event) {
	s.mu.Lock()
	if s.err == nil {
		if s.n == len(s.buf) {
			s.buf[s.head] = Event{}
			s.head = (s.head + 1) % len(s.buf)
			s.n--
			s.dropped++
		}
		s.buf[(s.head+s.n)%len(s.buf)] = ev
		s.n++
	}
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

func (s *Subscription) end(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// Next returns the oldest queued event, waiting for one until ctx ends.
// Once the subscription has ended (Close, or the connection was lost) and
// its queue is empty, Next returns the reason.
func (s *Subscription) Next(ctx context.Context) (Event, error) {
	for {
		s.mu.Lock()
		if s.n > 0 {
			ev := s.buf[s.head]
			s.buf[s.head] = Event{}
			s.head = (s.head + 1) % len(s.buf)
			s.n--
			s.mu.Unlock()
			return ev, nil
		}
		err := s.err
		s.mu.Unlock()
		if err != nil {
			return Event{}, err
		}
		select {
		case <-s.notify:
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
}

// All yields events until ctx ends or the subscription does, then yields
// the reason once and stops.
func (s *Subscription) All(ctx context.Context) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		for {
			ev, err := s.Next(ctx)
			if err != nil {
				yield(Event{}, err)
				return
			}
			if !yield(ev, nil) {
				return
			}
		}
	}
}

// Drain returns every queued event without waiting, oldest first.
func (s *Subscription) Drain() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Event, 0, s.n)
	for s.n > 0 {
		out = append(out, s.buf[s.head])
		s.buf[s.head] = Event{}
		s.head = (s.head + 1) % len(s.buf)
		s.n--
	}
	return out
}

// Ready is signalled (it has a buffer of one) when events may be waiting;
// use it in a select together with Drain.
func (s *Subscription) Ready() <-chan struct{} { return s.notify }

// Dropped is how many events the overflow policy has discarded.
func (s *Subscription) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Err is why the subscription ended, or nil while it is live.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close ends the subscription. Queued events are discarded.
func (s *Subscription) Close() {
	if s.d != nil {
		s.d.remove(s)
	}
	s.mu.Lock()
	if s.err == nil {
		s.err = ErrClosed
	}
	s.n = 0
	clear(s.buf)
	s.mu.Unlock()
	select { // wake a Next waiting in another goroutine
	case s.notify <- struct{}{}:
	default:
	}
}

// Package qmptest is a fake QMP server for fault injection: it speaks
// QMP's framing and negotiation over net.Pipe or a unix socket and lets a
// test decide every reply, delay, event and failure. Anything QEMU itself
// decides (command semantics, error texts) is tested against real QEMU,
// not here.
package qmptest

import (
	"bufio"
	"encoding/json"
	"errors"
	"net"
	"sync"
	"testing"
)

// DefaultGreeting is a greeting as QEMU 7.2 sends it.
const DefaultGreeting = `{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7"}, "capabilities": ["oob"]}}`

// Request is one command received by the server.
type Request struct {
	Execute   string          `json:"execute"`
	ExecOOB   string          `json:"exec-oob"`
	Arguments json.RawMessage `json:"arguments"`
	ID        json.RawMessage `json:"id"`
}

// Command is the command's name, whichever way it was sent.
func (r Request) Command() string {
	if r.ExecOOB != "" {
		return r.ExecOOB
	}
	return r.Execute
}

// Server is a scriptable QMP server. Set its fields before serving.
type Server struct {
	// Greeting is sent on connect; empty means DefaultGreeting. Set
	// NoGreeting to send nothing (a busy or stopped monitor).
	Greeting   string
	NoGreeting bool
	// Handle is called, on the connection's reader goroutine, for every
	// command after negotiation (qmp_capabilities is handled by the
	// server). It replies with c.Reply / c.ReplyError, or not at all, or
	// injects faults. Nil replies {} to everything.
	Handle func(c *Conn, r Request)

	mu    sync.Mutex
	conns []*Conn
}

// Conn is the server side of one client connection.
type Conn struct {
	conn       net.Conn
	wmu        sync.Mutex
	negotiated bool
}

// Pipe serves one connection over net.Pipe and returns the client end.
// The server side is closed when the test ends.
func (s *Server) Pipe(t testing.TB) net.Conn {
	client := s.Conn()
	t.Cleanup(func() { s.Close(); client.Close() })
	return client
}

// Conn serves one connection over net.Pipe and returns the client end;
// Close ends the server side.
func (s *Server) Conn() net.Conn {
	client, server := net.Pipe()
	s.start(server)
	return client
}

// Serve serves l until it is closed, one goroutine per connection.
func (s *Server) Serve(l net.Listener) error {
	for {
		nc, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		s.start(nc)
	}
}

// Conns returns the connections served so far.
func (s *Server) Conns() []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Conn(nil), s.conns...)
}

// Close closes every connection.
func (s *Server) Close() {
	for _, c := range s.Conns() {
		c.Close()
	}
}

func (s *Server) start(nc net.Conn) *Conn {
	c := &Conn{conn: nc}
	s.mu.Lock()
	s.conns = append(s.conns, c)
	s.mu.Unlock()
	go s.serve(c)
	return c
}

func (s *Server) serve(c *Conn) {
	defer c.Close()
	if !s.NoGreeting {
		g := s.Greeting
		if g == "" {
			g = DefaultGreeting
		}
		if c.WriteRaw([]byte(g+"\r\n")) != nil {
			return
		}
	}
	dec := json.NewDecoder(bufio.NewReader(c.conn))
	for {
		var r Request
		if err := dec.Decode(&r); err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				c.WriteRaw([]byte(`{"error": {"class": "GenericError", "desc": "JSON parse error"}}` + "\r\n"))
			}
			return
		}
		switch {
		case r.Command() == "qmp_capabilities" && !c.negotiated:
			c.negotiated = true
			c.Reply(r, struct{}{})
		case !c.negotiated || r.Command() == "qmp_capabilities":
			c.ReplyError(r, "CommandNotFound", "Expecting capabilities negotiation with 'qmp_capabilities'")
		case s.Handle != nil:
			s.Handle(c, r)
		default:
			c.Reply(r, struct{}{})
		}
	}
}

// WriteRaw writes b as it is: malformed JSON, half a message, anything.
func (c *Conn) WriteRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.conn.Write(b)
	return err
}

func (c *Conn) writeJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.WriteRaw(append(b, '\r', '\n'))
}

// Reply sends a success reply to r.
func (c *Conn) Reply(r Request, ret any) error {
	return c.writeJSON(struct {
		Return any             `json:"return"`
		ID     json.RawMessage `json:"id,omitempty"`
	}{ret, r.ID})
}

// ReplyError sends an error reply to r.
func (c *Conn) ReplyError(r Request, class, desc string) error {
	type e struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	}
	return c.writeJSON(struct {
		Error e               `json:"error"`
		ID    json.RawMessage `json:"id,omitempty"`
	}{e{class, desc}, r.ID})
}

// Event sends an event with the given data (nil for none).
func (c *Conn) Event(name string, data any) error {
	type ts struct {
		Seconds      int64 `json:"seconds"`
		Microseconds int64 `json:"microseconds"`
	}
	return c.writeJSON(struct {
		Event     string `json:"event"`
		Data      any    `json:"data,omitempty"`
		Timestamp ts     `json:"timestamp"`
	}{name, data, ts{1700000000, 1}})
}

// Close drops the connection.
func (c *Conn) Close() error { return c.conn.Close() }

//go:build !unix

package qmp

import "net"

type peeker struct{}

func newPeeker(net.Conn) *peeker { return nil }
func (p *peeker) wait() error    { return nil }
func (p *peeker) close()         {}

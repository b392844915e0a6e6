package qmptest

import (
	"bytes"
	"strings"
	"sync"
)

// Transcript collects a client's transcript (qmp.WithTranscript) so a
// test can check what was sent — or that nothing was. It is safe for
// concurrent use.
type Transcript struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (t *Transcript) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.Write(b)
}

// String is the whole transcript.
func (t *Transcript) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}

// Sent returns the messages the client sent, oldest first.
func (t *Transcript) Sent() []string {
	var out []string
	for l := range strings.Lines(t.String()) {
		if m, ok := strings.CutPrefix(l, "-> "); ok {
			out = append(out, strings.TrimSuffix(m, "\n"))
		}
	}
	return out
}

package qmp

import (
	"fmt"
	"io"
)

// framer cuts a byte stream into top-level JSON objects, whatever the
// line breaks (-qmp-pretty sends multi-line JSON). It only tracks nesting
// and strings; json.Unmarshal validates each message afterwards. Its state
// survives a read that fails with a timeout, so a read can be interrupted
// (by a deadline) and resumed later without losing a byte.
type framer struct {
	r     io.Reader
	buf   []byte
	start int // first byte of the message being scanned
	end   int // end of the bytes read
	scan  int // next byte to scan
	depth int
	inMsg bool
	inStr bool
	esc   bool
	err   error // a read error that came with data, returned once that data is used
}

const (
	framerMinBuf   = 4 << 10
	framerShrinkAt = 1 << 20
)

func newFramer(r io.Reader) *framer {
	return &framer{r: r, buf: make([]byte, framerMinBuf)}
}

// next returns the next complete message. The slice is valid until the
// next call.
func (f *framer) next() ([]byte, error) {
	for {
		msg, err := f.cut()
		if msg != nil || err != nil {
			return msg, err
		}
		if f.err != nil {
			err, f.err = f.err, nil
			return nil, err
		}
		f.makeRoom()
		n, err := f.r.Read(f.buf[f.end:])
		f.end += n
		if err != nil {
			if n == 0 {
				return nil, err
			}
			f.err = err
		}
	}
}

// nextBuffered returns the next complete message if it has already been
// read, without reading; nil when there is none.
func (f *framer) nextBuffered() ([]byte, error) { return f.cut() }

// buffered reports whether bytes read are still to be scanned.
func (f *framer) buffered() bool { return f.scan < f.end || f.err != nil }

// makeRoom moves the unfinished message to the front of the buffer, and
// grows (or, after a huge message, shrinks) the buffer.
func (f *framer) makeRoom() {
	if f.start > 0 {
		n := copy(f.buf, f.buf[f.start:f.end])
		f.scan -= f.start
		f.end = n
		f.start = 0
		if len(f.buf) >= framerShrinkAt && n < framerMinBuf {
			small := make([]byte, framerMinBuf)
			copy(small, f.buf[:n])
			f.buf = small
		}
	}
	if f.end == len(f.buf) {
		bigger := make([]byte, 2*len(f.buf))
		copy(bigger, f.buf[:f.end])
		f.buf = bigger
	}
}

// cut scans what has been read for the end of the current message.
func (f *framer) cut() ([]byte, error) {
	for f.scan < f.end {
		b := f.buf[f.scan]
		f.scan++
		if !f.inMsg {
			switch b {
			case ' ', '\t', '\r', '\n':
				f.start = f.scan
			case '{':
				f.inMsg, f.depth, f.start = true, 1, f.scan-1
			default:
				return nil, fmt.Errorf("%w: byte %q outside a JSON object", ErrProtocol, b)
			}
			continue
		}
		if f.inStr {
			switch {
			case f.esc:
				f.esc = false
			case b == '\\':
				f.esc = true
			case b == '"':
				f.inStr = false
			}
			continue
		}
		switch b {
		case '"':
			f.inStr = true
		case '{', '[':
			f.depth++
		case '}', ']':
			f.depth--
			if f.depth == 0 {
				msg := f.buf[f.start:f.scan]
				f.start, f.inMsg = f.scan, false
				return msg, nil
			}
		}
	}
	return nil, nil
}

package qmp

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

// chunkReader returns at most n bytes per Read, and a timeout error once
// after every read, like a connection interrupted by a read deadline.
type chunkReader struct {
	r        io.Reader
	n        int
	timeouts bool
	flip     bool
}

func (c *chunkReader) Read(b []byte) (int, error) {
	if c.timeouts {
		c.flip = !c.flip
		if c.flip {
			return 0, os.ErrDeadlineExceeded
		}
	}
	if len(b) > c.n {
		b = b[:c.n]
	}
	return c.r.Read(b)
}

func TestFramerSplitsAndResumes(t *testing.T) {
	stream := `{"a": "}{\"]"}` + "\r\n" + "{\n  \"b\": [1, {\"c\": 2}]\n}" + `  {"d":"\\"}` + "\n"
	want := []string{`{"a": "}{\"]"}`, "{\n  \"b\": [1, {\"c\": 2}]\n}", `{"d":"\\"}`}
	for _, n := range []int{1, 2, 3, 7, 4096} {
		for _, timeouts := range []bool{false, true} {
			f := newFramer(&chunkReader{r: strings.NewReader(stream), n: n, timeouts: timeouts})
			var got []string
			for {
				msg, err := f.next()
				if errors.Is(err, os.ErrDeadlineExceeded) {
					continue // interrupted: resume
				}
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("n=%d: %v", n, err)
				}
				got = append(got, string(msg))
			}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("n=%d timeouts=%v: got %q", n, timeouts, got)
			}
		}
	}
}

func TestFramerGrowsAndShrinks(t *testing.T) {
	big := `{"return": "` + strings.Repeat("x", 3<<20) + `"}`
	f := newFramer(strings.NewReader(big + `{"small": 1}`))
	msg, err := f.next()
	if err != nil || len(msg) != len(big) {
		t.Fatalf("big message: %d bytes, %v", len(msg), err)
	}
	msg, err = f.next()
	if err != nil || string(msg) != `{"small": 1}` {
		t.Fatalf("small message: %q, %v", msg, err)
	}
	if _, err := f.next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	if len(f.buf) > framerMinBuf {
		t.Errorf("buffer still %d bytes after the big message", len(f.buf))
	}
}

func TestFramerRejectsNonObjects(t *testing.T) {
	for _, in := range []string{`[1]`, `"s"`, `42`, "\xff"} {
		f := newFramer(strings.NewReader(in))
		if _, err := f.next(); !errors.Is(err, ErrProtocol) {
			t.Errorf("%q: %v, want ErrProtocol", in, err)
		}
	}
}

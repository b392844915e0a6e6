package journal

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/qscope/qscope/internal/private"
)

// Record is one journaled command: one JSON line in the file.
type Record struct {
	Time time.Time `json:"time"`
	// Guest is who the command went to.
	Guest Target `json:"guest"`
	// Route is how it got there: "socket" (the guest's own monitor) or
	// "libvirt" (libvirt's passthrough).
	Route string `json:"route"`
	// Via is the monitor socket or libvirt URI the command went through.
	Via string `json:"via,omitempty"`
	// Class is policy's class of the command: "changing" or
	// "destructive".
	Class     string          `json:"class"`
	Command   string          `json:"command"`
	Arguments json.RawMessage `json:"arguments,omitempty"`
	// Result is QEMU's return value; omitted when it was larger than
	// MaxResult (ResultTruncated is then set) or the command failed.
	Result          json.RawMessage `json:"result,omitempty"`
	ResultTruncated bool            `json:"result_truncated,omitempty"`
	// Error is set when the command failed.
	Error *ErrorInfo `json:"error,omitempty"`
	// DurationMS is how long the command took, in milliseconds.
	DurationMS float64 `json:"duration_ms"`
	// Client names the front end that sent it ("cli", "tui", "console").
	Client string `json:"client,omitempty"`
	// User and Host say who sent it, from where.
	User string `json:"user,omitempty"`
	PID  int    `json:"client_pid,omitempty"`
}

// Target identifies the guest a command went to.
type Target struct {
	Name  string `json:"name"`
	PID   int    `json:"pid,omitempty"`
	UUID  string `json:"uuid,omitempty"`
	Owner string `json:"owner,omitempty"`
	// Domain is libvirt's domain name, for libvirt guests.
	Domain string `json:"domain,omitempty"`
}

// ErrorInfo is a failed command's error: QEMU's class and description for
// a QMP error reply, class "Disconnected", "Timeout" or "ClientError" for
// failures on this side.
type ErrorInfo struct {
	Class string `json:"class"`
	Desc  string `json:"desc"`
}

// MaxResult is the largest return value recorded in full.
const MaxResult = 16 << 10

// Journal appends records to one file. It is safe for concurrent use by
// goroutines and, through flock, by processes.
type Journal struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

// DefaultPath is $XDG_STATE_HOME/qscope/journal.jsonl, or
// ~/.local/state/qscope/journal.jsonl when XDG_STATE_HOME is unset or
// not absolute.
func DefaultPath() (string, error) {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" || !filepath.IsAbs(dir) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("journal: finding the state directory: %w", err)
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "qscope", "journal.jsonl"), nil
}

// OpenDefault opens the journal at DefaultPath.
func OpenDefault() (*Journal, error) {
	p, err := DefaultPath()
	if err != nil {
		return nil, err
	}
	return Open(p)
}

// Open opens (creating when needed) the journal at path for appending.
// The directory is created 0700 and the file 0600. An existing directory
// or file with wider permissions is narrowed when it is ours, and refused
// when it belongs to another user; a symbolic link as the directory or
// the file is refused. The file is opened through the directory's
// descriptor (internal/private), so nothing can be swapped in between.
func Open(path string) (*Journal, error) {
	dir := filepath.Dir(path)
	d, err := private.OpenDir(dir)
	if err != nil {
		if errors.Is(err, private.ErrRefused) {
			return nil, fmt.Errorf("journal: %w", err)
		}
		return nil, fmt.Errorf("journal: creating %s: %w", dir, err)
	}
	defer d.Close()
	f, err := d.OpenFile(filepath.Base(path), os.O_RDWR|os.O_APPEND|os.O_CREATE)
	if err != nil {
		if errors.Is(err, private.ErrRefused) {
			return nil, fmt.Errorf("journal: %w", err)
		}
		return nil, fmt.Errorf("journal: opening %s: %w", path, err)
	}
	return &Journal{path: path, f: f}, nil
}

// dropTornTail removes a final line that lacks its newline: the remains
// of a writer killed in the middle of its write(2) (the kernel may stop a
// large write part-way for a fatal signal). Such a record was never
// acknowledged. The caller holds the exclusive flock.
func dropTornTail(f *os.File) error {
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return err
	}
	size := fi.Size()
	last := make([]byte, 1)
	if _, err := f.ReadAt(last, size-1); err != nil {
		return fmt.Errorf("reading the last byte: %w", err)
	}
	if last[0] == '\n' {
		return nil
	}
	buf := make([]byte, 64<<10)
	for end := size - 1; end > 0; {
		start := max(0, end-int64(len(buf)))
		chunk := buf[:end-start]
		if _, err := f.ReadAt(chunk, start); err != nil && err != io.EOF {
			return fmt.Errorf("looking for the last whole line: %w", err)
		}
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			return f.Truncate(start + int64(i) + 1)
		}
		end = start
	}
	return f.Truncate(0)
}

// Path is the journal file's path.
func (j *Journal) Path() string { return j.path }

// Append writes r as one line with a single write(2) on the file opened
// with O_APPEND, under an exclusive flock, and fsyncs it before returning.
// A zero Time is set to now; User and PID are filled from this process.
// A torn final line left by a writer that was killed mid-write is removed
// first.
func (j *Journal) Append(r Record) error {
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	r.Time = r.Time.UTC()
	if r.User == "" {
		r.User = currentUser()
	}
	if r.PID == 0 {
		r.PID = os.Getpid()
	}
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("journal: encoding record of %s: %w", r.Command, err)
	}
	line = append(line, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return fmt.Errorf("journal: %s: %w", j.path, os.ErrClosed)
	}
	fd := int(j.f.Fd())
	if err := flock(fd, syscall.LOCK_EX); err != nil {
		return fmt.Errorf("journal: locking %s: %w", j.path, err)
	}
	defer flock(fd, syscall.LOCK_UN)
	if err := dropTornTail(j.f); err != nil {
		return fmt.Errorf("journal: repairing %s: %w", j.path, err)
	}
	fi, err := j.f.Stat()
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	// One write(2): os.File.Write would retry a short write with a
	// second call, and a record must never be split.
	n, err := ignoringEINTR(func() (int, error) { return syscall.Write(fd, line) })
	if err == nil && n != len(line) {
		err = io.ErrShortWrite
	}
	if err != nil {
		j.f.Truncate(fi.Size()) // take back a partial record
		return fmt.Errorf("journal: writing %s: %w", j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("journal: syncing %s: %w", j.path, err)
	}
	return nil
}

func ignoringEINTR(f func() (int, error)) (int, error) {
	for {
		n, err := f()
		if err != syscall.EINTR {
			return n, err
		}
	}
}

func flock(fd, how int) error {
	for {
		err := syscall.Flock(fd, how)
		if err != syscall.EINTR {
			return err
		}
	}
}

// Close closes the journal file.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}

// currentUser names the effective user from the system's user database,
// not from $USER, which anyone can set (sudo keeps it, for one): the
// journal says who changed a guest.
func currentUser() string {
	uid := strconv.Itoa(os.Geteuid())
	if u, err := user.LookupId(uid); err == nil && u.Username != "" {
		return u.Username
	}
	return "uid " + uid
}

// Filter selects records. Its zero value selects all.
type Filter struct {
	// Target matches a guest name, libvirt domain, uuid (any case) or
	// pid; empty matches every guest.
	Target string
	// Since drops records older than this.
	Since time.Time
}

// Match reports whether r passes the filter.
func (f Filter) Match(r Record) bool {
	if !f.Since.IsZero() && r.Time.Before(f.Since) {
		return false
	}
	t := strings.TrimSpace(f.Target)
	if t == "" {
		return true
	}
	g := r.Guest
	if g.Name == t || (g.Domain != "" && g.Domain == t) || (g.UUID != "" && strings.EqualFold(g.UUID, t)) {
		return true
	}
	pid, err := strconv.Atoi(t)
	return err == nil && pid > 0 && g.PID == pid
}

// Read iterates over the records in the journal file at path that pass f,
// oldest first. A missing file has no records. A final line without its
// newline (a writer killed mid-write, which the single write(2) makes
// next to impossible) is skipped; a line that is not a record yields an
// error naming its line number, and reading goes on if the loop does.
func Read(ctx context.Context, path string, f Filter) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		file, err := os.Open(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return
			}
			yield(Record{}, fmt.Errorf("journal: %w", err))
			return
		}
		defer file.Close()
		br := bufio.NewReaderSize(file, 64<<10)
		for lineNo := 1; ; lineNo++ {
			if ctx.Err() != nil {
				yield(Record{}, ctx.Err())
				return
			}
			line, err := br.ReadBytes('\n')
			if err == io.EOF {
				return // a torn final line (no newline) is dropped
			}
			if err != nil {
				yield(Record{}, fmt.Errorf("journal: reading %s: %w", path, err))
				return
			}
			line = bytes.TrimSpace(line)
			if len(line) == 0 {
				continue
			}
			var r Record
			if err := json.Unmarshal(line, &r); err != nil {
				if !yield(Record{}, fmt.Errorf("journal: %s line %d is not a record: %w", path, lineNo, err)) {
					return
				}
				continue
			}
			if f.Match(r) && !yield(r, nil) {
				return
			}
		}
	}
}

// Records iterates over this journal's records (see Read).
func (j *Journal) Records(ctx context.Context, f Filter) iter.Seq2[Record, error] {
	return Read(ctx, j.path, f)
}

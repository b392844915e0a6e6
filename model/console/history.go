package console

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/qscope/qscope/discover"
)

// HistoryEntry is one line sent from the console.
type HistoryEntry struct {
	Time time.Time `json:"time"`
	Line string    `json:"line"`
	// HMP marks a human monitor command line.
	HMP bool `json:"hmp,omitempty"`
	// QEMU is the version of the QEMU it was sent to.
	QEMU string `json:"qemu,omitempty"`
	// Kind is the kind of guest it was sent to (its owner: process,
	// libvirt, incus, proxmox). A console offers the entries of its own
	// guest's kind, and entries without one.
	Kind string `json:"kind,omitempty"`
}

// historyKind is the history kind of g: its owner, process when unknown.
func historyKind(g discover.Guest) string {
	if g.Owner == "" {
		return string(discover.OwnerProcess)
	}
	return string(g.Owner)
}

// ofKind keeps the entries of kind (and those recorded without a kind).
func ofKind(entries []HistoryEntry, kind string) []HistoryEntry {
	out := entries[:0:0]
	for _, e := range entries {
		if e.Kind == "" || e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// MaxHistory is how many entries the history file keeps.
const MaxHistory = 1000

// DefaultHistoryPath is $XDG_STATE_HOME/qscope/history, or
// ~/.local/state/qscope/history.
func DefaultHistoryPath() (string, error) {
	base := os.Getenv("XDG_STATE_HOME")
	if !filepath.IsAbs(base) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("console: finding the history file: %w", err)
		}
		base = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(base, "qscope", "history"), nil
}

// LoadHistory reads the history file (JSON lines, oldest first). A
// missing file is an empty history; lines that do not parse are skipped.
func LoadHistory(path string) ([]HistoryEntry, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("console: reading history: %w", err)
	}
	defer f.Close()
	var out []HistoryEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e HistoryEntry
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Line != "" {
			out = append(out, e)
		}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("console: reading history: %w", err)
	}
	if len(out) > MaxHistory {
		out = out[len(out)-MaxHistory:]
	}
	return out, nil
}

// AppendHistory adds e to the history file, creating it 0600 in a 0700
// directory; once the file holds twice MaxHistory entries it is rewritten
// with the newest MaxHistory.
func AppendHistory(path string, e HistoryEntry) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("console: creating history directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("console: securing history directory: %w", err)
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("console: encoding history: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("console: writing history: %w", err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("console: writing history: %w", err)
	}
	_, werr := f.Write(append(b, '\n'))
	st, serr := f.Stat()
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("console: writing history: %w", werr)
	}
	// Entries are ~100 bytes: trim when the file is clearly too long.
	if serr == nil && st.Size() > 2*MaxHistory*200 {
		return trimHistory(path)
	}
	return nil
}

func trimHistory(path string) error {
	entries, err := LoadHistory(path)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	for _, e := range entries {
		b, _ := json.Marshal(e)
		buf.Write(b)
		buf.WriteByte('\n')
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".history-*")
	if err != nil {
		return fmt.Errorf("console: trimming history: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("console: trimming history: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("console: trimming history: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("console: trimming history: %w", err)
	}
	return nil
}

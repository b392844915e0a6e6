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
	"strings"
	"time"

	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/internal/private"
	"github.com/qscope/qscope/journal"
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
// missing file is an empty history; lines that do not parse are skipped,
// and so are entries that carry a secret (see AppendHistory). The
// directory and the file are held to internal/private's rules: a
// symbolic link or something another user owns is refused.
func LoadHistory(path string) ([]HistoryEntry, error) {
	d, err := private.LookupDir(filepath.Dir(path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("console: reading history: %w", err)
	}
	defer d.Close()
	return loadHistory(d, filepath.Base(path))
}

func loadHistory(d *private.Dir, name string) ([]HistoryEntry, error) {
	f, err := d.OpenFile(name, os.O_RDONLY)
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
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Line != "" && !hasSecret(e) {
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
// directory (internal/private: a symbolic link or another user's
// directory or file is refused); once the file holds twice MaxHistory
// entries it is rewritten with the newest MaxHistory. An entry that
// carries a secret (what journal.Redact would redact: a password, a
// secret object's data, set_password) is not written.
func AppendHistory(path string, e HistoryEntry) error {
	if hasSecret(e) {
		return nil
	}
	d, err := private.OpenDir(filepath.Dir(path))
	if err != nil {
		if errors.Is(err, private.ErrRefused) {
			return fmt.Errorf("console: securing history directory: %w", err)
		}
		return fmt.Errorf("console: creating history directory: %w", err)
	}
	defer d.Close()
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("console: encoding history: %w", err)
	}
	name := filepath.Base(path)
	f, err := d.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND)
	if err != nil {
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
		return trimHistory(d, name)
	}
	return nil
}

func trimHistory(d *private.Dir, name string) error {
	entries, err := loadHistory(d, name)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	for _, e := range entries {
		b, _ := json.Marshal(e)
		buf.Write(b)
		buf.WriteByte('\n')
	}
	tmp, tmpName, err := d.CreateTemp(".history-*")
	if err != nil {
		return fmt.Errorf("console: trimming history: %w", err)
	}
	defer d.Remove(tmpName)
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("console: trimming history: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("console: trimming history: %w", err)
	}
	if err := d.Rename(tmpName, name); err != nil {
		return fmt.Errorf("console: trimming history: %w", err)
	}
	return nil
}

// hasSecret reports whether the line of e carries a secret: whether
// journal.Redact changes the arguments it stands for. An HMP line is
// human-monitor-command's command-line; a QMP line is read without the
// schema, either as a QMP message or as `command key=value …` (dotted
// keys nest, values that read as JSON are JSON, the rest strings).
func hasSecret(e HistoryEntry) bool {
	command, args := historyRequest(e)
	if command == "" {
		return false
	}
	red := journal.Redact(command, args)
	return !bytes.Equal(red, args)
}

func historyRequest(e HistoryEntry) (string, json.RawMessage) {
	line := strings.TrimSpace(e.Line)
	if e.HMP {
		args, _ := json.Marshal(map[string]string{"command-line": line})
		return "human-monitor-command", args
	}
	if strings.HasPrefix(line, "{") {
		var msg struct {
			Execute   string          `json:"execute"`
			Arguments json.RawMessage `json:"arguments"`
		}
		if json.Unmarshal([]byte(line), &msg) != nil {
			return "", nil
		}
		return msg.Execute, msg.Arguments
	}
	words := splitLine(line)
	if len(words) == 0 {
		return "", nil
	}
	root := map[string]any{}
	for _, w := range words[1:] {
		k, v, ok := strings.Cut(w, "=")
		if !ok {
			continue
		}
		keys := strings.Split(k, ".")
		m := root
		for _, key := range keys[:len(keys)-1] {
			sub, ok := m[key].(map[string]any)
			if !ok {
				sub = map[string]any{}
				m[key] = sub
			}
			m = sub
		}
		var val any
		if json.Unmarshal([]byte(v), &val) != nil {
			val = strings.Trim(v, `"'`)
		}
		m[keys[len(keys)-1]] = val
	}
	args, _ := json.Marshal(root)
	return words[0], args
}

// splitLine splits a console line into words at blanks outside quotes
// and brackets.
func splitLine(line string) []string {
	var words []string
	var quote byte
	depth, start := 0, -1
	for i := 0; i < len(line); i++ {
		c := line[i]
		if start < 0 {
			if c == ' ' || c == '\t' {
				continue
			}
			start = i
		}
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '[' || c == '{':
			depth++
		case (c == ']' || c == '}') && depth > 0:
			depth--
		case (c == ' ' || c == '\t') && depth == 0:
			words = append(words, line[start:i])
			start = -1
		}
	}
	if start >= 0 {
		words = append(words, line[start:])
	}
	return words
}

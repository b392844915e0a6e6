package journal

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A symbolic link in place of the journal's directory is refused, and
// the directory it points to is left as it was.
func TestSymlinkedDirRefused(t *testing.T) {
	base := t.TempDir()
	target := filepath.Join(base, "target")
	os.Mkdir(target, 0o755)
	os.Chmod(target, 0o755)
	os.Mkdir(filepath.Join(base, "state"), 0o700)
	dir := filepath.Join(base, "state", "qscope")
	if err := os.Symlink(target, dir); err != nil {
		t.Fatal(err)
	}
	j, err := Open(filepath.Join(dir, "journal.jsonl"))
	if err == nil {
		j.Close()
		t.Fatal("symbolic link accepted")
	}
	if !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("error %v", err)
	}
	if m := mode(t, target); m != 0o755 {
		t.Errorf("target mode changed to %v", m)
	}
	if _, err := os.Lstat(filepath.Join(target, "journal.jsonl")); err == nil {
		t.Error("journal created in the target")
	}
}

func TestOtherUsersDirRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a directory to another user")
	}
	dir := filepath.Join(t.TempDir(), "qscope")
	os.Mkdir(dir, 0o755)
	os.Chmod(dir, 0o755)
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	j, err := Open(filepath.Join(dir, "journal.jsonl"))
	if err == nil {
		j.Close()
		t.Fatal("another user's directory accepted")
	}
	if !strings.Contains(err.Error(), dir+" belongs to uid 65534") {
		t.Errorf("error %v", err)
	}
	if m := mode(t, dir); m != 0o755 {
		t.Errorf("mode changed to %v", m)
	}
}

// The owner of the directory above swaps a symbolic link in for the
// journal's directory and back, as fast as it can, while the journal is
// opened again and again: the file must never be opened through the
// link. (Checking the directory by path and then opening the file by
// path lost this race.)
func TestDirSwapRace(t *testing.T) {
	base := t.TempDir()
	target := filepath.Join(base, "target")
	os.Mkdir(target, 0o755)
	dir := filepath.Join(base, "qscope")
	link := filepath.Join(base, "link")
	os.Mkdir(dir, 0o700)
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "journal.jsonl")
	if err := unix.Renameat2(unix.AT_FDCWD, dir, unix.AT_FDCWD, link, unix.RENAME_EXCHANGE); err != nil {
		t.Skipf("renameat2 RENAME_EXCHANGE: %v", err)
	}

	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		for !stop.Load() {
			// The link and the directory trade places, atomically.
			if err := unix.Renameat2(unix.AT_FDCWD, dir, unix.AT_FDCWD, link, unix.RENAME_EXCHANGE); err != nil {
				t.Errorf("exchanging: %v", err)
				return
			}
		}
	})
	deadline := time.Now().Add(2 * time.Second)
	for i := 0; i < 20000 && time.Now().Before(deadline); i++ {
		if j, err := Open(path); err == nil {
			j.Close()
		}
		if _, err := os.Lstat(filepath.Join(target, "journal.jsonl")); err == nil {
			break
		}
	}
	stop.Store(true)
	wg.Wait()
	if _, err := os.Lstat(filepath.Join(target, "journal.jsonl")); err == nil {
		t.Error("the journal was opened through the symbolic link swapped in")
	}
	if m := mode(t, target); m != 0o755 {
		t.Errorf("target mode changed to %v", m)
	}
}

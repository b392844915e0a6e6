package demo

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindQEMU(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "qemu")
	if err := os.WriteFile(notExec, []byte("#"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("QSCOPE_QEMU", notExec)
	if _, err := FindQEMU(); !errors.Is(err, ErrNoQEMU) || !strings.Contains(err.Error(), "not an executable") {
		t.Errorf("non-executable $QSCOPE_QEMU: err = %v", err)
	}
	if err := os.Chmod(notExec, 0o700); err != nil {
		t.Fatal(err)
	}
	if p, err := FindQEMU(); err != nil || p != notExec {
		t.Errorf("executable $QSCOPE_QEMU: %q, %v", p, err)
	}

	t.Setenv("QSCOPE_QEMU", "")
	t.Setenv("PATH", dir+"/empty")
	_, err := FindQEMU()
	if !errors.Is(err, ErrNoQEMU) || !strings.Contains(err.Error(), "apt-get install qemu-system-x86") || !strings.Contains(err.Error(), "scripts/setup") {
		t.Errorf("no QEMU on PATH: err = %v", err)
	}
}

func TestPrepareDir(t *testing.T) {
	base := t.TempDir()

	loose := filepath.Join(base, "loose")
	if err := os.Mkdir(loose, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := prepareDir(loose); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(loose); st.Mode().Perm() != 0o700 {
		t.Errorf("existing directory left at mode %o, want 700", st.Mode().Perm())
	}

	fresh := filepath.Join(base, "a", "fresh")
	if err := prepareDir(fresh); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(fresh); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("new directory: %v, %v", st, err)
	}

	link := filepath.Join(base, "link")
	if err := os.Symlink(loose, link); err != nil {
		t.Fatal(err)
	}
	if err := prepareDir(link); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("symlink as state directory: err = %v", err)
	}

	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := prepareDir(file); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("file as state directory: err = %v", err)
	}
}

func TestDefaultDir(t *testing.T) {
	// A private runtime directory of ours is used.
	own := t.TempDir()
	os.Chmod(own, 0o700)
	t.Setenv("XDG_RUNTIME_DIR", own)
	if d := DefaultDir(); d != filepath.Join(own, "qscope-demo") {
		t.Errorf("DefaultDir = %q", d)
	}
	// One another user could write to (su keeps the invoking user's) is
	// not: they could swap the demo directory under root.
	os.Chmod(own, 0o777)
	if d := DefaultDir(); strings.HasPrefix(d, own) {
		t.Errorf("DefaultDir under a world-writable runtime dir: %q", d)
	}
	os.Chmod(own, 0o700)
	if os.Getuid() == 0 {
		os.Chown(own, 65534, 65534)
		if d := DefaultDir(); strings.HasPrefix(d, own) {
			t.Errorf("DefaultDir under another user's runtime dir: %q", d)
		}
	}
	link := filepath.Join(t.TempDir(), "link")
	os.Symlink(own, link)
	t.Setenv("XDG_RUNTIME_DIR", link)
	if d := DefaultDir(); strings.HasPrefix(d, link) {
		t.Errorf("DefaultDir through a symlinked runtime dir: %q", d)
	}
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/1234")
	if d := DefaultDir(); strings.HasPrefix(d, "/run/user/1234") {
		t.Errorf("DefaultDir under a runtime dir that is not there: %q", d)
	}
	t.Setenv("XDG_RUNTIME_DIR", "")
	if d := DefaultDir(); !strings.HasPrefix(d, os.TempDir()) || !strings.Contains(d, "qscope-demo-") {
		t.Errorf("DefaultDir without XDG_RUNTIME_DIR = %q", d)
	}
}

package private

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

const nobody = 65534

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to another user")
	}
}

func TestOpenDirCreatesPrivate(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "a", "b", "qscope")
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Path() != dir {
		t.Errorf("path %q", d.Path())
	}
	for _, p := range []string{filepath.Join(base, "a"), filepath.Join(base, "a", "b"), dir} {
		if m := mode(t, p); m != 0o700 {
			t.Errorf("%s: mode %v, want 0700", p, m)
		}
	}
	f, err := d.OpenFile("x", os.O_WRONLY|os.O_CREATE|os.O_APPEND)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("hello\n")
	f.Close()
	if m := mode(t, filepath.Join(dir, "x")); m != 0o600 {
		t.Errorf("file mode %v", m)
	}

	// Wider modes of our own are narrowed.
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Join(dir, "x"), 0o644)
	d2, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	if m := mode(t, dir); m != 0o700 {
		t.Errorf("directory not narrowed: %v", m)
	}
	f, err = d2.OpenFile("x", os.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if m := mode(t, filepath.Join(dir, "x")); m != 0o600 {
		t.Errorf("file not narrowed: %v", m)
	}
}

// The finding: a symbolic link in place of the private directory was
// followed, the directory it points to chmodded 0700 and written in.
func TestSymlinkedDirRefused(t *testing.T) {
	base := t.TempDir()
	target := filepath.Join(base, "target")
	os.Mkdir(target, 0o755)
	os.Chmod(target, 0o755)
	link := filepath.Join(base, "qscope")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	for name, open := range map[string]func() (*Dir, error){
		"OpenDir":     func() (*Dir, error) { return OpenDir(link) },
		"LookupDir":   func() (*Dir, error) { return LookupDir(link) },
		"OpenDirIn":   func() (*Dir, error) { return OpenDirIn(base, "qscope", "schema") },
		"LookupDirIn": func() (*Dir, error) { return LookupDirIn(base, "qscope") },
	} {
		d, err := open()
		if err == nil {
			d.Close()
			t.Errorf("%s: symbolic link accepted", name)
			continue
		}
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "symbolic link") || !strings.Contains(err.Error(), link) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if m := mode(t, target); m != 0o755 {
		t.Errorf("target mode changed to %v", m)
	}
	if ents, _ := os.ReadDir(target); len(ents) != 0 {
		t.Errorf("created in the target: %v", ents)
	}
}

func TestOtherUsersDirRefused(t *testing.T) {
	needRoot(t)
	base := t.TempDir()
	dir := filepath.Join(base, "qscope")
	os.Mkdir(dir, 0o755)
	os.Chmod(dir, 0o755)
	if err := os.Chown(dir, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	d, err := OpenDir(dir)
	if err == nil {
		d.Close()
		t.Fatal("another user's directory accepted")
	}
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), dir+" belongs to uid 65534") {
		t.Errorf("error %v", err)
	}
	if m := mode(t, dir); m != 0o755 {
		t.Errorf("mode changed to %v", m)
	}
}

func TestOtherUsersFileRefused(t *testing.T) {
	needRoot(t)
	dir := filepath.Join(t.TempDir(), "qscope")
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	p := filepath.Join(dir, "history")
	os.WriteFile(p, []byte("theirs\n"), 0o644)
	os.Chmod(p, 0o644)
	if err := os.Chown(p, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []int{os.O_RDONLY, os.O_WRONLY | os.O_CREATE | os.O_APPEND, os.O_RDWR | os.O_CREATE | os.O_TRUNC} {
		f, err := d.OpenFile("history", flag)
		if err == nil {
			f.Close()
			t.Errorf("flag %#x: another user's file accepted", flag)
			continue
		}
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), p+" belongs to uid 65534") {
			t.Errorf("flag %#x: %v", flag, err)
		}
	}
	if b, _ := os.ReadFile(p); string(b) != "theirs\n" {
		t.Errorf("file changed: %q", b)
	}
	if m := mode(t, p); m != 0o644 {
		t.Errorf("mode changed to %v", m)
	}
}

func TestFileChecks(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "qscope")
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	outside := filepath.Join(t.TempDir(), "outside")
	os.WriteFile(outside, []byte("x"), 0o644)
	os.Chmod(outside, 0o644)

	os.Symlink(outside, filepath.Join(dir, "link"))
	if _, err := d.OpenFile("link", os.O_WRONLY|os.O_CREATE|os.O_APPEND); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("symbolic link: %v", err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := d.OpenFile("fifo", os.O_RDONLY); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("FIFO: %v", err)
	}
	os.Mkdir(filepath.Join(dir, "sub"), 0o700)
	if _, err := d.OpenFile("sub", os.O_RDONLY); !errors.Is(err, ErrRefused) {
		t.Errorf("directory: %v", err)
	}
	if err := os.Link(outside, filepath.Join(dir, "hard")); err == nil {
		if _, err := d.OpenFile("hard", os.O_WRONLY|os.O_APPEND); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "hard links") {
			t.Errorf("hard link: %v", err)
		}
	}
	if m := mode(t, outside); m != 0o644 {
		t.Errorf("outside file mode changed to %v", m)
	}
	for _, bad := range []string{"", ".", "..", "a/b"} {
		if _, err := d.OpenFile(bad, os.O_RDONLY); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
	if _, err := d.OpenFile("missing", os.O_RDONLY); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// A symbolic link above the private directory is followed when it
// belongs to root or to us, and refused when another user owns it.
func TestLinksAbove(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "real")
	os.Mkdir(real, 0o755)
	link := filepath.Join(base, "state")
	os.Symlink("real", link)
	d, err := OpenDir(filepath.Join(link, "qscope"))
	if err != nil {
		t.Fatalf("our own link above: %v", err)
	}
	d.Close()
	if fi, err := os.Stat(filepath.Join(real, "qscope")); err != nil || !fi.IsDir() {
		t.Errorf("not created through the link: %v", err)
	}

	if os.Geteuid() != 0 {
		return
	}
	if err := os.Lchown(link, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	d, err = OpenDir(filepath.Join(link, "qscope"))
	if err == nil {
		d.Close()
		t.Fatal("another user's link above accepted")
	}
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "belongs to uid 65534") {
		t.Errorf("error %v", err)
	}
}

func TestLookupCreatesNothing(t *testing.T) {
	base := t.TempDir()
	_, err := LookupDir(filepath.Join(base, "a", "qscope"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing parent: %v", err)
	}
	_, err = LookupDirIn(base, "qscope", "schema")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing private directory: %v", err)
	}
	if ents, _ := os.ReadDir(base); len(ents) != 0 {
		t.Errorf("created: %v", ents)
	}
}

func TestTempRenameRemove(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "qscope", "schema")
	d, err := OpenDirIn(filepath.Dir(filepath.Dir(dir)), "qscope", "schema")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if m := mode(t, filepath.Dir(dir)); m != 0o700 {
		t.Errorf("qscope mode %v", m)
	}
	f, name, err := d.CreateTemp(".tmp-*.json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(name, ".tmp-") || !strings.HasSuffix(name, ".json") || f.Name() != filepath.Join(dir, name) {
		t.Errorf("name %q, file %q", name, f.Name())
	}
	f.WriteString("data")
	f.Close()
	if m := mode(t, filepath.Join(dir, name)); m != 0o600 {
		t.Errorf("temp mode %v", m)
	}
	if err := d.Rename(name, "final"); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "final")); err != nil || string(b) != "data" {
		t.Errorf("renamed: %q %v", b, err)
	}
	if err := d.Remove("final"); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove("final"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("second remove: %v", err)
	}
}

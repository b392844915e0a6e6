package schema

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const tinyIntrospection = `[
 {"name":"0","meta-type":"object","members":[]},
 {"name":"query-status","meta-type":"command","arg-type":"0","ret-type":"0"}
]`

func TestCacheRoundTrip(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir, err := DefaultCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	path := cachePath(dir, "10.0.0", "pkg")
	if _, err := readCache(path, "10.0.0", "pkg"); err == nil {
		t.Fatal("read a cache that is not there")
	}
	if _, err := os.Stat(filepath.Dir(dir)); err == nil {
		t.Error("reading created the cache directory")
	}
	if err := writeCache(path, "10.0.0", "pkg", []byte(tinyIntrospection)); err != nil {
		t.Fatal(err)
	}
	s, err := readCache(path, "10.0.0", "pkg")
	if err != nil || s.Command("query-status") == nil || s.Source != FromCache {
		t.Fatalf("read back: %v %v", s, err)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, filepath.Dir(dir): 0o700, path: 0o600} {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: mode %v %v, want %v", p, st.Mode().Perm(), err, want)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("left behind: %v", ents)
	}
}

// $XDG_CACHE_HOME/qscope (or qscope/schema) as a symbolic link planted by
// the user whose environment root inherited: refused, and the directory
// it points to is neither narrowed nor written in.
func TestCacheSymlinkedDirRefused(t *testing.T) {
	for _, link := range []string{"qscope", "qscope/schema"} {
		t.Run(strings.ReplaceAll(link, "/", "-"), func(t *testing.T) {
			base := t.TempDir()
			t.Setenv("XDG_CACHE_HOME", filepath.Join(base, "cache"))
			target := filepath.Join(base, "target")
			os.Mkdir(target, 0o755)
			os.Chmod(target, 0o755)
			os.MkdirAll(filepath.Dir(filepath.Join(base, "cache", link)), 0o700)
			if err := os.Symlink(target, filepath.Join(base, "cache", link)); err != nil {
				t.Fatal(err)
			}
			if link == "qscope" {
				os.Mkdir(filepath.Join(target, "schema"), 0o755)
				os.Chmod(filepath.Join(target, "schema"), 0o755)
			}
			dir, _ := DefaultCacheDir()
			path := cachePath(dir, "10.0.0", "pkg")
			err := writeCache(path, "10.0.0", "pkg", []byte(tinyIntrospection))
			if err == nil || !strings.Contains(err.Error(), "symbolic link") {
				t.Errorf("wrote through a symbolic link: %v", err)
			}
			filepath.WalkDir(target, func(p string, d os.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if fi, _ := d.Info(); d.IsDir() && fi.Mode().Perm() != 0o755 {
					t.Errorf("%s: mode changed to %v", p, fi.Mode().Perm())
				}
				if !d.IsDir() {
					t.Errorf("written in the target: %s", p)
				}
				return nil
			})
		})
	}
}

func TestCacheOtherUsersDirRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a directory to another user")
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir, _ := DefaultCacheDir()
	qs := filepath.Dir(dir)
	os.MkdirAll(dir, 0o755)
	os.Chmod(qs, 0o755)
	if err := os.Chown(qs, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	path := cachePath(dir, "10.0.0", "pkg")
	if err := writeCache(path, "10.0.0", "pkg", []byte(tinyIntrospection)); err == nil || !strings.Contains(err.Error(), qs+" belongs to uid 65534") {
		t.Errorf("wrote in another user's directory: %v", err)
	}
	if st, _ := os.Stat(qs); st.Mode().Perm() != 0o755 {
		t.Errorf("mode changed to %v", st.Mode().Perm())
	}
	if _, err := os.Lstat(path); err == nil {
		t.Error("cache written in another user's directory")
	}
}

// A cache file another user put there is not read: it could describe
// the commands as it likes.
func TestCacheOtherUsersFileRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir, _ := DefaultCacheDir()
	path := cachePath(dir, "10.0.0", "pkg")
	if err := writeCache(path, "10.0.0", "pkg", []byte(tinyIntrospection)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if s, err := readCache(path, "10.0.0", "pkg"); err == nil || !strings.Contains(err.Error(), "belongs to uid 65534") {
		t.Errorf("read another user's cache file: %v %v", s, err)
	}
}

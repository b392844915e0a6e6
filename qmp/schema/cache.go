package schema

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/qscope/qscope/internal/private"
)

// cacheFormat is bumped when the file layout changes; older files are
// then rebuilt.
const cacheFormat = 1

// maxCacheFile bounds what is read back: introspection is ~250 KB.
const maxCacheFile = 32 << 20

// DefaultCacheDir is $XDG_CACHE_HOME/qscope/schema, or
// ~/.cache/qscope/schema.
func DefaultCacheDir() (string, error) {
	base := os.Getenv("XDG_CACHE_HOME")
	if !filepath.IsAbs(base) { // the spec says relative values are ignored
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("schema: finding the cache directory: %w", err)
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "qscope", "schema"), nil
}

// cachePath names the file for one QEMU version and package string. The
// package string is free text from QEMU, so it is hashed, never used as a
// path component.
func cachePath(dir, version, pkg string) string {
	sum := sha256.Sum256([]byte(version + "\x00" + pkg))
	return filepath.Join(dir, safeName(version)+"-"+hex.EncodeToString(sum[:8])+".json")
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, s)
}

// cacheFile is the layout on disk: a header that must match the QEMU
// asking, and the raw introspection, checksummed.
type cacheFile struct {
	Format  int             `json:"format"`
	Version string          `json:"version"`
	Package string          `json:"package"`
	SHA256  string          `json:"sha256"`
	Schema  json.RawMessage `json:"schema"`
}

// errStale is returned for a cache file that belongs to another version
// or format.
var errStale = errors.New("schema: cache file is for another QEMU or format")

// openCacheDir opens the cache directory through internal/private: a
// symbolic link or a directory of another user is refused. In the
// default layout (…/qscope/schema) both qscope and schema are ours, so
// both are checked; otherwise the last component is. With create unset
// nothing is created.
func openCacheDir(dir string, create bool) (*private.Dir, error) {
	dir = filepath.Clean(dir)
	open, openIn := private.OpenDir, private.OpenDirIn
	if !create {
		open, openIn = private.LookupDir, private.LookupDirIn
	}
	if qs := filepath.Dir(dir); filepath.Base(dir) == "schema" && filepath.Base(qs) == "qscope" {
		return openIn(filepath.Dir(qs), "qscope", "schema")
	}
	return open(dir)
}

func readCache(path, version, pkg string) (*Schema, error) {
	d, err := openCacheDir(filepath.Dir(path), false)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	f, err := d.OpenFile(filepath.Base(path), os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxCacheFile+1))
	if err != nil {
		return nil, fmt.Errorf("schema: reading cache %s: %w", path, err)
	}
	if len(data) > maxCacheFile {
		return nil, fmt.Errorf("schema: cache %s is too large", path)
	}
	var cf cacheFile
	if err := json.Unmarshal(data, &cf); err != nil {
		return nil, fmt.Errorf("schema: cache %s is corrupt: %w", path, err)
	}
	if cf.Format != cacheFormat || cf.Version != version || cf.Package != pkg {
		return nil, errStale
	}
	sum := sha256.Sum256(cf.Schema)
	if hex.EncodeToString(sum[:]) != cf.SHA256 {
		return nil, fmt.Errorf("schema: cache %s is corrupt: checksum mismatch", path)
	}
	s, err := Parse(cf.Schema)
	if err != nil {
		return nil, fmt.Errorf("schema: cache %s: %w", path, err)
	}
	s.Version, s.Package, s.Source = version, pkg, FromCache
	return s, nil
}

// writeCache stores raw atomically (a private temporary file renamed into
// place), in a 0700 directory, as a 0600 file. The directory is opened
// once (openCacheDir) and the files are made and renamed through it.
func writeCache(path, version, pkg string, raw []byte) error {
	d, err := openCacheDir(filepath.Dir(path), true)
	if err != nil {
		if errors.Is(err, private.ErrRefused) {
			return fmt.Errorf("schema: securing cache directory: %w", err)
		}
		return fmt.Errorf("schema: creating cache directory: %w", err)
	}
	defer d.Close()
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return fmt.Errorf("schema: compacting introspection: %w", err)
	}
	sum := sha256.Sum256(compact.Bytes())
	var enc bytes.Buffer
	e := json.NewEncoder(&enc)
	e.SetEscapeHTML(false) // the checksum covers the bytes as written
	if err := e.Encode(cacheFile{
		Format: cacheFormat, Version: version, Package: pkg,
		SHA256: hex.EncodeToString(sum[:]), Schema: compact.Bytes(),
	}); err != nil {
		return fmt.Errorf("schema: encoding cache: %w", err)
	}
	data := enc.Bytes()
	tmp, tmpName, err := d.CreateTemp(".tmp-*")
	if err != nil {
		return fmt.Errorf("schema: writing cache: %w", err)
	}
	defer d.Remove(tmpName)
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("schema: writing cache: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("schema: writing cache: %w", err)
	}
	if err := d.Rename(tmpName, filepath.Base(path)); err != nil {
		return fmt.Errorf("schema: writing cache: %w", err)
	}
	return nil
}

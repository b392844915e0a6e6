// Package private opens the directories and files qscope keeps for one
// user (console history, schema cache, journal) so that no other user can
// redirect them, even when qscope runs as root with another user's
// XDG_* or HOME (su, sudo -E).
//
// A private directory is created 0700 when missing, opened with
// O_DIRECTORY|O_NOFOLLOW (a symbolic link in its place is refused), must
// belong to the effective user and is narrowed to 0700 through its
// descriptor. Files are then opened relative to that descriptor, never by
// path: O_NOFOLLOW, created 0600, refused when they are not regular files
// or belong to another user. The components above a private directory
// are created 0700 when missing; a symbolic link among them is followed
// only when it belongs to root or to the effective user.
package private

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrRefused is wrapped by every refusal: a symbolic link, a file that is
// not of the expected type, something another user owns.
var ErrRefused = errors.New("not private")

type refusal struct{ msg string }

func (e *refusal) Error() string { return e.msg }
func (e *refusal) Unwrap() error { return ErrRefused }

func refuse(format string, a ...any) error { return &refusal{fmt.Sprintf(format, a...)} }

// maxLinks bounds the symbolic links followed above a private directory.
const maxLinks = 40

const dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC

// Dir is an open private directory.
type Dir struct {
	fd   int
	path string
}

// OpenDir opens the private directory path (see the package comment),
// creating it and its missing parents 0700.
func OpenDir(path string) (*Dir, error) {
	base, elems := split(path)
	return openDir(true, base, elems...)
}

// LookupDir is OpenDir for a reader: nothing is created, and a missing
// component is an error wrapping fs.ErrNotExist.
func LookupDir(path string) (*Dir, error) {
	base, elems := split(path)
	return openDir(false, base, elems...)
}

func split(path string) (string, []string) {
	parent, name := filepath.Split(filepath.Clean(path))
	if !validName(name) {
		return path, nil
	}
	if parent == "" {
		parent = "."
	}
	return parent, []string{name}
}

// OpenDirIn opens base, creating its missing components 0700, then each
// of elems in turn as a private directory (each single names, created
// 0700, not symbolic links, owned by the effective user, narrowed to
// 0700). With no elems, base itself is held to those rules, but its
// trusted symbolic links are followed.
func OpenDirIn(base string, elems ...string) (*Dir, error) {
	return openDir(true, base, elems...)
}

// LookupDirIn is OpenDirIn for a reader, as LookupDir is for OpenDir.
func LookupDirIn(base string, elems ...string) (*Dir, error) {
	return openDir(false, base, elems...)
}

func openDir(create bool, base string, elems ...string) (*Dir, error) {
	for _, e := range elems {
		if !validName(e) {
			return nil, fmt.Errorf("private: %q is not a single path component", e)
		}
	}
	links := 0
	fd, err := walk(unix.AT_FDCWD, base, base, &links, create)
	if err != nil {
		return nil, err
	}
	path := base
	if len(elems) == 0 {
		if err := secureDir(fd, path); err != nil {
			unix.Close(fd)
			return nil, err
		}
	}
	for _, e := range elems {
		path = filepath.Join(path, e)
		next, err := openPrivate(fd, e, path, create)
		unix.Close(fd)
		if err != nil {
			return nil, err
		}
		fd = next
	}
	return &Dir{fd: fd, path: path}, nil
}

func validName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.Contains(name, "/")
}

// walk opens the directory path relative to dirfd, creating missing
// components 0700 and following only trusted symbolic links. shown is
// the path as errors name it.
func walk(dirfd int, path, shown string, links *int, create bool) (int, error) {
	start := "."
	if filepath.IsAbs(path) {
		start = "/"
	}
	fd, err := unix.Openat(dirfd, start, dirFlags, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: shown, Err: err}
	}
	for name := range strings.SplitSeq(path, "/") {
		if name == "" || name == "." {
			continue
		}
		next, err := step(fd, name, shown, links, create)
		unix.Close(fd)
		if err != nil {
			return -1, err
		}
		fd = next
	}
	return fd, nil
}

// step opens the directory name in dirfd, creating it 0700 when missing
// and create is set.
func step(dirfd int, name, shown string, links *int, create bool) (int, error) {
	for try := 0; ; try++ {
		fd, err := unix.Openat(dirfd, name, dirFlags|unix.O_NOFOLLOW, 0)
		switch {
		case err == nil:
			return fd, nil
		case err == unix.ENOENT && create && try < 3:
			if err := unix.Mkdirat(dirfd, name, 0o700); err != nil && err != unix.EEXIST {
				return -1, &os.PathError{Op: "mkdir", Path: shown, Err: err}
			}
			continue
		case err != unix.ELOOP && err != unix.ENOTDIR:
			return -1, &os.PathError{Op: "open", Path: shown, Err: err}
		}
		var st unix.Stat_t
		if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return -1, &os.PathError{Op: "open", Path: shown, Err: err}
		}
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			return -1, refuse("%s: %s is not a directory", shown, name)
		}
		if euid := os.Geteuid(); int(st.Uid) != euid && st.Uid != 0 {
			return -1, refuse("%s: the symbolic link %s belongs to uid %d, not to this user (uid %d) or root: refusing it", shown, name, st.Uid, euid)
		}
		if *links++; *links > maxLinks {
			return -1, &os.PathError{Op: "open", Path: shown, Err: unix.ELOOP}
		}
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return -1, &os.PathError{Op: "readlink", Path: shown, Err: err}
		}
		return walk(dirfd, string(buf[:n]), shown, links, create)
	}
}

// openPrivate opens the private directory name in dirfd, creating it
// (0700) first when create is set.
func openPrivate(dirfd int, name, path string, create bool) (int, error) {
	if create {
		if err := unix.Mkdirat(dirfd, name, 0o700); err != nil && err != unix.EEXIST {
			return -1, &os.PathError{Op: "mkdir", Path: path, Err: err}
		}
	}
	fd, err := unix.Openat(dirfd, name, dirFlags|unix.O_NOFOLLOW, 0)
	if err == unix.ELOOP || err == unix.ENOTDIR {
		var st unix.Stat_t
		if unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return -1, refuse("%s is a symbolic link: refusing it", path)
		}
		return -1, refuse("%s is not a directory", path)
	}
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	if err := secureDir(fd, path); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// secureDir checks that the directory fd belongs to the effective user
// and narrows it to 0700.
func secureDir(fd int, path string) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return refuse("%s is not a directory", path)
	}
	if euid := os.Geteuid(); int(st.Uid) != euid {
		return refuse("%s belongs to uid %d, not to this user (uid %d): refusing it", path, st.Uid, euid)
	}
	if st.Mode&0o7777 != 0o700 {
		if err := unix.Fchmod(fd, 0o700); err != nil {
			return fmt.Errorf("%s has mode %04o and cannot be narrowed to 0700: %w", path, st.Mode&0o7777, err)
		}
	}
	return nil
}

// Path is the directory's path, as it was given.
func (d *Dir) Path() string { return d.path }

// Close closes the directory.
func (d *Dir) Close() error {
	if d.fd < 0 {
		return nil
	}
	err := unix.Close(d.fd)
	d.fd = -1
	return err
}

// OpenFile opens the file name (a single path component) in d with flag
// (os.O_RDONLY, os.O_WRONLY|os.O_CREATE|os.O_APPEND, …), creating it 0600.
// A symbolic link, anything but a regular file, a file of another user,
// and, when opened for writing, a file with other hard links are refused;
// a file with another mode is narrowed to 0600. O_TRUNC takes effect only
// once the file has passed these checks.
func (d *Dir) OpenFile(name string, flag int) (*os.File, error) {
	path := filepath.Join(d.path, name)
	if !validName(name) {
		return nil, fmt.Errorf("private: %q is not a single path component", name)
	}
	trunc := flag&os.O_TRUNC != 0
	flag &^= os.O_TRUNC
	// O_NONBLOCK: a FIFO in place of the file must not block the open.
	fd, err := unix.Openat(d.fd, name, flag|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK, 0o600)
	if err == unix.ELOOP {
		return nil, refuse("%s is a symbolic link: refusing it", path)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	if err := secureFile(fd, path, flag&(os.O_WRONLY|os.O_RDWR) != 0); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	if trunc {
		if err := unix.Ftruncate(fd, 0); err != nil {
			unix.Close(fd)
			return nil, &os.PathError{Op: "truncate", Path: path, Err: err}
		}
	}
	return os.NewFile(uintptr(fd), path), nil
}

func secureFile(fd int, path string, writing bool) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return refuse("%s is not a regular file: refusing it", path)
	}
	if euid := os.Geteuid(); int(st.Uid) != euid {
		return refuse("%s belongs to uid %d, not to this user (uid %d): refusing it", path, st.Uid, euid)
	}
	if writing && st.Nlink > 1 {
		return refuse("%s has %d hard links: refusing it", path, st.Nlink)
	}
	if st.Mode&0o7777 != 0o600 {
		if err := unix.Fchmod(fd, 0o600); err != nil {
			return fmt.Errorf("%s has mode %04o and cannot be narrowed to 0600: %w", path, st.Mode&0o7777, err)
		}
	}
	return nil
}

// CreateTemp creates a new 0600 file in d, opened for reading and
// writing, named by pattern with its last "*" replaced by a random
// string (appended when there is none). It returns the file and its name
// in d.
func (d *Dir) CreateTemp(pattern string) (*os.File, string, error) {
	prefix, suffix := pattern, ""
	if i := strings.LastIndex(pattern, "*"); i >= 0 {
		prefix, suffix = pattern[:i], pattern[i+1:]
	}
	if strings.Contains(pattern, "/") {
		return nil, "", fmt.Errorf("private: pattern %q contains a slash", pattern)
	}
	for try := 0; ; try++ {
		name := prefix + strconv.FormatUint(rand.Uint64(), 36) + suffix
		fd, err := unix.Openat(d.fd, name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err == unix.EEXIST && try < 10000 {
			continue
		}
		path := filepath.Join(d.path, name)
		if err != nil {
			return nil, "", &os.PathError{Op: "createtemp", Path: path, Err: err}
		}
		if err := unix.Fchmod(fd, 0o600); err != nil { // whatever the umask
			unix.Close(fd)
			unix.Unlinkat(d.fd, name, 0)
			return nil, "", &os.PathError{Op: "chmod", Path: path, Err: err}
		}
		return os.NewFile(uintptr(fd), path), name, nil
	}
}

// Rename renames oldname to newname, both in d.
func (d *Dir) Rename(oldname, newname string) error {
	if !validName(oldname) || !validName(newname) {
		return fmt.Errorf("private: rename %q to %q: not single path components", oldname, newname)
	}
	if err := unix.Renameat(d.fd, oldname, d.fd, newname); err != nil {
		return &os.LinkError{Op: "rename", Old: filepath.Join(d.path, oldname), New: filepath.Join(d.path, newname), Err: err}
	}
	return nil
}

// Remove removes the file name from d.
func (d *Dir) Remove(name string) error {
	if !validName(name) {
		return fmt.Errorf("private: %q is not a single path component", name)
	}
	if err := unix.Unlinkat(d.fd, name, 0); err != nil {
		return &os.PathError{Op: "remove", Path: filepath.Join(d.path, name), Err: err}
	}
	return nil
}

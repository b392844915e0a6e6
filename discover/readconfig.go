package discover

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// configGroups maps the -readconfig groups that matter to discovery to
// the command-line option each stands for.
var configGroups = map[string]string{
	"chardev":  "chardev",
	"mon":      "mon",
	"name":     "name",
	"smp-opts": "smp",
}

// configArgs turns a QEMU -readconfig file into the command-line options
// its groups stand for: [chardev "qmp"] with backend = "socket" and
// path = "/run/vm.qmp" becomes -chardev backend=socket,id=qmp,path=….
// Only chardev, mon, name and smp-opts are kept; the format is QEMU's
// (sections [group] or [group "id"], lines key = "value", # comments).
func configArgs(text string) ([]string, error) {
	var args []string
	var opt string    // the option of the group being read; "" to skip it
	var vals []string // its key=value elements
	flush := func() {
		if opt != "" {
			args = append(args, "-"+opt, strings.Join(vals, ","))
		}
		opt, vals = "", nil
	}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if line[0] == '[' {
			flush()
			head, ok := strings.CutSuffix(line, "]")
			if !ok {
				return nil, fmt.Errorf("line %d: a section header must end with ]", n+1)
			}
			group, id, hasID := strings.Cut(strings.TrimSpace(head[1:]), " ")
			opt = configGroups[group]
			if opt != "" && hasID {
				id, err := configValue(strings.TrimSpace(id))
				if err != nil {
					return nil, fmt.Errorf("line %d: %w", n+1, err)
				}
				vals = append(vals, "id="+escapeOpt(id))
			}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: want key = \"value\"", n+1)
		}
		val, err := configValue(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		if opt != "" {
			vals = append(vals, strings.TrimSpace(k)+"="+escapeOpt(val))
		}
	}
	flush()
	return args, nil
}

// configValue reads a value as QEMU writes it: in double quotes.
func configValue(s string) (string, error) {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1], nil
	}
	return "", errors.New("a value is not in double quotes")
}

// escapeOpt doubles commas, as QEMU's option syntax wants them in a value.
func escapeOpt(s string) string { return strings.ReplaceAll(s, ",", ",,") }

// maxConfigSize bounds a -readconfig file discovery will read.
const maxConfigSize = 1 << 20

// readConfig reads a -readconfig file of process pid. A relative path is
// taken from the process's current directory. The file must be a regular
// file owned by root or by the process's user: the command line of any
// process names it, and only what that process could have been given is
// trusted to describe it. It is looked at (O_PATH, not following a
// symlink) before it is opened, so naming a device or a FIFO opens
// nothing, and the reason for a refusal never quotes its content.
func readConfig(procRoot string, pid int, name string) (string, error) {
	p := name
	if !filepath.IsAbs(p) {
		p = filepath.Join(procRoot, strconv.Itoa(pid), "cwd", p)
	}
	pst, err := os.Stat(filepath.Join(procRoot, strconv.Itoa(pid)))
	if err != nil {
		return "", err
	}
	fd, err := unix.Open(p, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", &os.PathError{Op: "open", Path: name, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", &os.PathError{Op: "stat", Path: name, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return "", fmt.Errorf("%s is not a regular file", name)
	}
	if pu := owner(pst); st.Uid != 0 && st.Uid != pu {
		return "", fmt.Errorf("%s belongs to uid %d, neither root nor the process's user (uid %d)", name, st.Uid, pu)
	}
	if st.Size > maxConfigSize {
		return "", fmt.Errorf("%s is larger than %d bytes", name, maxConfigSize)
	}
	// Open the very file looked at, not whatever the path names now.
	rfd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(fd), unix.O_RDONLY|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", &os.PathError{Op: "open", Path: name, Err: err}
	}
	f := os.NewFile(uintptr(rfd), name)
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func owner(fi os.FileInfo) uint32 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid
	}
	return ^uint32(0)
}

package discover

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on
// every Linux architecture's user ABI.
const clockTicks = 100

// procStat is the part of /proc/PID/stat discovery uses.
type procStat struct {
	comm       string
	state      byte
	utime      uint64 // clock ticks
	stime      uint64
	threads    int
	startTicks uint64
	rssPages   uint64
}

func (p procStat) stopped() bool { return p.state == 'T' || p.state == 't' }
func (p procStat) cpuTime() time.Duration {
	return time.Duration(p.utime+p.stime) * time.Second / clockTicks
}

// readFile reads a small /proc file into buf (grown when needed).
func readFile(name string, buf []byte) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n := 0
	for {
		if n == len(buf) {
			buf = append(buf, make([]byte, len(buf)+512)...)
		}
		m, err := f.Read(buf[n:])
		n += m
		if err == io.EOF || (err == nil && m == 0) {
			return buf[:n], nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// parseStat parses /proc/PID/stat. comm is in parentheses and may hold
// spaces and parentheses itself: the fields start after the last ')'.
func parseStat(b []byte) (procStat, error) {
	var p procStat
	open := bytes.IndexByte(b, '(')
	close := bytes.LastIndexByte(b, ')')
	if open < 0 || close < open || close+2 >= len(b) {
		return p, errors.New("malformed stat")
	}
	p.comm = string(b[open+1 : close])
	fields := bytes.Fields(b[close+2:])
	// fields[0] is field 3 (state); field N is fields[N-3].
	if len(fields) < 22 {
		return p, errors.New("short stat")
	}
	p.state = fields[0][0]
	num := func(i int) uint64 {
		n, _ := strconv.ParseUint(string(fields[i-3]), 10, 64)
		return n
	}
	p.utime = num(14)
	p.stime = num(15)
	p.threads = int(num(20))
	p.startTicks = num(22)
	p.rssPages = num(24)
	return p, nil
}

// splitCmdline splits /proc/PID/cmdline at NULs.
func splitCmdline(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), "\x00")
}

// bootTime reads the boot time from /proc/stat's btime line.
func bootTime(procRoot string) (time.Time, error) {
	f, err := os.Open(procRoot + "/stat")
	if err != nil {
		return time.Time{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "btime "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, fmt.Errorf("parsing btime: %w", err)
			}
			return time.Unix(n, 0), nil
		}
	}
	return time.Time{}, errors.New("no btime in " + procRoot + "/stat")
}

// countVCPUs counts the threads QEMU names "CPU n/KVM", "CPU n/TCG", …
// (QEMU names its threads only with -name debug-threads=on).
func countVCPUs(procRoot string, pid int, buf []byte) (int, error) {
	dir := procRoot + "/" + strconv.Itoa(pid) + "/task"
	f, err := os.Open(dir)
	if err != nil {
		return 0, err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range names {
		b, err := readFile(dir+"/"+t+"/comm", buf)
		if err != nil {
			continue // the thread ended
		}
		if isVCPUThread(string(bytes.TrimSpace(b))) {
			n++
		}
	}
	return n, nil
}

// isVCPUThread reports whether a thread name is QEMU's vCPU thread name
// ("CPU 0/KVM", "CPU 12/TCG").
func isVCPUThread(comm string) bool {
	rest, ok := strings.CutPrefix(comm, "CPU ")
	if !ok {
		return false
	}
	num, accel, ok := strings.Cut(rest, "/")
	if !ok || num == "" || accel == "" {
		return false
	}
	for _, c := range num {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// socketInode returns the inode of the socket that /proc/PID/fd/N refers
// to.
func socketInode(procRoot string, pid, fd int) (uint64, error) {
	l, err := os.Readlink(procRoot + "/" + strconv.Itoa(pid) + "/fd/" + strconv.Itoa(fd))
	if err != nil {
		return 0, err
	}
	v, ok := strings.CutPrefix(l, "socket:[")
	if !ok {
		return 0, fmt.Errorf("descriptor %d is %s, not a socket", fd, l)
	}
	return strconv.ParseUint(strings.TrimSuffix(v, "]"), 10, 64)
}

// unixSocketPaths reads /proc/net/unix: inode → bound path, for
// listening sockets ("@name" for abstract ones).
func unixSocketPaths(file string) (map[uint64]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[uint64]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	first := true
	for sc.Scan() {
		if first { // header
			first = false
			continue
		}
		// Num RefCount Protocol Flags Type St Inode [Path]
		line := sc.Text()
		fs := strings.Fields(line)
		if len(fs) < 8 {
			continue
		}
		flags, _ := strconv.ParseUint(fs[3], 16, 32)
		if flags&0x10000 == 0 { // __SO_ACCEPTCON: listening
			continue
		}
		ino, err := strconv.ParseUint(fs[6], 10, 64)
		if err != nil {
			continue
		}
		// The path is the rest of the line: it may hold spaces.
		p := strings.Join(fs[7:], " ")
		if i := strings.Index(line, " "+fs[6]+" "); i >= 0 {
			p = strings.TrimSpace(line[i+len(fs[6])+2:])
		}
		m[ino] = p
	}
	return m, sc.Err()
}

package discover

import (
	"bufio"
	"encoding/hex"
	"net"
	"os"
	"strconv"
	"strings"
)

// A QEMU's command line says where its monitors listen, but any process
// can put any words in its command line: a process of another user that
// calls itself qemu-system-x86_64 -qmp unix:/run/vm.qmp would otherwise
// have qscope (run as root) send its commands to someone else's guest. So
// a monitor endpoint named on the command line is used only once the
// process is seen holding a listening socket bound to it: the socket's
// inode, found in /proc/net/unix or /proc/net/tcp{,6}, must be among the
// process's own descriptors. Monitors handed over as a descriptor (fd=N)
// are resolved from the process's descriptors and need no check.

// listeners are the listening sockets of a process's network namespace,
// by inode.
type listeners struct {
	unix map[uint64]string   // inode → bound path ("@name" for abstract)
	tcp  map[uint64]net.Addr // inode → bound address
}

// readListeners reads them through /proc/PID/net, which shows the
// process's own network namespace.
func readListeners(procRoot string, pid int) listeners {
	dir := procRoot + "/" + strconv.Itoa(pid) + "/net"
	l := listeners{tcp: map[uint64]net.Addr{}}
	l.unix, _ = unixSocketPaths(dir + "/unix")
	for _, f := range []string{"/tcp", "/tcp6"} {
		readTCPListeners(dir+f, l.tcp)
	}
	return l
}

// readTCPListeners adds the LISTEN sockets of a /proc/net/tcp{,6} file.
func readTCPListeners(file string, out map[uint64]net.Addr) {
	f, err := os.Open(file)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		fs := strings.Fields(sc.Text())
		if len(fs) < 10 || fs[3] != "0A" { // 0A: LISTEN
			continue
		}
		host, port, ok := strings.Cut(fs[1], ":")
		if !ok {
			continue
		}
		ip := procIP(host)
		p, err1 := strconv.ParseUint(port, 16, 16)
		ino, err2 := strconv.ParseUint(fs[9], 10, 64)
		if ip == nil || err1 != nil || err2 != nil {
			continue
		}
		out[ino] = &net.TCPAddr{IP: ip, Port: int(p)}
	}
}

// procIP decodes an address as /proc/net/tcp{,6} writes it: 32-bit words
// in hex, each in host (little-endian) byte order.
func procIP(h string) net.IP {
	b, err := hex.DecodeString(h)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return nil
	}
	ip := make(net.IP, len(b))
	for i := 0; i < len(b); i += 4 {
		ip[i], ip[i+1], ip[i+2], ip[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	return ip
}

// socketInodes are the inodes of the sockets process pid holds.
func socketInodes(procRoot string, pid int) (map[uint64]bool, error) {
	dir := procRoot + "/" + strconv.Itoa(pid) + "/fd"
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, err
	}
	out := map[uint64]bool{}
	for _, n := range names {
		l, err := os.Readlink(dir + "/" + n)
		if err != nil {
			continue
		}
		if v, ok := strings.CutPrefix(l, "socket:["); ok {
			if ino, err := strconv.ParseUint(strings.TrimSuffix(v, "]"), 10, 64); err == nil {
				out[ino] = true
			}
		}
	}
	return out, nil
}

// holds reports whether a process holding the sockets inodes listens on
// ep.
func (l listeners) holds(inodes map[uint64]bool, ep Endpoint) bool {
	switch ep.Network {
	case "unix":
		for ino, p := range l.unix {
			if p == ep.Address && inodes[ino] {
				return true
			}
		}
	case "tcp":
		host, port, err := net.SplitHostPort(ep.Address)
		if err != nil {
			return false
		}
		want := net.ParseIP(host)
		for ino, a := range l.tcp {
			ta := a.(*net.TCPAddr)
			if !inodes[ino] || strconv.Itoa(ta.Port) != port {
				continue
			}
			// A host name (localhost) is not resolved here: a listener of
			// the process on that port is enough.
			if want == nil || ta.IP.IsUnspecified() || ta.IP.Equal(want) {
				return true
			}
		}
	}
	return false
}

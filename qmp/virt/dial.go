package virt

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"
)

// DefaultURI is the connection used when Config.URI is empty.
const DefaultURI = "qemu:///system"

// Target is a parsed libvirt URI: how to reach libvirtd and what to ask it
// to open.
type Target struct {
	// URI is the URI as given.
	URI string
	// Transport is "unix", "tcp", "tls", "ssh" or "libssh".
	Transport string
	// Host is empty for a local daemon.
	Host string
	// Socket is the unix socket path (local daemons, or the remote
	// socket an ssh transport forwards to when set in the URI).
	Socket string
	// Open is what libvirtd is asked to open once connected
	// (qemu:///system or qemu:///session).
	Open string
}

// Local reports whether the daemon runs on this host, so that pids it
// reports are this host's pids.
func (t Target) Local() bool { return t.Transport == "unix" && t.Host == "" }

// Session reports whether this is a per-user (qemu:///session) daemon.
func (t Target) Session() bool { return strings.HasSuffix(t.Open, "/session") }

// ParseURI checks a libvirt URI for the QEMU driver: qemu:///system,
// qemu:///session, qemu+unix:///system?socket=PATH, qemu+tcp://HOST/system,
// qemu+tls://HOST/system, qemu+ssh://[USER@]HOST[:PORT]/system,
// qemu+libssh://…. Other drivers are refused: this route drives QEMU.
func ParseURI(s string) (Target, error) {
	if s == "" {
		s = DefaultURI
	}
	u, err := url.Parse(s)
	if err != nil {
		return Target{}, fmt.Errorf("virt: libvirt URI %q: %w", s, err)
	}
	driver, transport, _ := strings.Cut(u.Scheme, "+")
	if driver != "qemu" {
		return Target{}, fmt.Errorf("virt: libvirt URI %q: driver %q is not qemu", s, driver)
	}
	if transport == "" {
		transport = "unix"
		if u.Host != "" {
			transport = "tls"
		}
	}
	switch transport {
	case "unix", "tcp", "tls", "ssh":
	case "libssh", "libssh2":
		transport = "libssh"
	default:
		return Target{}, fmt.Errorf("virt: libvirt URI %q: unsupported transport %q (want unix, tcp, tls, ssh or libssh)", s, transport)
	}
	if u.Path != "/system" && u.Path != "/session" {
		return Target{}, fmt.Errorf("virt: libvirt URI %q: path %q (want /system or /session)", s, u.Path)
	}
	t := Target{URI: s, Transport: transport, Host: u.Host, Open: string(libvirt.RemoteURI(u))}
	if transport == "unix" && u.Host != "" {
		return Target{}, fmt.Errorf("virt: libvirt URI %q: a unix transport takes no host", s)
	}
	if transport != "unix" && u.Hostname() == "" {
		return Target{}, fmt.Errorf("virt: libvirt URI %q: transport %s needs a host", s, transport)
	}
	t.Socket = u.Query().Get("socket")
	if t.Socket != "" && !filepath.IsAbs(t.Socket) {
		return Target{}, fmt.Errorf("virt: libvirt URI %q: socket %q is not an absolute path", s, t.Socket)
	}
	if transport == "unix" && t.Socket == "" {
		t.Socket = localSocket(t.Session())
	}
	return t, nil
}

// localSocket is where a local daemon listens: the monolithic libvirtd's
// socket, or the modular virtqemud's when only that one exists.
func localSocket(session bool) string {
	dir := "/run/libvirt"
	if session {
		if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" {
			dir = filepath.Join(rt, "libvirt")
		} else if home, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(home, ".cache", "libvirt")
		}
	}
	mono := filepath.Join(dir, "libvirt-sock")
	if _, err := os.Stat(mono); err != nil {
		if modular := filepath.Join(dir, "virtqemud-sock"); fileExists(modular) {
			return modular
		}
	}
	return mono
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// dialer returns how to open a byte stream to the daemon.
func (t Target) dialer() (func(ctx context.Context) (net.Conn, error), error) {
	u, err := url.Parse(t.URI)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	switch t.Transport {
	case "unix":
		return func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", t.Socket)
		}, nil
	case "tcp":
		port := u.Port()
		if port == "" {
			port = "16509"
		}
		addr := net.JoinHostPort(u.Hostname(), port)
		return func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		}, nil
	case "tls":
		var opts []dialers.TLSOption
		if p := u.Port(); p != "" {
			opts = append(opts, dialers.UseTLSPort(p))
		}
		if p := q.Get("pkipath"); p != "" {
			opts = append(opts, dialers.UsePKIPath(p))
		}
		if nv, err := flagOption(q, "no_verify"); err != nil {
			return nil, err
		} else if nv {
			opts = append(opts, dialers.WithInsecureNoVerify())
		}
		d := dialers.NewTLS(u.Hostname(), opts...)
		return func(ctx context.Context) (net.Conn, error) { return dialBlocking(ctx, d.Dial) }, nil
	case "ssh", "libssh":
		var opts []dialers.SSHOption
		if t.Transport == "ssh" {
			cur, err := user.Current()
			if err != nil {
				return nil, fmt.Errorf("virt: ssh transport: %w", err)
			}
			opts = append(opts, dialers.WithSystemSSHDefaults(cur))
		}
		if p := u.Port(); p != "" {
			opts = append(opts, dialers.UseSSHPort(p))
		}
		if n := u.User.Username(); n != "" {
			opts = append(opts, dialers.UseSSHUsername(n))
		}
		if s := q.Get("socket"); s != "" {
			opts = append(opts, dialers.WithRemoteSocket(s))
		}
		if k := q.Get("keyfile"); k != "" {
			opts = append(opts, dialers.UseKeyFile(k))
		}
		if k := q.Get("known_hosts"); k != "" {
			opts = append(opts, dialers.UseKnownHostsFile(k))
		}
		switch q.Get("known_hosts_verify") {
		case "", "normal":
		case "auto":
			opts = append(opts, dialers.WithAcceptUnknownHostKey())
		case "ignore":
			opts = append(opts, dialers.WithInsecureIgnoreHostKey())
		default:
			return nil, fmt.Errorf("virt: libvirt URI %q: known_hosts_verify=%q (want normal, auto or ignore)", t.URI, q.Get("known_hosts_verify"))
		}
		if nv, err := flagOption(q, "no_verify"); err != nil {
			return nil, err
		} else if nv {
			opts = append(opts, dialers.WithInsecureIgnoreHostKey())
		}
		d := dialers.NewSSH(u.Hostname(), opts...)
		return func(ctx context.Context) (net.Conn, error) { return dialBlocking(ctx, d.Dial) }, nil
	}
	return nil, fmt.Errorf("virt: libvirt URI %q: unsupported transport %q", t.URI, t.Transport)
}

func flagOption(q url.Values, name string) (bool, error) {
	v := q.Get(name)
	if v == "" {
		return false, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return false, fmt.Errorf("virt: libvirt URI option %s=%q is not a number", name, v)
	}
	return n != 0, nil
}

// dialBlocking runs a dial that takes no context so that ctx still bounds
// the wait; a connection that arrives after ctx ended is closed.
func dialBlocking(ctx context.Context, dial func() (net.Conn, error)) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := dial()
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		return r.c, r.err
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.c != nil {
				r.c.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

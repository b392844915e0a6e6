package discover

import (
	"net"
	"path"
	"strconv"
	"strings"
)

// spec is what a QEMU command line says about discovery: its name, uuid
// and where its QMP monitors listen. It is a pure function of argv.
type spec struct {
	name      string // -name guest=X (or -name X)
	process   string // -name ...,process=Y (the thread name QEMU gives itself)
	uuid      string
	smp       int // initial vCPUs from -smp: 1 when not given, 0 on -machine none
	pidfile   string
	monitors  []monitorSpec
	hmp       int      // monitors in readline (HMP) mode: not QMP, ignored
	clients   int      // QMP monitors that connect out (server=off): nothing to dial
	other     int      // QMP monitors on stdio, pty, vc, …: nothing to dial
	readcfg   []string // -readconfig files, in order
	paths     []string
	libvirtID bool // -chardev id=charmonitor (libvirt's monitor name)
}

// monitorSpec is one QMP monitor as argv describes it.
type monitorSpec struct {
	ep Endpoint
	// fd is the listening descriptor QEMU was handed (fd=N) when the
	// address is not on the command line; -1 otherwise.
	fd int
	// chardev is the chardev id, when the monitor names one.
	chardev string
}

// flagOptions are QEMU options that take no argument; every other option
// takes the next argv element.
var flagOptions = map[string]bool{
	"S": true, "s": true, "h": true, "help": true, "version": true,
	"preconfig": true, "async-teardown": true, "audio-help": true,
	"daemonize": true, "enable-kvm": true, "enable-sync-profile": true,
	"full-screen": true, "jitdump": true, "mem-prealloc": true,
	"no-acpi": true, "no-fd-bootchk": true, "no-hpet": true,
	"no-reboot": true, "no-shutdown": true, "no-user-config": true,
	"nodefaults": true, "nographic": true, "only-migratable": true,
	"perfmap": true, "portrait": true, "singlestep": true,
	"snapshot": true, "usb": true, "win2k-hack": true,
	"xen-attach": true, "xen-domid-restrict": true, "curses": true,
	"sdl": true, "alt-grab": true, "ctrl-grab": true, "no-quit": true,
	"no-frame": true, "enable-fips": true, "semihosting": true,
	"nodefconfig": true, "no-kvm": true, "no-kvm-irqchip": true,
	"no-kvm-pit": true, "no-kvm-pit-reinjection": true,
	"rtc-td-hack": true, "old-param": true, "list-accel": true,
}

// option is one parsed command-line option: "-name", "x" → {"name", "x"}.
type option struct {
	name  string
	value string
	flag  bool
}

// splitArgs walks QEMU's argv (argv[0] excluded) into options. "--opt" is
// the same as "-opt"; an argument that does not start with '-' is a
// positional disk image and is skipped.
func splitArgs(args []string) []option {
	var out []option
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(a) < 2 || a[0] != '-' {
			continue
		}
		n := strings.TrimPrefix(a[1:], "-")
		if flagOptions[n] {
			out = append(out, option{name: n, flag: true})
			continue
		}
		if i+1 >= len(args) {
			out = append(out, option{name: n})
			break
		}
		i++
		out = append(out, option{name: n, value: args[i]})
	}
	return out
}

// kv is one key=value pair of QEMU's option syntax, in order.
type kv struct{ key, value string }

// opts is a parsed "a=b,c=d" string: QemuOpts' syntax, where ",," is a
// literal comma, a first element without '=' is the implied key, and a
// bare "key" means key=on ("nokey" key=off for the legacy spellings
// such as "nowait").
type opts []kv

func (o opts) get(key string) (string, bool) {
	for i := len(o) - 1; i >= 0; i-- { // QemuOpts: the last one wins
		if o[i].key == key {
			return o[i].value, true
		}
	}
	return "", false
}

func (o opts) str(key string) string { v, _ := o.get(key); return v }

// on reports a boolean option, def when absent.
func (o opts) on(key string, def bool) bool {
	v, ok := o.get(key)
	if !ok {
		return def
	}
	switch v {
	case "on", "yes", "true", "y", "":
		return true
	}
	return false
}

// splitOptsElems splits s at single commas, turning ",," into ','.
func splitOptsElems(s string) []string {
	var elems []string
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == ',' {
			if i+1 < len(s) && s[i+1] == ',' {
				b.WriteByte(',')
				i++
				continue
			}
			elems = append(elems, b.String())
			b.Reset()
			continue
		}
		b.WriteByte(s[i])
	}
	return append(elems, b.String())
}

// legacyBools are the keys whose bare or "no"-prefixed spelling the old
// syntax accepts ("server", "nowait").
var legacyBools = map[string]bool{
	"server": true, "wait": true, "telnet": true, "websocket": true,
	"nodelay": true, "delay": true, "ipv4": true, "ipv6": true,
	"abstract": true, "tight": true, "mux": true, "pretty": true,
	"debug-threads": true, "tls-creds": false,
}

func parseOpts(s, implied string) opts {
	var o opts
	for i, e := range splitOptsElems(s) {
		if e == "" {
			continue
		}
		k, v, ok := strings.Cut(e, "=")
		if ok {
			o = append(o, kv{k, v})
			continue
		}
		switch {
		case i == 0 && implied != "":
			o = append(o, kv{implied, e})
		case legacyBools[e]:
			o = append(o, kv{e, "on"})
		case strings.HasPrefix(e, "no") && legacyBools[e[2:]]:
			o = append(o, kv{e[2:], "off"})
		default:
			o = append(o, kv{e, "on"})
		}
	}
	return o
}

// parseSpec reads what discovery needs from argv (argv[0] included).
func parseSpec(argv []string) spec {
	var sp spec
	if len(argv) == 0 {
		return sp
	}
	options := splitArgs(argv[1:])
	chardevs := map[string]opts{}
	type monRef struct {
		id     string
		pretty bool
	}
	var monRefs []monRef
	for _, op := range options {
		switch op.name {
		case "chardev":
			o := parseOpts(op.value, "backend")
			if id := o.str("id"); id != "" {
				chardevs[id] = o
				if id == "charmonitor" {
					sp.libvirtID = true
				}
			}
			if p := o.str("path"); p != "" {
				sp.paths = append(sp.paths, p)
			}
		}
	}
	machine := ""
	for _, op := range options {
		switch op.name {
		case "name":
			o := parseOpts(op.value, "guest")
			sp.name = o.str("guest")
			sp.process = o.str("process")
		case "uuid":
			if !isNilUUID(op.value) {
				sp.uuid = strings.ToLower(strings.TrimSpace(op.value))
			}
		case "pidfile":
			sp.pidfile = op.value
			sp.paths = append(sp.paths, op.value)
		case "smp":
			o := parseOpts(op.value, "cpus")
			if n, err := strconv.Atoi(o.str("cpus")); err == nil && n > 0 {
				sp.smp = n
			} else {
				// -smp sockets=2,cores=2 without cpus: the product.
				prod := 1
				any := false
				for _, k := range []string{"drawers", "books", "sockets", "dies", "clusters", "cores", "threads"} {
					if n, err := strconv.Atoi(o.str(k)); err == nil && n > 0 {
						prod *= n
						any = true
					}
				}
				if any {
					sp.smp = prod
				}
			}
		case "machine", "M":
			if t := parseOpts(op.value, "type").str("type"); t != "" {
				machine = t
			}
		case "readconfig":
			sp.readcfg = append(sp.readcfg, op.value)
		case "qmp", "qmp-pretty":
			sp.addLegacyMonitor(op.value, op.name == "qmp-pretty", chardevs)
		case "monitor":
			// -monitor is always the human monitor (HMP).
			sp.hmp++
		case "mon":
			o := parseOpts(op.value, "chardev")
			if o.str("mode") != "control" {
				sp.hmp++
				continue
			}
			monRefs = append(monRefs, monRef{o.str("chardev"), o.on("pretty", false)})
		case "object", "blockdev", "device", "drive", "fsdev", "virtfs", "add-fd", "incoming":
			// Paths here only help to recognise a launcher's layout.
			for _, e := range splitOptsElems(op.value) {
				if _, v, ok := strings.Cut(e, "="); ok && strings.HasPrefix(v, "/") {
					sp.paths = append(sp.paths, v)
				}
			}
			if strings.HasPrefix(op.value, "{") {
				sp.paths = append(sp.paths, jsonPaths(op.value)...)
			}
		}
	}
	for _, r := range monRefs {
		c, ok := chardevs[r.id]
		if !ok {
			sp.other++
			continue
		}
		sp.addChardevMonitor(r.id, c, r.pretty)
	}
	// Without -smp QEMU starts one vCPU, except on the "none" machine,
	// which has none.
	if sp.smp == 0 && machine != "none" && len(sp.readcfg) == 0 {
		sp.smp = 1
	}
	return sp
}

// jsonPaths pulls absolute paths out of a JSON option value (libvirt
// passes -object and -blockdev as JSON) without a full decode.
func jsonPaths(s string) []string {
	var out []string
	for {
		i := strings.Index(s, `":"/`)
		if i < 0 {
			return out
		}
		s = s[i+3:]
		j := strings.IndexByte(s, '"')
		if j < 0 {
			return out
		}
		out = append(out, s[:j])
		s = s[j:]
	}
}

// addLegacyMonitor handles -qmp's value: the old chardev syntax
// ("unix:PATH,server=on,wait=off", "tcp:HOST:PORT,server", "chardev:ID",
// "stdio", …).
func (sp *spec) addLegacyMonitor(v string, pretty bool, chardevs map[string]opts) {
	switch {
	case strings.HasPrefix(v, "chardev:"):
		id := strings.TrimPrefix(v, "chardev:")
		if c, ok := chardevs[id]; ok {
			sp.addChardevMonitor(id, c, pretty)
			return
		}
		sp.other++
	case strings.HasPrefix(v, "unix:"):
		o := parseOpts(strings.TrimPrefix(v, "unix:"), "path")
		o = append(o, kv{"backend", "socket"})
		sp.addChardevMonitor("", o, pretty)
	case strings.HasPrefix(v, "tcp:"):
		o := parseOpts(strings.TrimPrefix(v, "tcp:"), "addr")
		addr := o.str("addr")
		i := strings.LastIndex(addr, ":")
		if i < 0 {
			sp.other++
			return
		}
		host, port := addr[:i], addr[i+1:]
		o = append(o, kv{"backend", "socket"}, kv{"host", strings.Trim(host, "[]")}, kv{"port", port})
		sp.addChardevMonitor("", o, pretty)
	default:
		sp.other++
	}
}

// addChardevMonitor records a QMP monitor on chardev c.
func (sp *spec) addChardevMonitor(id string, c opts, pretty bool) {
	if c.str("backend") != "socket" {
		sp.other++
		return
	}
	if !c.on("server", false) {
		if _, isFD := c.get("fd"); !isFD {
			sp.clients++
			return
		}
	}
	m := monitorSpec{fd: -1, chardev: id}
	m.ep.Pretty = pretty
	switch {
	case c.str("fd") != "":
		n, err := strconv.Atoi(c.str("fd"))
		if err != nil || n < 0 {
			sp.other++
			return
		}
		m.fd = n
		m.ep.Network = "unix"
	case c.str("path") != "":
		m.ep.Network = "unix"
		m.ep.Address = c.str("path")
		if c.on("abstract", false) {
			m.ep.Address = "@" + m.ep.Address
		}
	case c.str("port") != "":
		host := c.str("host")
		switch host {
		case "", "0.0.0.0":
			host = "127.0.0.1"
		case "::":
			host = "::1"
		}
		if c.on("telnet", false) || c.on("websocket", false) {
			sp.other++
			return
		}
		m.ep.Network = "tcp"
		m.ep.Address = net.JoinHostPort(host, c.str("port"))
	default:
		sp.other++
		return
	}
	sp.monitors = append(sp.monitors, m)
}

// isQEMUBinary reports whether argv[0] names a QEMU system emulator.
func isQEMUBinary(argv0 string) bool {
	b := path.Base(argv0)
	return strings.HasPrefix(b, "qemu-system-") || b == "qemu-kvm" || b == "kvm"
}

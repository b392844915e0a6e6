package demo

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestArgsDefaultSet(t *testing.T) {
	specs := DefaultGuests()
	specs[2].Monitors[0].Port = 4444
	want := map[string][]string{
		"demo-web": {
			"-name", "guest=demo-web,process=demo-web",
			"-uuid", NameUUID("demo-web"),
			"-nodefaults", "-no-user-config", "-machine", "pc", "-cpu", "max", "-accel", "kvm", "-accel", "tcg",
			"-m", "32", "-smp", "1", "-display", "none",
			"-pidfile", "/run/d/demo-web.pid",
			"-serial", "file:/run/d/demo-web.serial.log",
			"-drive", "if=none,id=boot,file=/run/d/demo-web.boot.img,format=raw",
			"-device", "ide-hd,drive=boot,bootindex=0",
			"-netdev", "user,id=net0",
			"-device", "virtio-net-pci,netdev=net0,mac=" + nameMAC("demo-web") + ",romfile=",
			"-qmp", "unix:/run/d/demo-web.qmp,server=on,wait=off",
		},
		"demo-db": {
			"-name", "guest=demo-db,process=demo-db",
			"-uuid", NameUUID("demo-db"),
			"-nodefaults", "-no-user-config", "-machine", "pc", "-cpu", "max", "-accel", "kvm", "-accel", "tcg",
			"-m", "48", "-smp", "1", "-display", "none",
			"-pidfile", "/run/d/demo-db.pid",
			"-serial", "file:/run/d/demo-db.serial.log",
			"-drive", "if=none,id=boot,file=/run/d/demo-db.boot.img,format=raw",
			"-device", "ide-hd,drive=boot,bootindex=0",
			"-drive", "if=none,id=data,file=/run/d/demo-db.data.qcow2,format=qcow2",
			"-device", "virtio-blk-pci,drive=data,serial=QSCOPE-DEMO-DB",
			"-chardev", "socket,id=mon0,path=/run/d/demo-db.qmp,server=on,wait=off",
			"-mon", "chardev=mon0,mode=control",
			"-chardev", "socket,id=mon1,path=/run/d/demo-db.mon2.qmp,server=on,wait=off",
			"-mon", "chardev=mon1,mode=control",
		},
		"demo-build": {
			"-name", "guest=demo-build,process=demo-build",
			"-uuid", NameUUID("demo-build"),
			"-nodefaults", "-no-user-config", "-machine", "pc", "-cpu", "max", "-accel", "kvm", "-accel", "tcg",
			"-m", "64", "-smp", "2", "-display", "none",
			"-pidfile", "/run/d/demo-build.pid",
			"-serial", "file:/run/d/demo-build.serial.log",
			"-drive", "if=none,id=boot,file=/run/d/demo-build.boot.img,format=raw",
			"-device", "ide-hd,drive=boot,bootindex=0",
			"-qmp-pretty", "tcp:127.0.0.1:4444,server=on,wait=off",
		},
	}
	for _, s := range specs {
		got, err := Args(s, FilesFor("/run/d", s, "qcow2"), "", "qcow2")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want[s.Name]) {
			t.Errorf("%s:\n got %q\nwant %q", s.Name, got, want[s.Name])
		}
	}

	// A firmware directory goes first, as -L.
	got, err := Args(specs[0], FilesFor("/run/d", specs[0], "qcow2"), "/opt/qemu/share", "qcow2")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got[:2], []string{"-L", "/opt/qemu/share"}) {
		t.Errorf("with a data dir, args start %q", got[:2])
	}
	// Chardev + tcp + pretty.
	s := Spec{Name: "x", Monitors: []Monitor{{Network: "tcp", Chardev: true, Pretty: true, Port: 5555}}}
	got, err = Args(s, FilesFor("/d", s, "raw"), "", "raw")
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.Index(got, "-chardev"); i < 0 || got[i+1] != "socket,id=mon0,host=127.0.0.1,port=5555,server=on,wait=off" || got[i+3] != "chardev=mon0,mode=control,pretty=on" {
		t.Errorf("tcp chardev monitor: %q", got)
	}
}

func TestArgsRejectsBadInput(t *testing.T) {
	ok := Spec{Name: "ok", Monitors: []Monitor{{Network: "unix"}}}
	cases := []struct {
		name string
		spec Spec
		dir  string
		want string
	}{
		{"empty name", Spec{Monitors: ok.Monitors}, "/d", "invalid guest name"},
		{"name with comma", Spec{Name: "a,b", Monitors: ok.Monitors}, "/d", "invalid guest name"},
		{"name with slash", Spec{Name: "../x", Monitors: ok.Monitors}, "/d", "invalid guest name"},
		{"no monitor", Spec{Name: "x"}, "/d", "no QMP monitor"},
		{"bad network", Spec{Name: "x", Monitors: []Monitor{{Network: "udp"}}}, "/d", `network "udp"`},
		{"tcp without port", Spec{Name: "x", Monitors: []Monitor{{Network: "tcp"}}}, "/d", "tcp port not chosen"},
		{"bad uuid", Spec{Name: "x", UUID: "nope", Monitors: ok.Monitors}, "/d", "invalid UUID"},
		{"huge memory", Spec{Name: "x", MemoryMiB: 1 << 20, Monitors: ok.Monitors}, "/d", "memory"},
		{"comma in dir", ok, "/a,b", "comma"},
		{"socket path too long", ok, "/" + strings.Repeat("d", 120), "longer than the 107"},
	}
	for _, c := range cases {
		_, err := Args(c.spec, FilesFor(c.dir, c.spec, "qcow2"), "", "qcow2")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", c.name, err, c.want)
		}
	}
}

func TestNameUUID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a, b := NameUUID("demo-web"), NameUUID("demo-db")
	if !re.MatchString(a) || !re.MatchString(b) {
		t.Fatalf("not version-8 UUIDs: %s %s", a, b)
	}
	if a == b || a != NameUUID("demo-web") {
		t.Fatalf("NameUUID not stable and distinct: %s %s", a, b)
	}
}

package demo_test

import (
	"fmt"
	"strings"

	"github.com/qscope/qscope/demo"
)

// The arguments of a demo guest are a pure function of its spec and its
// files, so they can be read before anything runs.
func ExampleArgs() {
	web := demo.DefaultGuests()[0]
	args, err := demo.Args(web, demo.FilesFor("/run/user/1000/qscope-demo", web, "qcow2"), "", "qcow2")
	if err != nil {
		fmt.Println(err)
		return
	}
	for i := 0; i < len(args); i++ {
		if strings.HasPrefix(args[i], "-") && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			if args[i] == "-uuid" || strings.HasPrefix(args[i+1], "virtio-net") {
				args[i+1] = "…" // derived from the name
			}
			fmt.Println(args[i], args[i+1])
			i++
			continue
		}
		fmt.Println(args[i])
	}
	// Output:
	// -name guest=demo-web,process=demo-web
	// -uuid …
	// -nodefaults
	// -no-user-config
	// -machine pc
	// -cpu max
	// -accel kvm
	// -accel tcg
	// -m 32
	// -smp 1
	// -display none
	// -pidfile /run/user/1000/qscope-demo/demo-web.pid
	// -serial file:/run/user/1000/qscope-demo/demo-web.serial.log
	// -drive if=none,id=boot,file=/run/user/1000/qscope-demo/demo-web.boot.img,format=raw
	// -device ide-hd,drive=boot,bootindex=0
	// -netdev user,id=net0
	// -device …
	// -qmp unix:/run/user/1000/qscope-demo/demo-web.qmp,server=on,wait=off
}

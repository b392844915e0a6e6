package virt_test

import (
	"errors"
	"fmt"

	"github.com/qscope/qscope/policy"
	"github.com/qscope/qscope/qmp"
	"github.com/qscope/qscope/qmp/virt"
)

func ExampleParseURI() {
	for _, uri := range []string{"qemu:///system", "qemu+ssh://admin@host.example/system", "qemu+tls://host.example:16514/session"} {
		t, err := virt.ParseURI(uri)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(t.Transport, t.Host, t.Open, t.Local())
	}
	_, err := virt.ParseURI("xen:///system")
	fmt.Println(err)
	// Output:
	// unix  qemu:///system true
	// ssh host.example qemu:///system false
	// tls host.example:16514 qemu:///session false
	// virt: libvirt URI "xen:///system": driver "xen" is not qemu
}

// A Monitor refuses, unless opened WithForce, what libvirt keeps in its
// own configuration; the error names the libvirt-native way.
func ExampleTrackedError() {
	hint, _ := policy.LibvirtTracked("block_resize")
	var err error = &virt.TrackedError{Domain: "web", Command: "block_resize", Hint: hint}
	fmt.Println(errors.Is(err, virt.ErrTrackedByLibvirt), errors.Is(err, qmp.ErrInvalid))
	fmt.Println(err)
	// Output:
	// true true
	// virt: block_resize on domain "web" refused: libvirt tracks this change in its own configuration and would not know of it; use virsh blockresize (or force it)
}

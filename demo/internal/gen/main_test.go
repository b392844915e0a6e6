package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/qscope/qscope/demo"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The committed image is what the generator produces: run `go generate
// ./demo` after changing the program.
func TestCommittedImageIsGenerated(t *testing.T) {
	img, _, err := build()
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("../../bootsector.img")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(img, committed) {
		t.Fatalf("demo/bootsector.img differs from the generator's output: run go generate ./demo")
	}
	if !bytes.Equal(img, demo.BootSector()) {
		t.Fatalf("the embedded boot sector differs from the generator's output")
	}
}

func TestBootSectorShape(t *testing.T) {
	img, a, err := build()
	if err != nil {
		t.Fatal(err)
	}
	if len(img) != 512 {
		t.Fatalf("image is %d bytes, want 512", len(img))
	}
	if img[510] != 0x55 || img[511] != 0xAA {
		t.Fatalf("boot signature %02X %02X, want 55 AA", img[510], img[511])
	}
	if banner != demo.Banner {
		t.Fatalf("generator banner %q, package banner %q", banner, demo.Banner)
	}
	if !bytes.Contains(img, []byte("\r\n"+banner+"\r\n\x00")) || !bytes.Contains(img, []byte(heartbeat+"\x00")) {
		t.Fatalf("strings missing from the image")
	}
	// Every byte of the program is accounted for by one listing line.
	covered := 0
	for _, l := range a.lines {
		if l.label == "" {
			if l.off != covered {
				t.Fatalf("listing gap or overlap at offset %d (line starts at %d)", covered, l.off)
			}
			covered += l.size
		}
	}
	if covered != len(a.code) {
		t.Fatalf("listing covers %d of %d bytes", covered, len(a.code))
	}
	lst := a.listing()
	for _, want := range []string{"7C00  FA", "hlt", "out dx, al", "call putc"} {
		if !strings.Contains(lst, want) {
			t.Errorf("listing lacks %q", want)
		}
	}
}

func TestAssemblerResolvesLabels(t *testing.T) {
	a := newAssembler(0x7C00)
	a.jmp("fwd")        // EB ??
	a.label("back")     // offset 2
	a.emit("nop", 0x90) // 2
	a.label("fwd")      // offset 3
	a.jz("back")        // 74 ?? (next = 5, back = 2 → -3)
	a.call("back")      // E8 ?? ?? (next = 8 → -6)
	a.movSI("fwd")      // BE 03 7C
	if err := a.link(); err != nil {
		t.Fatal(err)
	}
	want := []byte{0xEB, 0x01, 0x90, 0x74, 0xFD, 0xE8, 0xFA, 0xFF, 0xBE, 0x03, 0x7C}
	if !bytes.Equal(a.code, want) {
		t.Fatalf("code % X, want % X", a.code, want)
	}
}

func TestAssemblerErrors(t *testing.T) {
	a := newAssembler(0)
	a.jmp("nowhere")
	if err := a.link(); err == nil || !strings.Contains(err.Error(), `undefined label "nowhere"`) {
		t.Fatalf("undefined label: err = %v", err)
	}

	a = newAssembler(0)
	a.jmp("far")
	a.emit("padding", make([]byte, 200)...)
	a.label("far")
	if err := a.link(); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Fatalf("far short jump: err = %v", err)
	}
}

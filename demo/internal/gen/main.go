// Command gen assembles the demo guests' boot sector and writes it to
// bootsector.img in the current directory (the demo package's directory,
// when run by go generate).
//
// The program is 16-bit real-mode x86, loaded by the BIOS at 0x7C00. It
// programs the first serial port (COM1, I/O port 0x3F8), prints a banner,
// then loops forever: it sleeps with hlt between timer interrupts and,
// every heartbeatTicks ticks of the BIOS tick counter (the word at
// 0000:046C, 18.2 ticks a second), prints a numbered heartbeat line. hlt
// keeps the virtual CPU idle between ticks, so a demo guest costs almost
// no host CPU.
//
// Usage:
//
//	go run ./internal/gen [-o bootsector.img] [-l]
//
// -l prints the listing (address, bytes, instruction) to standard output.
package main

import (
	"flag"
	"fmt"
	"os"
)

const (
	// Banner is the first line the guest prints on its serial port.
	banner = "qscope demo guest: booted"
	// heartbeat prefixes each later line, followed by a count from 1.
	heartbeat = "qscope demo guest: heartbeat "
	// heartbeatTicks is the interval between heartbeats in BIOS timer
	// ticks (36 ticks is about two seconds).
	heartbeatTicks = 36

	com1 = 0x3F8 // COM1 base port: transmit holding / divisor latch low
)

func main() {
	out := flag.String("o", "bootsector.img", "file to write")
	list := flag.Bool("l", false, "print the listing to standard output")
	flag.Parse()

	img, a, err := build()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	if *list {
		fmt.Print(a.listing())
	}
	if err := os.WriteFile(*out, img, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// build assembles the boot sector: exactly 512 bytes ending in 55 AA.
func build() ([]byte, *assembler, error) {
	a := newAssembler(0x7C00)

	// Set up flat segments and a stack just below the loaded sector.
	a.label("start")
	a.emit("cli", 0xFA)
	a.emit("xor ax, ax", 0x31, 0xC0)
	a.emit("mov ds, ax", 0x8E, 0xD8)
	a.emit("mov es, ax", 0x8E, 0xC0)
	a.emit("mov ss, ax", 0x8E, 0xD0)
	a.emit("mov sp, 0x7C00", 0xBC, 0x00, 0x7C)
	a.emit("cld           ; lodsb walks forward", 0xFC)
	a.emit("sti           ; the BIOS timer interrupt drives the heartbeat", 0xFB)

	// Program the UART: 115200 baud, 8 data bits, no parity, 1 stop bit.
	a.outb(com1+1, 0x00, "IER: no UART interrupts")
	a.outb(com1+3, 0x80, "LCR: DLAB on, to set the divisor")
	a.outb(com1+0, 0x01, "DLL: divisor 1 = 115200 baud")
	a.outb(com1+1, 0x00, "DLM: divisor high byte")
	a.outb(com1+3, 0x03, "LCR: 8N1, DLAB off")
	a.outb(com1+2, 0xC7, "FCR: enable and clear FIFOs")
	a.outb(com1+4, 0x03, "MCR: DTR and RTS")

	a.movSI("msg_banner")
	a.call("puts")
	a.emit("xor di, di    ; di counts heartbeats", 0x31, 0xFF)

	// Main loop: remember the tick count, sleep until heartbeatTicks have
	// passed, print a heartbeat, repeat. The subtraction wraps, so the
	// low word of the counter rolling over does no harm.
	a.label("main")
	a.emit("mov dx, [0x046C]   ; BIOS tick count (low word)", 0x8B, 0x16, 0x6C, 0x04)
	a.label("sleep")
	a.emit("hlt           ; wait for the next interrupt", 0xF4)
	a.emit("mov ax, [0x046C]", 0xA1, 0x6C, 0x04)
	a.emit("sub ax, dx    ; ticks since the last heartbeat", 0x29, 0xD0)
	a.emit(fmt.Sprintf("cmp ax, %d", heartbeatTicks), 0x3D, lo(heartbeatTicks), hi(heartbeatTicks))
	a.jb("sleep")
	a.emit("inc di", 0x47)
	a.movSI("msg_heartbeat")
	a.call("puts")
	a.emit("mov ax, di", 0x89, 0xF8)
	a.call("putdec")
	a.movSI("msg_crlf")
	a.call("puts")
	a.jmp("main")

	// puts writes the zero-terminated string at DS:SI (clobbers AX, DX, SI).
	a.label("puts")
	a.emit("lodsb", 0xAC)
	a.emit("test al, al", 0x84, 0xC0)
	a.jz("puts_done")
	a.call("putc")
	a.jmp("puts")
	a.label("puts_done")
	a.emit("ret", 0xC3)

	// putc writes AL to COM1 once the transmitter is ready (clobbers DX).
	a.label("putc")
	a.emit("push ax", 0x50)
	a.emit(fmt.Sprintf("mov dx, 0x%03X   ; LSR", com1+5), 0xBA, lo(com1+5), hi(com1+5))
	a.label("putc_wait")
	a.emit("in al, dx", 0xEC)
	a.emit("test al, 0x20 ; transmit holding register empty?", 0xA8, 0x20)
	a.jz("putc_wait")
	a.emit("pop ax", 0x58)
	a.emit(fmt.Sprintf("mov dx, 0x%03X   ; THR", com1), 0xBA, lo(com1), hi(com1))
	a.emit("out dx, al", 0xEE)
	a.emit("ret", 0xC3)

	// putdec writes AX in decimal (clobbers AX, BX, CX, DX).
	a.label("putdec")
	a.emit("xor cx, cx    ; digits pushed", 0x31, 0xC9)
	a.emit("mov bx, 10", 0xBB, 0x0A, 0x00)
	a.label("putdec_div")
	a.emit("xor dx, dx", 0x31, 0xD2)
	a.emit("div bx        ; ax = dx:ax / 10, dx = remainder", 0xF7, 0xF3)
	a.emit("push dx", 0x52)
	a.emit("inc cx", 0x41)
	a.emit("test ax, ax", 0x85, 0xC0)
	a.jnz("putdec_div")
	a.label("putdec_out")
	a.emit("pop ax", 0x58)
	a.emit("add al, '0'", 0x04, '0')
	a.call("putc")
	a.loop("putdec_out")
	a.emit("ret", 0xC3)

	a.label("msg_banner")
	a.asciz("\r\n" + banner + "\r\n")
	a.label("msg_heartbeat")
	a.asciz(heartbeat)
	a.label("msg_crlf")
	a.asciz("\r\n")

	if err := a.link(); err != nil {
		return nil, nil, err
	}
	if len(a.code) > 510 {
		return nil, nil, fmt.Errorf("program is %d bytes, more than the 510 a boot sector holds", len(a.code))
	}
	img := make([]byte, 512)
	copy(img, a.code)
	img[510], img[511] = 0x55, 0xAA // boot signature
	return img, a, nil
}

func lo(v uint16) byte { return byte(v) }
func hi(v uint16) byte { return byte(v >> 8) }

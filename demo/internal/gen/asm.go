package main

import (
	"fmt"
	"strings"
)

// assembler is a tiny 16-bit x86 assembler: callers emit encoded
// instructions one by one (with the comment that says what each is), and
// jumps, calls and address operands name labels that are resolved at the
// end.
type assembler struct {
	org    uint16 // load address of the first byte
	code   []byte
	labels map[string]int
	fixups []fixup
	lines  []line
}

// fixup is an operand whose value depends on a label.
type fixup struct {
	at    int    // offset of the operand in code
	label string // target
	kind  fixupKind
	next  int // offset of the next instruction (relative operands count from there)
}

type fixupKind int

const (
	rel8  fixupKind = iota // signed byte, relative to the next instruction
	rel16                  // signed word, relative to the next instruction
	abs16                  // absolute address (org + label offset)
)

// line is one row of the listing.
type line struct {
	off     int
	size    int
	label   string
	comment string
}

func newAssembler(org uint16) *assembler {
	return &assembler{org: org, labels: map[string]int{}}
}

// emit appends one instruction (or data) with its comment.
func (a *assembler) emit(comment string, b ...byte) {
	a.lines = append(a.lines, line{off: len(a.code), size: len(b), comment: comment})
	a.code = append(a.code, b...)
}

// label names the current offset.
func (a *assembler) label(name string) {
	if _, dup := a.labels[name]; dup {
		panic(fmt.Sprintf("label %q defined twice", name))
	}
	a.labels[name] = len(a.code)
	a.lines = append(a.lines, line{off: len(a.code), label: name})
}

// ref emits opcode bytes followed by an operand that refers to label.
func (a *assembler) ref(comment string, kind fixupKind, label string, opcode ...byte) {
	size := 2
	if kind == rel8 {
		size = 1
	}
	start := len(a.code)
	a.code = append(a.code, opcode...)
	at := len(a.code)
	a.code = append(a.code, make([]byte, size)...)
	a.fixups = append(a.fixups, fixup{at: at, label: label, kind: kind, next: len(a.code)})
	a.lines = append(a.lines, line{off: start, size: len(a.code) - start, comment: comment})
}

// Helpers for the few instructions the program uses that take a label.

func (a *assembler) jz(label string)   { a.ref("jz "+label, rel8, label, 0x74) }
func (a *assembler) jnz(label string)  { a.ref("jnz "+label, rel8, label, 0x75) }
func (a *assembler) jb(label string)   { a.ref("jb "+label, rel8, label, 0x72) }
func (a *assembler) jmp(label string)  { a.ref("jmp short "+label, rel8, label, 0xEB) }
func (a *assembler) loop(label string) { a.ref("loop "+label, rel8, label, 0xE2) }
func (a *assembler) call(label string) { a.ref("call "+label, rel16, label, 0xE8) }

// movSI loads the address of label into SI.
func (a *assembler) movSI(label string) { a.ref("mov si, "+label, abs16, label, 0xBE) }

// outb writes an immediate byte to an I/O port (clobbers AL and DX).
func (a *assembler) outb(port uint16, v byte, what string) {
	a.emit(fmt.Sprintf("mov dx, 0x%03X", port), 0xBA, byte(port), byte(port>>8))
	a.emit(fmt.Sprintf("mov al, 0x%02X    ; %s", v, what), 0xB0, v)
	a.emit("out dx, al", 0xEE)
}

// asciz emits a zero-terminated string.
func (a *assembler) asciz(s string) {
	a.emit(fmt.Sprintf("db %q, 0", s), append([]byte(s), 0)...)
}

// link resolves every fixup.
func (a *assembler) link() error {
	for _, f := range a.fixups {
		target, ok := a.labels[f.label]
		if !ok {
			return fmt.Errorf("undefined label %q", f.label)
		}
		switch f.kind {
		case rel8:
			d := target - f.next
			if d < -128 || d > 127 {
				return fmt.Errorf("short jump to %q out of range (%d bytes)", f.label, d)
			}
			a.code[f.at] = byte(int8(d))
		case rel16:
			d := target - f.next
			a.code[f.at] = byte(uint16(int16(d)))
			a.code[f.at+1] = byte(uint16(int16(d)) >> 8)
		case abs16:
			v := uint16(int(a.org) + target)
			a.code[f.at] = byte(v)
			a.code[f.at+1] = byte(v >> 8)
		}
	}
	return nil
}

// listing renders address, bytes and comment for every instruction.
func (a *assembler) listing() string {
	var b strings.Builder
	for _, l := range a.lines {
		if l.label != "" {
			fmt.Fprintf(&b, "%s:\n", l.label)
			continue
		}
		hex := make([]string, 0, l.size)
		for _, c := range a.code[l.off : l.off+l.size] {
			hex = append(hex, fmt.Sprintf("%02X", c))
		}
		h := strings.Join(hex, " ")
		if len(h) > 24 {
			h = h[:21] + "..."
		}
		fmt.Fprintf(&b, "%04X  %-24s  %s\n", int(a.org)+l.off, h, l.comment)
	}
	return b.String()
}

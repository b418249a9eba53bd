// Package evex encodes the few AVX-512 instructions that Go's assembler
// does not know yet (AVX512-BF16's VDPBF16PS, VCVTNE2PS2BF16 and
// VCVTNEPS2BF16), so that
// the kernel generators can emit them as BYTE directives with the
// mnemonic beside them. Only what the generators need is here: 512-bit
// vectors, register or [base+displacement] operands (no index), optional
// 32-bit broadcast, no masking. Its test checks every form against a
// disassembler.
package evex

import "fmt"

// Op is an EVEX-encoded instruction: its mandatory prefix (pp), opcode map
// (mm), W bit and opcode byte.
type Op struct {
	Name   string // Intel mnemonic, lower case
	pp, mm byte
	w      byte
	opcode byte
	// bcstN is the element size a broadcast memory operand reads (the
	// disp8*N scale under broadcast).
	bcstN int
}

const (
	pp66 = 1
	ppF3 = 2
	ppF2 = 3

	map0F38 = 2
)

var (
	// VDPBF16PS zmm1, zmm2, zmm3/m512/m32bcst: zmm1.fp32[i] +=
	// zmm2.bf16[2i+1]*zmm3.bf16[2i+1], then += zmm2.bf16[2i]*zmm3.bf16[2i].
	VDPBF16PS = Op{Name: "vdpbf16ps", pp: ppF3, mm: map0F38, opcode: 0x52, bcstN: 4}
	// VCVTNE2PS2BF16 zmm1, zmm2, zmm3/m512/m32bcst: zmm1's low 16 bf16 are
	// zmm3 rounded to nearest even, its high 16 zmm2.
	VCVTNE2PS2BF16 = Op{Name: "vcvtne2ps2bf16", pp: ppF2, mm: map0F38, opcode: 0x72, bcstN: 4}
	// VCVTNEPS2BF16 ymm1, zmm2/m512/m32bcst: ymm1's 16 bf16 are zmm2
	// rounded to nearest even (two operands: encode with R2).
	VCVTNEPS2BF16 = Op{Name: "vcvtneps2bf16", pp: ppF3, mm: map0F38, opcode: 0x72, bcstN: 4}
	// VPDPBUSD zmm1, zmm2, zmm3/m512/m32bcst: zmm1.s32[i] += the four
	// products of zmm2's unsigned bytes and zmm3's signed bytes. (Go's
	// assembler knows it; it is here to check the encoder against it.)
	VPDPBUSD = Op{Name: "vpdpbusd", pp: pp66, mm: map0F38, opcode: 0x50, bcstN: 4}
)

// Z is a vector register, Z0-Z31.
type Z int

// GP is a general-purpose register in Go's assembler names.
type GP int

// The general-purpose registers, in their hardware numbering.
const (
	AX GP = iota
	CX
	DX
	BX
	SP
	BP
	SI
	DI
	R8
	R9
	R10
	R11
	R12
	R13
	R14
	R15
)

var gpNames = [...]string{"AX", "CX", "DX", "BX", "SP", "BP", "SI", "DI", "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15"}
var gpIntel = [...]string{"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"}

func (g GP) String() string { return gpNames[g] }

// Mem is a memory operand [Base + Disp], broadcast (m32bcst) when Bcst.
type Mem struct {
	Base GP
	Disp int32
	Bcst bool
}

func bit(v, i int) byte { return byte(v>>i) & 1 }

// prefix is the four-byte EVEX prefix for reg, vvvv and the rm fields
// (rmB: bit 3 of the rm register or base; rmX: bit 4 of an rm vector
// register), 512-bit, no masking.
func (op Op) prefix(reg, vvvv Z, rmB, rmX byte, bcst bool) []byte {
	p0 := (1-bit(int(reg), 3))<<7 | (1-rmX)<<6 | (1-rmB)<<5 | (1-bit(int(reg), 4))<<4 | op.mm
	p1 := op.w<<7 | (^byte(vvvv)&0xf)<<3 | 1<<2 | op.pp
	var b byte
	if bcst {
		b = 1
	}
	p2 := byte(2)<<5 | b<<4 | (1-bit(int(vvvv), 4))<<3 // L'L = 10: 512 bits
	return []byte{0x62, p0, p1, p2}
}

func check(regs ...Z) {
	for _, r := range regs {
		if r < 0 || r > 31 {
			panic(fmt.Sprintf("evex: no register Z%d", r))
		}
	}
}

// RR encodes op dst, src1, src2 with all three in registers (Intel
// operand order; in Go's order that is op src2, src1, dst).
func RR(op Op, dst, src1, src2 Z) []byte {
	check(dst, src1, src2)
	out := op.prefix(dst, src1, bit(int(src2), 3), bit(int(src2), 4), false)
	modrm := byte(3)<<6 | byte(dst&7)<<3 | byte(src2&7)
	return append(out, op.opcode, modrm)
}

// R2 encodes a two-operand op dst, src from registers (vvvv unused): for
// VCVTNEPS2BF16, dst is a ymm register, src a zmm one.
func R2(op Op, dst, src Z) []byte {
	check(dst, src)
	// An unused vvvv is encoded as 1111 with V' set: what register 0 gives.
	return RR(op, dst, 0, src)
}

// IntelR2 is R2's text in Intel syntax.
func IntelR2(op Op, dst, src Z) string {
	return fmt.Sprintf("%s ymm%d,zmm%d", op.Name, dst, src)
}

// RM encodes op dst, src1, [m] (a full vector, or one 32-bit element
// broadcast when m.Bcst), with the compressed 8-bit displacement when the
// offset allows it.
func RM(op Op, dst, src1 Z, m Mem) []byte {
	check(dst, src1)
	if m.Base < AX || m.Base > R15 {
		panic(fmt.Sprintf("evex: no register %d", m.Base))
	}
	out := op.prefix(dst, src1, bit(int(m.Base), 3), 0, m.Bcst)
	n := int32(64)
	if m.Bcst {
		n = int32(op.bcstN)
	}
	var mod byte
	var disp []byte
	switch {
	case m.Disp == 0 && m.Base&7 != BP: // [rbp]/[r13] have no form without a displacement
	case m.Disp%n == 0 && m.Disp/n >= -128 && m.Disp/n <= 127:
		mod, disp = 1, []byte{byte(int8(m.Disp / n))}
	default:
		d := uint32(m.Disp)
		mod, disp = 2, []byte{byte(d), byte(d >> 8), byte(d >> 16), byte(d >> 24)}
	}
	out = append(out, op.opcode, mod<<6|byte(dst&7)<<3|byte(m.Base&7))
	if m.Base&7 == SP { // rsp and r12 as a base need a SIB byte
		out = append(out, 0x24)
	}
	return append(out, disp...)
}

// Go returns the instruction as a line of Go assembly: its bytes, with
// the mnemonic in Intel syntax in a comment.
func Go(code []byte, intel string) string {
	s := "\t"
	for i, c := range code {
		if i > 0 {
			s += "; "
		}
		s += fmt.Sprintf("BYTE $0x%02x", c)
	}
	return s + " // " + intel
}

// IntelRR is op's text in Intel syntax, as disassemblers print it.
func IntelRR(op Op, dst, src1, src2 Z) string {
	return fmt.Sprintf("%s zmm%d,zmm%d,zmm%d", op.Name, dst, src1, src2)
}

// IntelRM is RM's text in Intel syntax.
func IntelRM(op Op, dst, src1 Z, m Mem) string {
	addr := gpIntel[m.Base]
	if m.Disp == 0 && m.Base&7 == BP {
		addr += "+0x0" // encoded with a zero displacement
	} else if m.Disp > 0 {
		addr += fmt.Sprintf("+0x%x", m.Disp)
	} else if m.Disp < 0 {
		addr += fmt.Sprintf("-0x%x", -m.Disp)
	}
	if m.Bcst {
		return fmt.Sprintf("%s zmm%d,zmm%d,DWORD BCST [%s]", op.Name, dst, src1, addr)
	}
	return fmt.Sprintf("%s zmm%d,zmm%d,ZMMWORD PTR [%s]", op.Name, dst, src1, addr)
}

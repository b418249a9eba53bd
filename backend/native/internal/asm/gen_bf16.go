//go:build ignore

// gen_bf16 writes bf16_amd64.s: the AVX512-BF16 kernels. Go's assembler
// does not know VDPBF16PS and VCVTNE2PS2BF16 yet, so they are emitted as
// bytes by package evex (whose test checks them against a disassembler),
// each with its Intel mnemonic in a comment.
// Run with `go generate ./backend/native/internal/asm`.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/resgo/resgo/backend/native/internal/asm/evex"
)

// genConvert writes F32ToBF16AVX512: 32 floats a round, two vectors
// rounded to nearest even into one of 32 bfloat16.
func genConvert(b *strings.Builder) {
	b.WriteString("// func F32ToBF16AVX512(n int, src *float32, dst *uint16)\n")
	b.WriteString("TEXT ·F32ToBF16AVX512(SB), NOSPLIT, $0-24\n")
	b.WriteString("\tMOVQ n+0(FP), CX\n\tMOVQ src+8(FP), SI\n\tMOVQ dst+16(FP), DI\n\tSHRQ $5, CX\n\tJEQ f32tobf16_done\n")
	b.WriteString("f32tobf16_loop:\n\tVMOVUPS 0(SI), Z0\n\tVMOVUPS 64(SI), Z1\n")
	// Low half from the first 16 floats (the r/m operand), high half from
	// the next 16.
	b.WriteString(evex.Go(evex.RR(evex.VCVTNE2PS2BF16, 2, 1, 0), evex.IntelRR(evex.VCVTNE2PS2BF16, 2, 1, 0)) + "\n")
	b.WriteString("\tVMOVUPS Z2, 0(DI)\n\tADDQ $128, SI\n\tADDQ $64, DI\n\tDECQ CX\n\tJNZ f32tobf16_loop\n")
	b.WriteString("f32tobf16_done:\n\tVZEROUPPER\n\tRET\n\n")
}

// genPairRows writes PairRowsBF16AVX512: rows (ldd words apart) of 32
// pairs, each from
// two float32 rows (k and k+1) rounded to bfloat16 and interleaved, the
// layout VDPBF16PS reads B in. Per 16 columns: VCVTNE2PS2BF16 puts row k
// in words 0-15 and row k+1 in words 16-31, and VPERMW with the index
// (0, 16, 1, 17, ...) interleaves them.
func genPairRows(b *strings.Builder) {
	for i := 0; i < 8; i++ {
		j := uint64(2 * i)
		fmt.Fprintf(b, "DATA pairIndex<>+%d(SB)/8, $0x%016x\n", 8*i, j|(16+j)<<16|(j+1)<<32|(17+j)<<48)
	}
	b.WriteString("GLOBL pairIndex<>(SB), RODATA|NOPTR, $64\n\n")
	b.WriteString("// func PairRowsBF16AVX512(rows int, lo, hi *float32, ld int, dst *uint32, ldd int)\n")
	b.WriteString("TEXT ·PairRowsBF16AVX512(SB), NOSPLIT, $0-48\n")
	b.WriteString("\tMOVQ rows+0(FP), CX\n\tMOVQ lo+8(FP), SI\n\tMOVQ hi+16(FP), DX\n\tMOVQ ld+24(FP), R8\n\tSHLQ $2, R8\n\tMOVQ dst+32(FP), DI\n\tMOVQ ldd+40(FP), R9\n\tSHLQ $2, R9\n")
	b.WriteString("\tVMOVDQU16 pairIndex<>(SB), Z31\n\tTESTQ CX, CX\n\tJEQ pairrows_done\npairrows_loop:\n")
	for half := 0; half < 2; half++ {
		fmt.Fprintf(b, "\tVMOVUPS %d(SI), Z0\n\tVMOVUPS %d(DX), Z1\n", 64*half, 64*half)
		b.WriteString(evex.Go(evex.RR(evex.VCVTNE2PS2BF16, 2, 1, 0), evex.IntelRR(evex.VCVTNE2PS2BF16, 2, 1, 0)) + "\n")
		fmt.Fprintf(b, "\tVPERMW Z2, Z31, Z3\n\tVMOVDQU32 Z3, %d(DI)\n", 64*half)
	}
	b.WriteString("\tADDQ R8, SI\n\tADDQ R8, DX\n\tADDQ R9, DI\n\tDECQ CX\n\tJNZ pairrows_loop\npairrows_done:\n\tVZEROUPPER\n\tRET\n\n")
}

// dotKernel is the bf16 GEMM micro-kernel: C[mr x 32] (+)= A * B over kp
// pairs of k, A packed as kp groups of mr pairs (a[r][2p], a[r][2p+1]
// in one 32-bit word), B as kp groups of 32 pairs (b[2p][j], b[2p+1][j]).
// Z0-Z23 accumulate, Z24-Z25 hold B, Z26-Z27 the broadcast A pairs.
type dotKernel struct {
	name string
	mr   int
	set  bool
	// strided kernels read A and B unpacked: row r's pair p at
	// a[p*lda + r], B's pairs p at b[p*ldb:] (lda, ldb extra arguments,
	// in words).
	strided bool
}

func (k dotKernel) gen(b *strings.Builder) {
	const vecs = 2
	acc := func(r, v int) evex.Z { return evex.Z(r*vecs + v) }
	bReg := func(v int) evex.Z { return evex.Z(k.mr*vecs + v) }
	aStep, bStep := fmt.Sprintf("$%d", 4*k.mr), fmt.Sprintf("$%d", vecs*64)
	if k.strided {
		fmt.Fprintf(b, "// func %s(kp int, a, b *uint32, c *float32, ldc, lda, ldb int)\n", k.name)
		fmt.Fprintf(b, "TEXT ·%s(SB), NOSPLIT, $0-56\n", k.name)
	} else {
		fmt.Fprintf(b, "// func %s(kp int, a, b *uint32, c *float32, ldc int)\n", k.name)
		fmt.Fprintf(b, "TEXT ·%s(SB), NOSPLIT, $0-40\n", k.name)
	}
	b.WriteString("\tMOVQ kp+0(FP), CX\n\tMOVQ a+8(FP), SI\n\tMOVQ b+16(FP), DI\n\tMOVQ c+24(FP), DX\n\tMOVQ ldc+32(FP), R8\n\tSHLQ $2, R8\n")
	if k.strided {
		b.WriteString("\tMOVQ lda+40(FP), R9\n\tSHLQ $2, R9\n\tMOVQ ldb+48(FP), R10\n\tSHLQ $2, R10\n")
		aStep, bStep = "R9", "R10"
	}
	for r := 0; r < k.mr; r++ {
		for v := 0; v < vecs; v++ {
			fmt.Fprintf(b, "\tVPXORD Z%d, Z%d, Z%d\n", acc(r, v), acc(r, v), acc(r, v))
		}
	}
	fmt.Fprintf(b, "\tTESTQ CX, CX\n\tJEQ %s_store\n%s_loop:\n", k.name, k.name)
	for v := 0; v < vecs; v++ {
		fmt.Fprintf(b, "\tVMOVUPS %d(DI), Z%d\n", v*64, bReg(v))
	}
	// Each A pair is broadcast into a register (one load per row), not in
	// every VDPBF16PS's memory operand: 197-210 GFLOP/s against 175 (two
	// loads a cycle were the limit), and 100 for the float32 kernel on the
	// same tile (BenchmarkMicroKernels, one core).
	for r := 0; r < k.mr; r++ {
		a := evex.Z(k.mr*vecs + vecs + r%2)
		fmt.Fprintf(b, "\tVPBROADCASTD %d(SI), Z%d\n", 4*r, a)
		for v := 0; v < vecs; v++ {
			b.WriteString(evex.Go(evex.RR(evex.VDPBF16PS, acc(r, v), bReg(v), a), evex.IntelRR(evex.VDPBF16PS, acc(r, v), bReg(v), a)) + "\n")
		}
	}
	fmt.Fprintf(b, "\tADDQ %s, SI\n\tADDQ %s, DI\n\tDECQ CX\n\tJNZ %s_loop\n%s_store:\n", aStep, bStep, k.name, k.name)
	for r := 0; r < k.mr; r++ {
		for v := 0; v < vecs; v++ {
			if !k.set {
				fmt.Fprintf(b, "\tVADDPS %d(DX), Z%d, Z%d\n", v*64, acc(r, v), acc(r, v))
			}
			fmt.Fprintf(b, "\tVMOVUPS Z%d, %d(DX)\n", acc(r, v), v*64)
		}
		if r < k.mr-1 {
			b.WriteString("\tADDQ R8, DX\n")
		}
	}
	b.WriteString("\tVZEROUPPER\n\tRET\n\n")
}

// genPeak writes 12 independent VDPBF16PS chains per iteration, as
// gen_kernels.go's PeakLoop does with FMAs: the core's bf16 peak.
func genPeak(b *strings.Builder) {
	b.WriteString("// func PeakLoopBF16AVX512(n int)\nTEXT ·PeakLoopBF16AVX512(SB), NOSPLIT, $0-8\n\tMOVQ n+0(FP), CX\n")
	for r := 0; r < 14; r++ {
		fmt.Fprintf(b, "\tVPXORD Z%d, Z%d, Z%d\n", r, r, r)
	}
	b.WriteString("peakbf16_loop:\n")
	for r := 0; r < 12; r++ {
		b.WriteString(evex.Go(evex.RR(evex.VDPBF16PS, evex.Z(r), 12, 13), evex.IntelRR(evex.VDPBF16PS, evex.Z(r), 12, 13)) + "\n")
	}
	b.WriteString("\tDECQ CX\n\tJNZ peakbf16_loop\n\tVZEROUPPER\n\tRET\n\n")
}

func main() {
	var b strings.Builder
	b.WriteString("// Code generated by gen_bf16.go; DO NOT EDIT.\n\n//go:build amd64 && !purego\n\n#include \"textflag.h\"\n\n")
	genConvert(&b)
	genPairRows(&b)
	dotKernel{name: "DotBF16Kernel12x32AVX512", mr: 12}.gen(&b)
	dotKernel{name: "DotBF16Kernel12x32AVX512Set", mr: 12, set: true}.gen(&b)
	dotKernel{name: "DotBF16Kernel12x32AVX512Strided", mr: 12, set: true, strided: true}.gen(&b)
	dotKernel{name: "DotBF16Kernel12x32AVX512StridedAdd", mr: 12, strided: true}.gen(&b)
	genPeak(&b)
	if err := os.WriteFile("bf16_amd64.s", []byte(b.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

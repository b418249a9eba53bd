//go:build ignore

// gen_kernels writes kernel_amd64.s: the GEMM micro-kernels, unrolled by
// program so that the register allocation is regular and typo-free.
// Run with `go generate ./backend/native/internal/asm`.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/resgo/resgo/backend/native/internal/asm/evex"
)

// kernel describes one micro-kernel: C[mr x nr] += A[mr x kc] * B[kc x nr]
// (or = when set)
// with A packed column by column (mr values per k) and B row by row
// (nr values per k), nr being vecs vectors of lanes floats each.
type kernel struct {
	name string
	// set makes the kernel overwrite C instead of adding to it, so the
	// first pass over K needs no cleared C.
	set bool
	// strided kernels read A and B unpacked: row r of A's column k at
	// a[k*lda + r], B's row k at b[k*ldb:] (lda, ldb extra arguments, in
	// elements).
	strided bool
	reg     string // "Z" or "Y"
	lanes   int
	mr      int
	vecs    int
	xor     string
}

func (k kernel) gen(b *strings.Builder) {
	nacc := k.mr * k.vecs
	bReg := func(v int) string { return fmt.Sprintf("%s%d", k.reg, nacc+v) }
	bcast := func(r int) string { return fmt.Sprintf("%s%d", k.reg, nacc+k.vecs+r%2) }
	acc := func(r, v int) string { return fmt.Sprintf("%s%d", k.reg, r*k.vecs+v) }
	vbytes := k.lanes * 4
	if k.strided {
		fmt.Fprintf(b, "// func %s(kc int, a, b, c *float32, ldc, lda, ldb int)\n", k.name)
		fmt.Fprintf(b, "TEXT ·%s(SB), NOSPLIT, $0-56\n", k.name)
	} else {
		fmt.Fprintf(b, "// func %s(kc int, a, b, c *float32, ldc int)\n", k.name)
		fmt.Fprintf(b, "TEXT ·%s(SB), NOSPLIT, $0-40\n", k.name)
	}
	b.WriteString("\tMOVQ kc+0(FP), CX\n\tMOVQ a+8(FP), SI\n\tMOVQ b+16(FP), DI\n\tMOVQ c+24(FP), DX\n\tMOVQ ldc+32(FP), R8\n\tSHLQ $2, R8\n")
	aStep, bStep := fmt.Sprintf("$%d", k.mr*4), fmt.Sprintf("$%d", k.vecs*vbytes)
	if k.strided {
		b.WriteString("\tMOVQ lda+40(FP), R9\n\tSHLQ $2, R9\n\tMOVQ ldb+48(FP), R10\n\tSHLQ $2, R10\n")
		aStep, bStep = "R9", "R10"
	}
	for r := 0; r < k.mr; r++ {
		for v := 0; v < k.vecs; v++ {
			fmt.Fprintf(b, "\t%s %s, %s, %s\n", k.xor, acc(r, v), acc(r, v), acc(r, v))
		}
	}
	fmt.Fprintf(b, "\tTESTQ CX, CX\n\tJEQ %s_store\n%s_loop:\n", k.name, k.name)
	for v := 0; v < k.vecs; v++ {
		fmt.Fprintf(b, "\tVMOVUPS %d(DI), %s\n", v*vbytes, bReg(v))
	}
	for r := 0; r < k.mr; r++ {
		fmt.Fprintf(b, "\tVBROADCASTSS %d(SI), %s\n", r*4, bcast(r))
		for v := 0; v < k.vecs; v++ {
			fmt.Fprintf(b, "\tVFMADD231PS %s, %s, %s\n", bReg(v), bcast(r), acc(r, v))
		}
	}
	fmt.Fprintf(b, "\tADDQ %s, SI\n\tADDQ %s, DI\n\tDECQ CX\n\tJNZ %s_loop\n%s_store:\n", aStep, bStep, k.name, k.name)
	for r := 0; r < k.mr; r++ {
		for v := 0; v < k.vecs; v++ {
			if !k.set {
				fmt.Fprintf(b, "\tVADDPS %d(DX), %s, %s\n", v*vbytes, acc(r, v), acc(r, v))
			}
			fmt.Fprintf(b, "\tVMOVUPS %s, %d(DX)\n", acc(r, v), v*vbytes)
		}
		if r < k.mr-1 {
			b.WriteString("\tADDQ R8, DX\n")
		}
	}
	b.WriteString("\tVZEROUPPER\n\tRET\n\n")
}

// tileKernel describes one direct-convolution kernel (see direct.go):
// C[mr x nr] = sum over taps and k of X[row_r(tap) + k] * B[tap*tapStride + k*ldb : ... + nr],
// the mr rows of X read through a table of offsets, one set per tap, so
// that rows may come from anywhere (neighbouring pixels, other images, or a
// zero row for the padding) and no unrolled copy of the input is needed.
type tileKernel struct {
	name  string
	reg   string
	lanes int
	vecs  int
	xor   string
	ptrs  []string // one general register per row of X
	// tableRows, when set, is the row count of the table's entries (the
	// kernel reads only the first len(ptrs) rows of each): a half-height
	// kernel for the last, partly empty tile of a table made for the full
	// one.
	tableRows int
	// dot is what one multiply-add step takes: "" float32 values (FMA);
	// "bf16" bfloat16 pairs (AVX512-BF16: X rows of 2-byte elements, the
	// table's offsets counting elements, k over pairs of channels, B as
	// pairs (b[2p][j], b[2p+1][j]) in 32-bit words, VDPBF16PS emitted as
	// bytes); "u8s8" quads of bytes (AVX512-VNNI: X rows of unsigned
	// bytes, k over quads of channels, B as quads of signed bytes,
	// VPDPBUSD into int32 sums; then, per column, the zero points' share
	// of the taps it ran taken off, the scale, bias and ReLU applied, and
	// float32 stored: see TileU8S8x12x32AVX512).
	dot string
	// bytesOut (u8s8) stores the outputs quantized for the next
	// convolution instead of as float32: see TileU8S8x12x32AVX512Bytes.
	bytesOut bool
}

func (k tileKernel) gen(b *strings.Builder) {
	mr := len(k.ptrs)
	nacc := mr * k.vecs
	bReg := func(v int) string { return fmt.Sprintf("%s%d", k.reg, nacc+v) }
	bcast := func(r int) string { return fmt.Sprintf("%s%d", k.reg, nacc+k.vecs+r%2) }
	acc := func(r, v int) string { return fmt.Sprintf("%s%d", k.reg, r*k.vecs+v) }
	vbytes := k.lanes * 4
	tableRows := mr
	if k.tableRows > 0 {
		tableRows = k.tableRows
	}
	entry := (tableRows + 1) * 4
	elem, kc := 4, "kc"
	switch k.dot {
	case "bf16":
		elem, kc = 2, "kp"
		fmt.Fprintf(b, "// func %s(tbl *int32, taps, kp int, x *uint16, w *uint32, c *float32, ldc, ldb, tapStride int)\n", k.name)
	case "u8s8":
		elem, kc = 1, "kq"
		out, tail := "c *float32", ""
		if k.bytesOut {
			out, tail = "c *uint8", ", inv float32, zero int32"
		}
		fmt.Fprintf(b, "// func %s(tbl *int32, taps, kq int, x *uint8, w *uint32, %s, ldc, ldb, tapStride int, zw *int32, scale, bias *float32, relu bool%s)\n", k.name, out, tail)
	default:
		fmt.Fprintf(b, "// func %s(tbl *int32, taps, kc int, x, w, c *float32, ldc, ldb, tapStride int)\n", k.name)
	}
	frame := 72
	if k.dot == "u8s8" {
		frame = 97
		if k.bytesOut {
			frame = 108
		}
	}
	fmt.Fprintf(b, "TEXT ·%s(SB), NOSPLIT, $0-%d\n", k.name, frame)
	// ldb (B's row stride) and tapStride to bytes, in their own slots.
	b.WriteString("\tMOVQ ldb+56(FP), AX\n\tSHLQ $2, AX\n\tMOVQ AX, ldb+56(FP)\n")
	b.WriteString("\tMOVQ tapStride+64(FP), AX\n\tSHLQ $2, AX\n\tMOVQ AX, tapStride+64(FP)\n")
	for r := 0; r < mr; r++ {
		for v := 0; v < k.vecs; v++ {
			fmt.Fprintf(b, "\t%s %s, %s, %s\n", k.xor, acc(r, v), acc(r, v), acc(r, v))
		}
	}
	// u8s8: comp (the registers after the broadcasts) sums the zero
	// points' share, zw[tap][column], of every tap the tile runs.
	comp := func(v int) string { return fmt.Sprintf("%s%d", k.reg, nacc+k.vecs+2+v) }
	if k.dot == "u8s8" {
		for v := 0; v < k.vecs; v++ {
			fmt.Fprintf(b, "\tVPXORD %s, %s, %s\n", comp(v), comp(v), comp(v))
		}
	}
	// Per tap: load the row pointers (x + elem*offset; offsets already
	// point kc elements, kp pairs, past the row's start, so the index runs
	// from -kc (-kp) to 0 in steps of 4 bytes) and the tap's B pointer
	// (w + tap*tapStride).
	fmt.Fprintf(b, "%s_tap:\n\tMOVQ tbl+0(FP), CX\n", k.name)
	if k.dot == "u8s8" {
		fmt.Fprintf(b, "\tMOVLQSX %d(CX), DI\n\tSHLQ $%d, DI\n\tADDQ zw+72(FP), DI\n", tableRows*4, log2(k.vecs*vbytes))
		for v := 0; v < k.vecs; v++ {
			fmt.Fprintf(b, "\tVPADDD %d(DI), %s, %s\n", v*vbytes, comp(v), comp(v))
		}
	}
	b.WriteString("\tMOVQ x+24(FP), DI\n")
	for r, p := range k.ptrs {
		fmt.Fprintf(b, "\tMOVLQSX %d(CX), %s\n\tLEAQ (DI)(%s*%d), %s\n", r*4, p, p, elem, p)
	}
	fmt.Fprintf(b, "\tMOVLQSX %d(CX), DI\n\tIMULQ tapStride+64(FP), DI\n\tADDQ w+32(FP), DI\n", tableRows*4)
	fmt.Fprintf(b, "\tADDQ $%d, CX\n\tMOVQ CX, tbl+0(FP)\n\tMOVQ %s+16(FP), CX\n\tNEGQ CX\n", entry, kc)
	fmt.Fprintf(b, "%s_loop:\n", k.name)
	for v := 0; v < k.vecs; v++ {
		fmt.Fprintf(b, "\tVMOVUPS %d(DI), %s\n", v*vbytes, bReg(v))
	}
	for r, p := range k.ptrs {
		switch k.dot {
		case "bf16":
			fmt.Fprintf(b, "\tVPBROADCASTD (%s)(CX*4), %s\n", p, bcast(r))
			for v := 0; v < k.vecs; v++ {
				dst, src1, src2 := zmm(acc(r, v)), zmm(bReg(v)), zmm(bcast(r))
				b.WriteString(evex.Go(evex.RR(evex.VDPBF16PS, dst, src1, src2), evex.IntelRR(evex.VDPBF16PS, dst, src1, src2)) + "\n")
			}
		case "u8s8":
			// Go's operand order: the signed bytes (r/m), the unsigned
			// ones (vvvv), the sums.
			fmt.Fprintf(b, "\tVPBROADCASTD (%s)(CX*4), %s\n", p, bcast(r))
			for v := 0; v < k.vecs; v++ {
				fmt.Fprintf(b, "\tVPDPBUSD %s, %s, %s\n", bReg(v), bcast(r), acc(r, v))
			}
		default:
			fmt.Fprintf(b, "\tVBROADCASTSS (%s)(CX*4), %s\n", p, bcast(r))
			for v := 0; v < k.vecs; v++ {
				fmt.Fprintf(b, "\tVFMADD231PS %s, %s, %s\n", bReg(v), bcast(r), acc(r, v))
			}
		}
	}
	fmt.Fprintf(b, "\tADDQ ldb+56(FP), DI\n\tINCQ CX\n\tJNZ %s_loop\n", k.name)
	fmt.Fprintf(b, "\tDECQ taps+8(FP)\n\tJNZ %s_tap\n", k.name)
	b.WriteString("\tMOVQ c+40(FP), DX\n\tMOVQ ldc+48(FP), R8\n")
	if !k.bytesOut {
		b.WriteString("\tSHLQ $2, R8\n")
	}
	floor := fmt.Sprintf("%s%d", k.reg, nacc+2*k.vecs+2)
	// bytesOut: the next convolution's map, in the B and broadcast
	// registers (free once the taps are done): inv, zero, -zero, 255-zero.
	inv, zero, lo, hi := bReg(0), bReg(1), bcast(0), bcast(1)
	if k.bytesOut {
		fmt.Fprintf(b, "\tVBROADCASTSS inv+100(FP), %s\n\tMOVL zero+104(FP), AX\n\tVPBROADCASTD AX, %s\n", inv, zero)
		fmt.Fprintf(b, "\tVPXORD %s, %s, %s\n\tVPSUBD %s, %s, %s\n\tMOVL $255, AX\n\tVPBROADCASTD AX, %s\n\tVPSUBD %s, %s, %s\n",
			lo, lo, lo, zero, lo, lo, hi, zero, hi, hi)
	}
	if k.dot == "u8s8" {
		// floor: the ReLU's 0, or -Inf to let every value through.
		fmt.Fprintf(b, "\tMOVQ scale+80(FP), SI\n\tMOVQ bias+88(FP), BX\n\tVPXORD %s, %s, %s\n", floor, floor, floor)
		fmt.Fprintf(b, "\tMOVBLZX relu+96(FP), AX\n\tTESTQ AX, AX\n\tJNE %s_floor\n\tMOVL $0xff800000, AX\n\tVPBROADCASTD AX, %s\n%s_floor:\n", k.name, floor, k.name)
	}
	for r := 0; r < mr; r++ {
		for v := 0; v < k.vecs; v++ {
			if k.dot == "u8s8" {
				// (sum - comp) to float32, times the scale, plus the bias
				// (rounded apart: no FMA), then max(floor, .) (NaN, which
				// cannot arise here, would pass).
				a := acc(r, v)
				fmt.Fprintf(b, "\tVPSUBD %s, %s, %s\n\tVCVTDQ2PS %s, %s\n\tVMULPS %d(SI), %s, %s\n\tVADDPS %d(BX), %s, %s\n\tVMAXPS %s, %s, %s\n",
					comp(v), a, a, a, a, v*vbytes, a, a, v*vbytes, a, a, a, floor, a)
				if k.bytesOut {
					// Quantized as backend.InputQuant.Quantize does (see
					// QuantizeU8AVX512), one byte a lane.
					fmt.Fprintf(b, "\tVMULPS %s, %s, %s\n\tVCVTPS2DQ %s, %s\n\tVPMAXSD %s, %s, %s\n\tVPMINSD %s, %s, %s\n\tVPADDD %s, %s, %s\n\tVPMOVDB %s, %d(DX)\n",
						inv, a, a, a, a, lo, a, a, hi, a, a, zero, a, a, a, v*k.lanes)
					continue
				}
			}
			fmt.Fprintf(b, "\tVMOVUPS %s, %d(DX)\n", acc(r, v), v*vbytes)
		}
		if r < mr-1 {
			b.WriteString("\tADDQ R8, DX\n")
		}
	}
	b.WriteString("\tVZEROUPPER\n\tRET\n\n")
}

// log2 is the exponent of a power of two.
func log2(n int) int {
	e := 0
	for 1<<e < n {
		e++
	}
	if 1<<e != n {
		panic(fmt.Sprintf("log2 of %d", n))
	}
	return e
}

// genPeakVNNI is genPeak with VPDPBUSD (64 byte products a vector).
func genPeakVNNI(b *strings.Builder) {
	b.WriteString("// func PeakLoopVNNIAVX512(n int)\nTEXT ·PeakLoopVNNIAVX512(SB), NOSPLIT, $0-8\n\tMOVQ n+0(FP), CX\n")
	for r := 0; r < 14; r++ {
		fmt.Fprintf(b, "\tVPXORD Z%d, Z%d, Z%d\n", r, r, r)
	}
	b.WriteString("PeakLoopVNNIAVX512_loop:\n")
	for r := 0; r < 12; r++ {
		fmt.Fprintf(b, "\tVPDPBUSD Z12, Z13, Z%d\n", r)
	}
	b.WriteString("\tDECQ CX\n\tJNZ PeakLoopVNNIAVX512_loop\n\tVZEROUPPER\n\tRET\n\n")
}

// zmm is the evex register named "Z<n>".
func zmm(name string) evex.Z {
	var n int
	if _, err := fmt.Sscanf(name, "Z%d", &n); err != nil {
		panic(name)
	}
	return evex.Z(n)
}

// genPeak writes a loop of 12 independent FMA chains per iteration: enough
// to cover the FMA latency on two pipes, so it runs at the core's peak.
func genPeak(b *strings.Builder, name, reg, xor string) {
	fmt.Fprintf(b, "// func %s(n int)\nTEXT ·%s(SB), NOSPLIT, $0-8\n\tMOVQ n+0(FP), CX\n", name, name)
	for r := 0; r < 14; r++ {
		fmt.Fprintf(b, "\t%s %s%d, %s%d, %s%d\n", xor, reg, r, reg, r, reg, r)
	}
	fmt.Fprintf(b, "%s_loop:\n", name)
	for r := 0; r < 12; r++ {
		fmt.Fprintf(b, "\tVFMADD231PS %s12, %s13, %s%d\n", reg, reg, reg, r)
	}
	fmt.Fprintf(b, "\tDECQ CX\n\tJNZ %s_loop\n\tVZEROUPPER\n\tRET\n\n", name)
}

func main() {
	var b strings.Builder
	b.WriteString("// Code generated by gen_kernels.go; DO NOT EDIT.\n\n//go:build amd64 && !purego\n\n#include \"textflag.h\"\n\n")
	for _, set := range []bool{false, true} {
		suffix := ""
		if set {
			suffix = "Set"
		}
		kernel{name: "Kernel12x32AVX512" + suffix, set: set, reg: "Z", lanes: 16, mr: 12, vecs: 2, xor: "VPXORD"}.gen(&b)
		kernel{name: "Kernel6x16AVX2" + suffix, set: set, reg: "Y", lanes: 8, mr: 6, vecs: 2, xor: "VXORPS"}.gen(&b)
	}
	for _, set := range []bool{false, true} {
		suffix := "Add"
		if set {
			suffix = ""
		}
		kernel{name: "Kernel12x32AVX512Strided" + suffix, set: set, strided: true, reg: "Z", lanes: 16, mr: 12, vecs: 2, xor: "VPXORD"}.gen(&b)
		kernel{name: "Kernel6x16AVX2Strided" + suffix, set: set, strided: true, reg: "Y", lanes: 8, mr: 6, vecs: 2, xor: "VXORPS"}.gen(&b)
	}
	tileKernel{name: "Tile12x32AVX512", reg: "Z", lanes: 16, vecs: 2, xor: "VPXORD",
		ptrs: []string{"AX", "BX", "DX", "SI", "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15"}}.gen(&b)
	tileKernel{name: "Tile6x32AVX512Half", reg: "Z", lanes: 16, vecs: 2, xor: "VPXORD",
		ptrs: []string{"AX", "BX", "DX", "SI", "R8", "R9"}, tableRows: 12}.gen(&b)
	tileKernel{name: "TileBF16x12x32AVX512", reg: "Z", lanes: 16, vecs: 2, xor: "VPXORD", dot: "bf16",
		ptrs: []string{"AX", "BX", "DX", "SI", "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15"}}.gen(&b)
	tileKernel{name: "TileBF16x6x32AVX512Half", reg: "Z", lanes: 16, vecs: 2, xor: "VPXORD", dot: "bf16",
		ptrs: []string{"AX", "BX", "DX", "SI", "R8", "R9"}, tableRows: 12}.gen(&b)
	tileKernel{name: "TileU8S8x12x32AVX512", reg: "Z", lanes: 16, vecs: 2, xor: "VPXORD", dot: "u8s8",
		ptrs: []string{"AX", "BX", "DX", "SI", "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15"}}.gen(&b)
	tileKernel{name: "TileU8S8x12x32AVX512Bytes", reg: "Z", lanes: 16, vecs: 2, xor: "VPXORD", dot: "u8s8", bytesOut: true,
		ptrs: []string{"AX", "BX", "DX", "SI", "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15"}}.gen(&b)
	tileKernel{name: "Tile6x16AVX2", reg: "Y", lanes: 8, vecs: 2, xor: "VXORPS",
		ptrs: []string{"AX", "BX", "DX", "SI", "R8", "R9"}}.gen(&b)
	genPeak(&b, "PeakLoopAVX512", "Z", "VPXORD")
	genPeakVNNI(&b)
	genPeak(&b, "PeakLoopAVX2", "Y", "VXORPS")
	if err := os.WriteFile("kernel_amd64.s", []byte(b.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

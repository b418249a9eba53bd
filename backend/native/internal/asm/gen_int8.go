//go:build ignore

// gen_int8 writes int8_amd64.s: the AVX-512 conversions around the int8
// convolution's VPDPBUSD tiles (the tiles come from gen_kernels.go):
// float32 activations to bytes, int32 sums back to float32.
// Run with `go generate ./backend/native/internal/asm`.
package main

import (
	"fmt"
	"os"
	"strings"
)

// genQuantize writes QuantizeU8AVX512: 64 floats a round, each
// multiplied by inv, converted to int32 (VCVTPS2DQ rounds to nearest
// even under Go's MXCSR), clamped to [-zero, 255-zero], zero added, and
// narrowed to a byte.
func genQuantize(b *strings.Builder) {
	b.WriteString("// func QuantizeU8AVX512(n int, src *float32, dst *uint8, inv float32, zero int32)\n")
	b.WriteString("TEXT ·QuantizeU8AVX512(SB), NOSPLIT, $0-32\n")
	b.WriteString("\tMOVQ n+0(FP), CX\n\tMOVQ src+8(FP), SI\n\tMOVQ dst+16(FP), DI\n")
	quantConstants(b, 24)
	b.WriteString("\tSHRQ $6, CX\n\tJEQ quantize_done\nquantize_loop:\n")
	for v := 0; v < 4; v++ {
		fmt.Fprintf(b, "\tVMULPS %d(SI), Z28, Z%d\n", 64*v, v)
	}
	for v := 0; v < 4; v++ {
		fmt.Fprintf(b, "\tVCVTPS2DQ Z%d, Z%d\n\tVPMAXSD Z30, Z%d, Z%d\n\tVPMINSD Z31, Z%d, Z%d\n\tVPADDD Z29, Z%d, Z%d\n\tVPMOVDB Z%d, %d(DI)\n",
			v, v, v, v, v, v, v, v, v, 16*v)
	}
	b.WriteString("\tADDQ $256, SI\n\tADDQ $64, DI\n\tDECQ CX\n\tJNZ quantize_loop\nquantize_done:\n\tVZEROUPPER\n\tRET\n\n")
}

// quantConstants loads the quantization's constants from the arguments
// inv (at frame offset off) and zero (off+4): Z28 = inv, Z29 = zero,
// Z30 = -zero, Z31 = 255 - zero (the clamp's bounds before zero is added).
func quantConstants(b *strings.Builder, off int) {
	fmt.Fprintf(b, "\tVBROADCASTSS inv+%d(FP), Z28\n\tMOVL zero+%d(FP), AX\n\tVPBROADCASTD AX, Z29\n", off, off+4)
	b.WriteString("\tVPXORD Z30, Z30, Z30\n\tVPSUBD Z29, Z30, Z30\n\tMOVL $255, AX\n\tVPBROADCASTD AX, Z31\n\tVPSUBD Z29, Z31, Z31\n")
}

// genQuantizeQuads writes QuantizeQuadsAVX512: 16 positions a round (the
// rest under a mask) of
// four float32 planes (plane floats apart), each quantized as
// QuantizeU8AVX512 does, their bytes packed into one word per position
// (the first plane's in the low byte): the quads of channels the int8
// tiles read, before the word-wise transpose into PNC rows.
func genQuantizeQuads(b *strings.Builder) {
	b.WriteString("// func QuantizeQuadsAVX512(n int, src *float32, plane int, dst *uint32, inv float32, zero int32)\n")
	b.WriteString("TEXT ·QuantizeQuadsAVX512(SB), NOSPLIT, $0-40\n")
	b.WriteString("\tMOVQ n+0(FP), CX\n\tMOVQ src+8(FP), SI\n\tMOVQ plane+16(FP), R8\n\tSHLQ $2, R8\n\tLEAQ (R8)(R8*2), R9\n\tMOVQ dst+24(FP), DI\n")
	quantConstants(b, 32)
	b.WriteString("\tMOVQ CX, DX\n\tANDQ $15, DX\n\tSHRQ $4, CX\n\tJEQ quads_tail\nquads_loop:\n")
	quadRound(b, "")
	b.WriteString("\tADDQ $64, SI\n\tADDQ $64, DI\n\tDECQ CX\n\tJNZ quads_loop\n")
	// The last n%16 positions under a mask (masked-off lanes neither load
	// nor store).
	b.WriteString("quads_tail:\n\tTESTQ DX, DX\n\tJEQ quads_done\n\tMOVL $1, AX\n\tMOVQ DX, CX\n\tSHLL CX, AX\n\tDECL AX\n\tKMOVW AX, K1\n")
	quadRound(b, "K1, ")
	b.WriteString("quads_done:\n\tVZEROUPPER\n\tRET\n\n")
}

// quadRound writes one round of QuantizeQuadsAVX512: 16 positions, or
// those of mask ("K1, ") set.
func quadRound(b *strings.Builder, mask string) {
	mul, store := "VMULPS", "VMOVDQU32 Z0, (DI)"
	if mask != "" {
		mul, store = "VMULPS.Z", "VMOVDQU32 Z0, "+mask+"(DI)"
	}
	fmt.Fprintf(b, "\t%s (SI), Z28, %sZ0\n\t%s (SI)(R8*1), Z28, %sZ1\n\t%s (SI)(R8*2), Z28, %sZ2\n\t%s (SI)(R9*1), Z28, %sZ3\n",
		mul, mask, mul, mask, mul, mask, mul, mask)
	for v := 0; v < 4; v++ {
		fmt.Fprintf(b, "\tVCVTPS2DQ Z%d, Z%d\n\tVPMAXSD Z30, Z%d, Z%d\n\tVPMINSD Z31, Z%d, Z%d\n\tVPADDD Z29, Z%d, Z%d\n", v, v, v, v, v, v, v, v)
	}
	b.WriteString("\tVPSLLD $8, Z1, Z1\n\tVPSLLD $16, Z2, Z2\n\tVPSLLD $24, Z3, Z3\n")
	b.WriteString("\tVPORD Z1, Z0, Z0\n\tVPORD Z3, Z2, Z2\n\tVPORD Z2, Z0, Z0\n\t" + store + "\n")
}

// genDequantize writes DequantizeRowsAVX512: rows of cols int32 sums (16
// columns a round) turned in place into fl32(sum - comp[j]) * scale[j] +
// bias[j], then max(., 0) when relu: the multiply and the add rounded
// apart (no FMA), as backend.Int8Output and the bias are.
func genDequantize(b *strings.Builder) {
	b.WriteString("// func DequantizeRowsAVX512(rows, cols int, sums *int32, ld int, comp *int32, scale, bias *float32, relu bool)\n")
	b.WriteString("TEXT ·DequantizeRowsAVX512(SB), NOSPLIT, $0-57\n")
	b.WriteString("\tMOVQ rows+0(FP), CX\n\tMOVQ cols+8(FP), DX\n\tSHRQ $4, DX\n\tMOVQ sums+16(FP), DI\n\tMOVQ ld+24(FP), R8\n\tSHLQ $2, R8\n")
	// Z31: the ReLU's floor, 0, or -Inf to let everything through.
	b.WriteString("\tVPXORD Z31, Z31, Z31\n\tMOVBLZX relu+56(FP), AX\n\tTESTQ AX, AX\n\tJNE dequantize_floor\n")
	b.WriteString("\tMOVL $0xff800000, AX\n\tVPBROADCASTD AX, Z31\ndequantize_floor:\n")
	b.WriteString("\tTESTQ CX, CX\n\tJEQ dequantize_done\n\tTESTQ DX, DX\n\tJEQ dequantize_done\ndequantize_row:\n")
	b.WriteString("\tMOVQ comp+32(FP), SI\n\tMOVQ scale+40(FP), BX\n\tMOVQ bias+48(FP), R11\n\tMOVQ DI, R9\n\tMOVQ DX, R10\n")
	b.WriteString("dequantize_col:\n\tVMOVDQU32 0(R9), Z0\n\tVPSUBD 0(SI), Z0, Z0\n\tVCVTDQ2PS Z0, Z0\n\tVMULPS 0(BX), Z0, Z0\n\tVADDPS 0(R11), Z0, Z0\n\tVMAXPS Z0, Z31, Z0\n\tVMOVUPS Z0, 0(R9)\n")
	b.WriteString("\tADDQ $64, R9\n\tADDQ $64, SI\n\tADDQ $64, BX\n\tADDQ $64, R11\n\tDECQ R10\n\tJNZ dequantize_col\n")
	b.WriteString("\tADDQ R8, DI\n\tDECQ CX\n\tJNZ dequantize_row\ndequantize_done:\n\tVZEROUPPER\n\tRET\n\n")
}

func main() {
	var b strings.Builder
	b.WriteString("// Code generated by gen_int8.go; DO NOT EDIT.\n\n//go:build amd64 && !purego\n\n#include \"textflag.h\"\n\n")
	genQuantize(&b)
	genQuantizeQuads(&b)
	genDequantize(&b)
	if err := os.WriteFile("int8_amd64.s", []byte(b.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

//go:build ignore

// gen_winograd writes winograd_amd64.s: the AVX2 input and output
// transforms of Winograd's F(4x4, 3x3), eight channels per vector.
// Run with `go generate ./backend/native`.
package main

import (
	"fmt"
	"os"
	"strings"
)

// The constants live in Y12 (4), Y13 (5) and Y14 (2) for the input
// transform, and Y12 (2), Y13 (4) and Y14 (8) for the output transform.
const (
	four  = 0x40800000
	five  = 0x40a00000
	two   = 0x40000000
	eight = 0x41000000
)

func broadcast(b *strings.Builder, bits uint32, reg int) {
	fmt.Fprintf(b, "\tMOVL $0x%08x, AX\n\tVMOVD AX, X%d\n\tVBROADCASTSS X%d, Y%d\n", bits, reg, reg, reg)
}

// inputRows applies B^T to d0..d5 in Y0..Y5, calling store(k, reg) for
// output k:
//
//	o0 = 4d0 - 5d2 + d4          o1 = (d4 - 4d2) + (d3 - 4d1)
//	o2 = (d4 - 4d2) - (d3 - 4d1) o3 = (d4 - d2) + 2(d3 - d1)
//	o4 = (d4 - d2) - 2(d3 - d1)  o5 = 4d1 - 5d3 + d5
func inputRows(b *strings.Builder, store func(k, reg int)) {
	b.WriteString("\tVMOVAPS Y4, Y6\n\tVFMADD231PS Y12, Y0, Y6\n\tVFNMADD231PS Y13, Y2, Y6\n")
	b.WriteString("\tVMOVAPS Y5, Y7\n\tVFMADD231PS Y12, Y1, Y7\n\tVFNMADD231PS Y13, Y3, Y7\n")
	b.WriteString("\tVMOVAPS Y4, Y8\n\tVFNMADD231PS Y12, Y2, Y8\n")
	b.WriteString("\tVMOVAPS Y3, Y9\n\tVFNMADD231PS Y12, Y1, Y9\n")
	b.WriteString("\tVADDPS Y9, Y8, Y10\n\tVSUBPS Y9, Y8, Y11\n")
	store(0, 6)
	store(1, 10)
	store(2, 11)
	store(5, 7)
	b.WriteString("\tVSUBPS Y2, Y4, Y8\n\tVSUBPS Y1, Y3, Y9\n\tVMULPS Y14, Y9, Y9\n")
	b.WriteString("\tVADDPS Y9, Y8, Y10\n\tVSUBPS Y9, Y8, Y11\n")
	store(3, 10)
	store(4, 11)
}

// outputRows applies A^T to m0..m5 in Y0..Y5, calling store(k, reg) for
// output k:
//
//	y0 = m0 + (m1 + m2) + (m3 + m4)   y1 = (m1 - m2) + 2(m3 - m4)
//	y2 = (m1 + m2) + 4(m3 + m4)       y3 = (m1 - m2) + 8(m3 - m4) + m5
func outputRows(b *strings.Builder, store func(k, reg int)) {
	b.WriteString("\tVADDPS Y2, Y1, Y6\n\tVSUBPS Y2, Y1, Y7\n\tVADDPS Y4, Y3, Y8\n\tVSUBPS Y4, Y3, Y9\n")
	b.WriteString("\tVADDPS Y6, Y0, Y10\n\tVADDPS Y8, Y10, Y10\n")
	b.WriteString("\tVMOVAPS Y7, Y11\n\tVFMADD231PS Y12, Y9, Y11\n")
	b.WriteString("\tVMOVAPS Y6, Y1\n\tVFMADD231PS Y13, Y8, Y1\n")
	b.WriteString("\tVADDPS Y5, Y7, Y2\n\tVFMADD231PS Y14, Y9, Y2\n")
	store(0, 10)
	store(1, 11)
	store(2, 1)
	store(3, 2)
}

// planeAddr returns the address of plane k (0..5) from R9, given DX =
// one plane, R11 = 3 planes and R12 = 5 planes (bytes).
func planeAddr(k int) string {
	return [...]string{"(R9)", "(R9)(DX*1)", "(R9)(DX*2)", "(R9)(R11*1)", "(R9)(DX*4)", "(R9)(R12*1)"}[k]
}

const planeRegs = "\tLEAQ (DX)(DX*2), R11\n\tLEAQ (DX)(DX*4), R12\n\tLEAQ (R11)(R11*1), R13\n"

func genInput(b *strings.Builder) {
	b.WriteString(`// func winoInputAVX2(x *float32, offs *int32, c int, v *float32, planeStride int)
//
// For every group of 8 channels (c a multiple of 8): d[i][j] = the vector at
// x + offs[6i+j] (floats), V = B^T d B, V[i][j] stored at
// v + (6i+j)*planeStride. Columns first, into a 36-vector frame, then rows.
TEXT ·winoInputAVX2(SB), 0, $1152-40
	MOVQ x+0(FP), SI
	MOVQ offs+8(FP), R8
	MOVQ c+16(FP), CX
	SHRQ $3, CX
	MOVQ v+24(FP), DI
	MOVQ planeStride+32(FP), DX
	SHLQ $2, DX
`)
	b.WriteString(planeRegs)
	broadcast(b, four, 12)
	broadcast(b, five, 13)
	broadcast(b, two, 14)
	b.WriteString("\tTESTQ CX, CX\n\tJEQ winoInput_done\nwinoInput_loop:\n")
	for j := 0; j < 6; j++ {
		for i := 0; i < 6; i++ {
			fmt.Fprintf(b, "\tMOVLQSX %d(R8), AX\n\tVMOVUPS (SI)(AX*4), Y%d\n", (6*i+j)*4, i)
		}
		inputRows(b, func(k, reg int) {
			fmt.Fprintf(b, "\tVMOVUPS Y%d, %d(SP)\n", reg, (6*k+j)*32)
		})
	}
	b.WriteString("\tMOVQ DI, R9\n")
	for i := 0; i < 6; i++ {
		for j := 0; j < 6; j++ {
			fmt.Fprintf(b, "\tVMOVUPS %d(SP), Y%d\n", (6*i+j)*32, j)
		}
		inputRows(b, func(k, reg int) {
			fmt.Fprintf(b, "\tVMOVUPS Y%d, %s\n", reg, planeAddr(k))
		})
		b.WriteString("\tADDQ R13, R9\n")
	}
	b.WriteString("\tADDQ $32, SI\n\tADDQ $32, DI\n\tDECQ CX\n\tJNZ winoInput_loop\nwinoInput_done:\n\tVZEROUPPER\n\tRET\n\n")
}

func genOutput(b *strings.Builder) {
	b.WriteString(`// func winoOutputAVX2(m *float32, planeStride int, c int, y *float32, offs *int32)
//
// For every group of 8 channels (c a multiple of 8): M[i][j] = the vector at
// m + (6i+j)*planeStride, Y = A^T M A, Y[k][l] stored at y + offs[4k+l]
// (floats). Rows first, into a frame, then columns.
TEXT ·winoOutputAVX2(SB), 0, $768-40
	MOVQ m+0(FP), SI
	MOVQ planeStride+8(FP), DX
	SHLQ $2, DX
	MOVQ c+16(FP), CX
	SHRQ $3, CX
	MOVQ y+24(FP), DI
	MOVQ offs+32(FP), R8
`)
	b.WriteString(planeRegs)
	broadcast(b, two, 12)
	broadcast(b, four, 13)
	broadcast(b, eight, 14)
	b.WriteString("\tTESTQ CX, CX\n\tJEQ winoOutput_done\nwinoOutput_loop:\n\tMOVQ SI, R9\n")
	for i := 0; i < 6; i++ {
		for j := 0; j < 6; j++ {
			fmt.Fprintf(b, "\tVMOVUPS %s, Y%d\n", planeAddr(j), j)
		}
		outputRows(b, func(l, reg int) {
			fmt.Fprintf(b, "\tVMOVUPS Y%d, %d(SP)\n", reg, (6*l+i)*32)
		})
		b.WriteString("\tADDQ R13, R9\n")
	}
	for l := 0; l < 4; l++ {
		for i := 0; i < 6; i++ {
			fmt.Fprintf(b, "\tVMOVUPS %d(SP), Y%d\n", (6*l+i)*32, i)
		}
		outputRows(b, func(k, reg int) {
			fmt.Fprintf(b, "\tMOVLQSX %d(R8), AX\n\tVMOVUPS Y%d, (DI)(AX*4)\n", (4*k+l)*4, reg)
		})
	}
	b.WriteString("\tADDQ $32, SI\n\tADDQ $32, DI\n\tDECQ CX\n\tJNZ winoOutput_loop\nwinoOutput_done:\n\tVZEROUPPER\n\tRET\n")
}

func main() {
	var b strings.Builder
	b.WriteString("// Code generated by gen_winograd.go; DO NOT EDIT.\n\n//go:build amd64 && !purego\n\n#include \"textflag.h\"\n\n")
	genInput(&b)
	genOutput(&b)
	if err := os.WriteFile("winograd_amd64.s", []byte(b.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

//go:build ignore

// gen_winograd writes winograd_amd64.s: the input and output transforms of
// Winograd's F(4x4, 3x3), and the transform of output gradients, on vectors
// of channels, in AVX2 (8 lanes) and
// AVX-512 (16 lanes) versions of the same code.
// Run with `go generate ./backend/native/internal/asm`.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/resgo/resgo/backend/native/internal/asm/evex"
)

// isa is one instruction set's vectors.
type isa struct {
	name  string // suffix of the function names
	reg   string // "Y" or "Z"
	lanes int
	shift int // log2(lanes)
}

func (s isa) bytes() int { return 4 * s.lanes }

// gen holds the output and the instruction set being written.
type gen struct {
	b strings.Builder
	s isa
	// bf16 makes toPlanes store its planes as bfloat16 (AVX-512 only):
	// each vector rounded by VCVTNEPS2BF16 (emitted as bytes) into Y15.
	bf16 bool
}

// op writes one instruction; in its text (after formatting, so %%n in the
// format) %n names vector register n.
func (g *gen) op(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	var out strings.Builder
	for i := 0; i < len(line); i++ {
		if line[i] == '%' && i+1 < len(line) && line[i+1] >= '0' && line[i+1] <= '9' {
			j := i + 1
			for j < len(line) && line[j] >= '0' && line[j] <= '9' {
				j++
			}
			out.WriteString(g.s.reg + line[i+1:j])
			i = j - 1
			continue
		}
		out.WriteByte(line[i])
	}
	g.b.WriteString("\t" + out.String() + "\n")
}

const (
	two   = 0x40000000
	four  = 0x40800000
	five  = 0x40a00000
	eight = 0x41000000
)

func (g *gen) broadcast(bits uint32, reg int) {
	g.op("MOVL $0x%08x, AX", bits)
	g.op("VMOVD AX, X%d", reg)
	g.op("VBROADCASTSS X%d, %%%d", reg, reg)
}

// inputRows applies B^T to d0..d5 in registers 0..5, with 4, 5 and 2 in
// registers 12, 13 and 14, calling store(k, reg) for output k:
//
//	o0 = 4d0 - 5d2 + d4          o1 = (d4 - 4d2) + (d3 - 4d1)
//	o2 = (d4 - 4d2) - (d3 - 4d1) o3 = (d4 - d2) + 2(d3 - d1)
//	o4 = (d4 - d2) - 2(d3 - d1)  o5 = 4d1 - 5d3 + d5
func (g *gen) inputRows(store func(k, reg int)) {
	g.op("VMOVAPS %%4, %%6")
	g.op("VFMADD231PS %%12, %%0, %%6")
	g.op("VFNMADD231PS %%13, %%2, %%6")
	g.op("VMOVAPS %%5, %%7")
	g.op("VFMADD231PS %%12, %%1, %%7")
	g.op("VFNMADD231PS %%13, %%3, %%7")
	g.op("VMOVAPS %%4, %%8")
	g.op("VFNMADD231PS %%12, %%2, %%8")
	g.op("VMOVAPS %%3, %%9")
	g.op("VFNMADD231PS %%12, %%1, %%9")
	g.op("VADDPS %%9, %%8, %%10")
	g.op("VSUBPS %%9, %%8, %%11")
	store(0, 6)
	store(1, 10)
	store(2, 11)
	store(5, 7)
	g.op("VSUBPS %%2, %%4, %%8")
	g.op("VSUBPS %%1, %%3, %%9")
	g.op("VMULPS %%14, %%9, %%9")
	g.op("VADDPS %%9, %%8, %%10")
	g.op("VSUBPS %%9, %%8, %%11")
	store(3, 10)
	store(4, 11)
}

// outputRows applies A^T to m0..m5 in registers 0..5, with 2, 4 and 8 in
// registers 12, 13 and 14, calling store(k, reg) for output k:
//
//	y0 = m0 + (m1 + m2) + (m3 + m4)   y1 = (m1 - m2) + 2(m3 - m4)
//	y2 = (m1 + m2) + 4(m3 + m4)       y3 = (m1 - m2) + 8(m3 - m4) + m5
func (g *gen) outputRows(store func(k, reg int)) {
	g.op("VADDPS %%2, %%1, %%6")
	g.op("VSUBPS %%2, %%1, %%7")
	g.op("VADDPS %%4, %%3, %%8")
	g.op("VSUBPS %%4, %%3, %%9")
	g.op("VADDPS %%6, %%0, %%10")
	g.op("VADDPS %%8, %%10, %%10")
	g.op("VMOVAPS %%7, %%11")
	g.op("VFMADD231PS %%12, %%9, %%11")
	g.op("VMOVAPS %%6, %%1")
	g.op("VFMADD231PS %%13, %%8, %%1")
	g.op("VADDPS %%5, %%7, %%2")
	g.op("VFMADD231PS %%14, %%9, %%2")
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

func (g *gen) planeRegs() {
	g.op("LEAQ (DX)(DX*2), R11")
	g.op("LEAQ (DX)(DX*4), R12")
	g.op("LEAQ (R11)(R11*1), R13")
}

// toPlanes writes a transform from a side x side patch of vectors, read
// through a table of offsets, to 36 planes: the 1D transform rows (side
// inputs in registers 0.., six outputs) down the columns into a frame,
// then along the frame's rows into planes 6i+k.
func (g *gen) toPlanes(name, src, doc string, side int, consts [3]uint32, rows func(store func(k, reg int))) {
	s, vb := g.s, g.s.bytes()
	vType, outBytes, strideShift := "float32", vb, 2
	if g.bf16 {
		vType, outBytes, strideShift = "uint16", vb/2, 1
		doc += "\n// Stored as bfloat16, rounded to nearest even (planeStride in elements)."
	}
	fmt.Fprintf(&g.b, `// func %s(%s *float32, offs *int32, c int, v *%s, planeStride int)
//
// For every group of %d channels (c a multiple of %d): %s
TEXT ·%s(SB), 0, $%d-40
	MOVQ %s+0(FP), SI
	MOVQ offs+8(FP), R8
	MOVQ c+16(FP), CX
	SHRQ $%d, CX
	MOVQ v+24(FP), DI
	MOVQ planeStride+32(FP), DX
	SHLQ $%d, DX
`, name, src, vType, s.lanes, s.lanes, doc, name, 6*side*vb, src, s.shift, strideShift)
	g.planeRegs()
	for i, c := range consts {
		g.broadcast(c, 12+i)
	}
	fmt.Fprintf(&g.b, "\tTESTQ CX, CX\n\tJEQ %s_done\n%s_loop:\n", name, name)
	for j := 0; j < side; j++ {
		for i := 0; i < side; i++ {
			g.op("MOVLQSX %d(R8), AX", (side*i+j)*4)
			g.op("VMOVUPS (SI)(AX*4), %%%d", i)
		}
		rows(func(k, reg int) { g.op("VMOVUPS %%%d, %d(SP)", reg, (side*k+j)*vb) })
	}
	g.op("MOVQ DI, R9")
	for i := 0; i < 6; i++ {
		for j := 0; j < side; j++ {
			g.op("VMOVUPS %d(SP), %%%d", (side*i+j)*vb, j)
		}
		rows(func(k, reg int) {
			if g.bf16 {
				g.b.WriteString(evex.Go(evex.R2(evex.VCVTNEPS2BF16, 15, evex.Z(reg)), evex.IntelR2(evex.VCVTNEPS2BF16, 15, evex.Z(reg))) + "\n")
				g.op("VMOVDQU Y15, %s", planeAddr(k))
				return
			}
			g.op("VMOVUPS %%%d, %s", reg, planeAddr(k))
		})
		g.op("ADDQ R13, R9")
	}
	g.op("ADDQ $%d, SI", vb)
	g.op("ADDQ $%d, DI", outBytes)
	fmt.Fprintf(&g.b, "\tDECQ CX\n\tJNZ %s_loop\n%s_done:\n\tVZEROUPPER\n\tRET\n\n", name, name)
}

func (g *gen) input() {
	name := "WinoInput" + g.s.name
	if g.bf16 {
		name = "WinoInputBF16" + g.s.name
	}
	g.toPlanes(name, "x", `d[i][j] = the vector
// at x + offs[6i+j] (floats), V = B^T d B, V[i][j] stored at
// v + (6i+j)*planeStride. Columns first, into a 36-vector frame, then rows.`,
		6, [3]uint32{four, five, two}, g.inputRows)
}

func (g *gen) output() {
	s, vb := g.s, g.s.bytes()
	name := "WinoOutput" + s.name
	fmt.Fprintf(&g.b, `// func %s(m *float32, planeStride, c int, y *float32, offs *int32, bias *float32, floor float32)
//
// For every group of %d channels (c a multiple of %d): M[i][j] = the vector
// at m + (6i+j)*planeStride, Y = max(A^T M A + bias, floor), Y[k][l] stored
// at y + offs[4k+l] (floats). Rows first, into a frame, then columns; the
// frame's slot 24 holds floor.
TEXT ·%s(SB), 0, $%d-52
	MOVQ m+0(FP), SI
	MOVQ planeStride+8(FP), DX
	SHLQ $2, DX
	MOVQ c+16(FP), CX
	SHRQ $%d, CX
	MOVQ y+24(FP), DI
	MOVQ offs+32(FP), R8
	MOVQ bias+40(FP), BX
`, name, s.lanes, s.lanes, name, 25*vb, s.shift)
	g.op("VBROADCASTSS floor+48(FP), %%15")
	g.op("VMOVUPS %%15, %d(SP)", 24*vb)
	g.planeRegs()
	g.broadcast(two, 12)
	g.broadcast(four, 13)
	g.broadcast(eight, 14)
	fmt.Fprintf(&g.b, "\tTESTQ CX, CX\n\tJEQ %s_done\n%s_loop:\n", name, name)
	g.op("MOVQ SI, R9")
	for i := 0; i < 6; i++ {
		for j := 0; j < 6; j++ {
			g.op("VMOVUPS %s, %%%d", planeAddr(j), j)
		}
		g.outputRows(func(l, reg int) { g.op("VMOVUPS %%%d, %d(SP)", reg, (6*l+i)*vb) })
		g.op("ADDQ R13, R9")
	}
	g.op("VMOVUPS (BX), %%15")
	for l := 0; l < 4; l++ {
		for i := 0; i < 6; i++ {
			g.op("VMOVUPS %d(SP), %%%d", (6*l+i)*vb, i)
		}
		g.outputRows(func(k, reg int) {
			g.op("VADDPS %%15, %%%d, %%%d", reg, reg)
			g.op("VMAXPS %d(SP), %%%d, %%%d", 24*vb, reg, reg)
			g.op("MOVLQSX %d(R8), AX", (4*k+l)*4)
			g.op("VMOVUPS %%%d, (DI)(AX*4)", reg)
		})
	}
	g.op("ADDQ $%d, SI", vb)
	g.op("ADDQ $%d, DI", vb)
	g.op("ADDQ $%d, BX", vb)
	fmt.Fprintf(&g.b, "\tDECQ CX\n\tJNZ %s_loop\n%s_done:\n\tVZEROUPPER\n\tRET\n\n", name, name)
}

// gradRows applies A (6x4) to y0..y3 in registers 0..3, with 2, 4 and 8 in
// registers 12, 13 and 14, calling store(k, reg) for output k:
//
//	m0 = y0                        m5 = y3
//	m1 = (y0 + y2) + (y1 + y3)     m2 = (y0 + y2) - (y1 + y3)
//	m3 = (y0 + 4y2) + (2y1 + 8y3)  m4 = (y0 + 4y2) - (2y1 + 8y3)
func (g *gen) gradRows(store func(k, reg int)) {
	g.op("VADDPS %%2, %%0, %%6")
	g.op("VADDPS %%3, %%1, %%7")
	g.op("VADDPS %%7, %%6, %%8")
	g.op("VSUBPS %%7, %%6, %%9")
	g.op("VMOVAPS %%0, %%10")
	g.op("VFMADD231PS %%13, %%2, %%10")
	g.op("VMULPS %%12, %%1, %%11")
	g.op("VFMADD231PS %%14, %%3, %%11")
	g.op("VADDPS %%11, %%10, %%6")
	g.op("VSUBPS %%11, %%10, %%7")
	store(0, 0)
	store(1, 8)
	store(2, 9)
	store(3, 6)
	store(4, 7)
	store(5, 3)
}

// grad writes the transform of output gradients for backward-filter: the
// adjoint of the output transform, A dY A^T, 4x4 to 6x6.
func (g *gen) grad() {
	g.toPlanes("WinoGrad"+g.s.name, "dy", `d[k][l] = the vector
// at dy + offs[4k+l] (floats), V = A d A^T, V[i][j] stored at
// v + (6i+j)*planeStride. Columns first, into a frame, then rows.`,
		4, [3]uint32{two, four, eight}, g.gradRows)
}

func main() {
	g := &gen{}
	g.b.WriteString("// Code generated by gen_winograd.go; DO NOT EDIT.\n\n//go:build amd64 && !purego\n\n#include \"textflag.h\"\n\n")
	for _, s := range []isa{{"AVX2", "Y", 8, 3}, {"AVX512", "Z", 16, 4}} {
		g.s = s
		g.input()
		g.output()
		g.grad()
	}
	// The input transform storing bfloat16 (AVX512-BF16).
	g.bf16 = true
	g.input()
	if err := os.WriteFile("winograd_amd64.s", []byte(g.b.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

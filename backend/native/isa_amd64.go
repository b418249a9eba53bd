//go:build amd64 && !purego

package native

import (
	"fmt"
	"math"

	"golang.org/x/sys/cpu"

	"github.com/resgo/resgo/backend/native/internal/asm"
)

// vectorKernels returns the kernel set of isa, or nil when this CPU (and
// operating system) lacks its instructions.
func vectorKernels(isa ISA) *kernels {
	switch {
	case isa == AVX512 && cpu.X86.HasAVX512F:
		return &avx512Kernels
	case isa == AVX2 && cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return &avx2Kernels
	}
	return nil
}

var avx512Kernels = kernels{isa: AVX512, mr: 12, nr: 32,
	fn: asm.Kernel12x32AVX512, set: asm.Kernel12x32AVX512Set,
	strided: asm.Kernel12x32AVX512Strided, stridedAdd: asm.Kernel12x32AVX512StridedAdd,
	tileRows: 12, tileCols: 32, tile: asm.Tile12x32AVX512, tileHalf: asm.Tile6x32AVX512Half, bf16: avx512BF16(),
	u8s8: avx512U8S8(), u8s8Bytes: avx512U8S8Bytes(), u8s8Native: cpu.X86.HasAVX512VNNI,
	quantizeU8: quantizeU8AVX512, quantizeQuads: quantizeQuadsAVX512,
	transpose8x8: transpose8x8AVX, transpose8x8Steps: transpose8x8StepsAVX, transposeEdge: transposeEdgeAVX,
	biasReLU: biasReLUAVX, add: addAVX, addReLU: addReLUAVX, reluGrad: reluGradAVX, maxPairs: maxPairsAVX, update: updateAVX,
	winoInput: winoInputVector(16), winoOutput: winoOutputVector(16), winoGrad: winoGradVector(16)}

var avx2Kernels = kernels{isa: AVX2, mr: 6, nr: 16,
	fn: asm.Kernel6x16AVX2, set: asm.Kernel6x16AVX2Set,
	strided: asm.Kernel6x16AVX2Strided, stridedAdd: asm.Kernel6x16AVX2StridedAdd,
	tileRows: 6, tileCols: 16, tile: asm.Tile6x16AVX2, bf16: bf16GoKernels(6, 16, 6, 16), u8s8: tileU8S8GoFunc(6, 16), u8s8Bytes: tileU8S8BytesGoFunc(6, 16),
	quantizeU8: quantizeU8Go, quantizeQuads: quantizeQuadsGo,
	transpose8x8: transpose8x8AVX, transpose8x8Steps: transpose8x8StepsAVX, transposeEdge: transposeEdgeAVX,
	biasReLU: biasReLUAVX, add: addAVX, addReLU: addReLUAVX, reluGrad: reluGradAVX, maxPairs: maxPairsAVX, update: updateAVX,
	winoInput: winoInputVector(8), winoOutput: winoOutputVector(8), winoGrad: winoGradVector(8)}

// avx512BF16 returns the bfloat16 kernels of the AVX-512 set: the
// AVX512-BF16 instructions where the CPU has them, else the Go loops.
func avx512BF16() *bf16Kernels {
	if !cpu.X86.HasAVX512BF16 {
		return bf16GoKernels(12, 32, 12, 32)
	}
	return &bf16Kernels{native: true, tile: asm.TileBF16x12x32AVX512, tileHalf: asm.TileBF16x6x32AVX512Half,
		strided: asm.DotBF16Kernel12x32AVX512Strided, stridedAdd: asm.DotBF16Kernel12x32AVX512StridedAdd,
		pairRows: pairRowsAVX512, round: roundBF16AVX512, winoInput: winoInputBF16AVX512, winoInputLanes: 16}
}

// avx512U8S8 returns the int8 tile kernel of the AVX-512 set: VPDPBUSD
// where the CPU has AVX512-VNNI, else the Go loop.
func avx512U8S8() tileU8S8Func {
	if !cpu.X86.HasAVX512VNNI {
		return tileU8S8GoFunc(12, 32)
	}
	return asm.TileU8S8x12x32AVX512
}

// avx512U8S8Bytes is avx512U8S8 for the kernel storing bytes.
func avx512U8S8Bytes() tileU8S8BytesFunc {
	if !cpu.X86.HasAVX512VNNI {
		return tileU8S8BytesGoFunc(12, 32)
	}
	return asm.TileU8S8x12x32AVX512Bytes
}

// winoInputBF16AVX512 is the AVX-512 input transform storing bfloat16;
// c must be a multiple of 16.
func winoInputBF16AVX512(x []float32, offs *[36]int32, c int, v []uint16, planeStride int) {
	if c == 0 || c%16 != 0 {
		panic(fmt.Sprintf("native: bf16 input transform of %d channels (want a multiple of 16)", c))
	}
	_ = v[35*planeStride+c-1] // bounds, checked here so the assembly cannot write past v
	for _, o := range offs {
		_ = x[int(o)+c-1]
	}
	asm.WinoInputBF16AVX512(&x[0], &offs[0], c, &v[0], planeStride)
}

// pairRowsAVX512 is pairRowsGo for rows of 32 pairs, in AVX512-BF16.
func pairRowsAVX512(rows int, lo, hi []float32, ld int, dst []uint32, ldd int) {
	if rows <= 0 {
		return
	}
	_, _, _ = lo[(rows-1)*ld+31], hi[(rows-1)*ld+31], dst[(rows-1)*ldd+31]
	asm.PairRowsBF16AVX512(rows, &lo[0], &hi[0], ld, &dst[0], ldd)
}

// roundBF16AVX512 is f32ToBF16Go in AVX512-BF16, 32 values a round, the
// tail in Go.
func roundBF16AVX512(dst []uint16, src []float32) {
	n := len(src) &^ 31
	if n > 0 {
		_ = dst[len(src)-1]
		asm.F32ToBF16AVX512(n, &src[0], &dst[0])
	}
	f32ToBF16Go(dst[n:], src[n:])
}

// transpose8x8AVX is transpose8x8Go in AVX.
func transpose8x8AVX(src []float32, srcStride int, dst []float32, dstStride, blocks int) {
	if blocks <= 0 {
		return
	}
	// The last element each side touches, so that a bad call panics here
	// instead of writing out of bounds.
	_ = src[7*srcStride+8*blocks-1]
	_ = dst[(8*blocks-1)*dstStride+7]
	asm.Transpose8x8AVX(&src[0], srcStride, 8, &dst[0], dstStride, 8*dstStride, blocks)
}

// transpose8x8StepsAVX is transpose8x8StepsGo in AVX (steps and strides
// not negative).
func transpose8x8StepsAVX(src []float32, srcStride, srcStep int, dst []float32, dstStride, dstStep, blocks int) {
	if blocks <= 0 {
		return
	}
	_ = src[(blocks-1)*srcStep+7*srcStride+7]
	_ = dst[(blocks-1)*dstStep+7*dstStride+7]
	asm.Transpose8x8AVX(&src[0], srcStride, srcStep, &dst[0], dstStride, dstStep, blocks)
}

// transposeEdgeAVX is transposeEdgeGo in AVX.
func transposeEdgeAVX(src []float32, srcStride int, dst []float32, dstStride, rows, cols int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	if rows > 8 || cols > 8 {
		panic(fmt.Sprintf("native: edge transpose of %dx%d (at most 8x8)", rows, cols))
	}
	_ = src[(rows-1)*srcStride+cols-1]
	_ = dst[(cols-1)*dstStride+rows-1]
	asm.TransposeEdgeAVX(&src[0], srcStride, &dst[0], dstStride, rows, cols)
}

// biasReLUAVX is biasReLUGo with AVX on whole vectors, the tail in Go.
func biasReLUAVX(x []float32, bias float32, relu bool) {
	n := 0
	if len(x) >= 8 {
		n = len(x) &^ 7
		asm.BiasReLUAVX(&x[0], n, bias, relu)
	}
	biasReLUGo(x[n:], bias, relu)
}

// addAVX is addGo with AVX on whole vectors, the tail in Go.
func addAVX(dst, src []float32) {
	src = src[:len(dst)]
	n := len(dst) &^ 7
	if n > 0 {
		asm.AddAVX(&dst[0], &src[0], n)
	}
	addGo(dst[n:], src[n:])
}

// updateAVX is updateGo with AVX on whole vectors, the tail in Go.
func updateAVX(w, g, v, e []float32, c [4]float32) {
	g = g[:len(w)]
	n := len(w) &^ 7
	if n > 0 {
		var vp, ep *float32
		if v != nil {
			vp = &v[:len(w)][0]
		}
		if e != nil {
			ep = &e[:len(w)][0]
		}
		asm.UpdateAVX(&w[0], &g[0], vp, ep, n, &c)
	}
	if v != nil {
		v = v[n:]
	}
	if e != nil {
		e = e[n:]
	}
	updateGo(w[n:], g[n:], v, e, c)
}

// addReLUAVX is addReLUGo with AVX on whole vectors, the tail in Go.
func addReLUAVX(dst, a, b []float32, relu bool) {
	b = b[:len(dst)]
	n := len(dst) &^ 7
	if n > 0 {
		var ap *float32
		if a != nil {
			a = a[:len(dst)]
			ap = &a[0]
		}
		asm.AddReLUAVX(&dst[0], ap, &b[0], n, relu)
	}
	if a != nil {
		a = a[n:]
	}
	addReLUGo(dst[n:], a, b[n:], relu)
}

// reluGradAVX is reluGradGo with AVX2 on whole vectors, the tail in Go.
func reluGradAVX(y, dy, dx []float32) {
	dy, dx = dy[:len(y)], dx[:len(y)]
	n := len(y) &^ 7
	if n > 0 {
		asm.ReLUGradAVX(&y[0], &dy[0], &dx[0], n)
	}
	reluGradGo(y[n:], dy[n:], dx[n:])
}

// maxPairsAVX is maxPairsGo with AVX2 on whole vectors.
func maxPairsAVX(r0, r1, out []float32) {
	if len(out) < 8 {
		maxPairsGo(r0, r1, out)
		return
	}
	n := len(out)
	_, _ = r0[2*n-1], r1[2*n-1]
	asm.MaxPairsAVX(&r0[0], &r1[0], &out[0], n&^7)
	if n%8 != 0 { // the last 8 again, overlapping: same values
		asm.MaxPairsAVX(&r0[2*n-16], &r1[2*n-16], &out[n-8], 8)
	}
}

// vectorLanes is the vector width for c channels on a kernel set of
// widest lanes: lanes, or 8 where c is not a multiple of 16, or 0 (Go)
// where it is not one of 8.
func vectorLanes(widest, c int) int {
	lanes := widest
	if lanes == 16 && c%16 != 0 {
		lanes = 8
	}
	if c == 0 || c%lanes != 0 {
		return 0
	}
	return lanes
}

// winoInputVector returns winoInputGo in vectors of up to widest lanes
// where c allows.
func winoInputVector(widest int) func(x []float32, offs *[36]int32, c int, v []float32, planeStride int) {
	return func(x []float32, offs *[36]int32, c int, v []float32, planeStride int) {
		lanes := vectorLanes(widest, c)
		if lanes == 0 {
			winoInputGo(x, offs, c, v, planeStride)
			return
		}
		_ = v[35*planeStride+c-1] // bounds, checked here so the assembly cannot write past v
		for _, o := range offs {
			_ = x[int(o)+c-1]
		}
		if lanes == 16 {
			asm.WinoInputAVX512(&x[0], &offs[0], c, &v[0], planeStride)
			return
		}
		asm.WinoInputAVX2(&x[0], &offs[0], c, &v[0], planeStride)
	}
}

// winoGradVector returns winoGradGo in vectors of up to widest lanes.
func winoGradVector(widest int) func(dy []float32, offs *[16]int32, c int, v []float32, planeStride int) {
	return func(dy []float32, offs *[16]int32, c int, v []float32, planeStride int) {
		lanes := vectorLanes(widest, c)
		if lanes == 0 {
			winoGradGo(dy, offs, c, v, planeStride)
			return
		}
		_ = v[35*planeStride+c-1]
		for _, o := range offs {
			_ = dy[int(o)+c-1]
		}
		if lanes == 16 {
			asm.WinoGradAVX512(&dy[0], &offs[0], c, &v[0], planeStride)
			return
		}
		asm.WinoGradAVX2(&dy[0], &offs[0], c, &v[0], planeStride)
	}
}

// winoOutputVector returns winoOutputGo in vectors of up to widest lanes.
// bias is nil or has c values.
func winoOutputVector(widest int) func(m []float32, planeStride, c int, y []float32, offs *[16]int32, bias []float32, relu bool) {
	return func(m []float32, planeStride, c int, y []float32, offs *[16]int32, bias []float32, relu bool) {
		lanes := vectorLanes(widest, c)
		if lanes == 0 || (bias == nil && len(zeroBias) < c) {
			winoOutputGo(m, planeStride, c, y, offs, bias, relu)
			return
		}
		_ = m[35*planeStride+c-1]
		for _, o := range offs {
			_ = y[int(o)+c-1]
		}
		if bias == nil {
			bias = zeroBias
		}
		_ = bias[c-1]
		floor := float32(math.Inf(-1))
		if relu {
			floor = 0
		}
		if lanes == 16 {
			asm.WinoOutputAVX512(&m[0], planeStride, c, &y[0], &offs[0], &bias[0], floor)
			return
		}
		asm.WinoOutputAVX2(&m[0], planeStride, c, &y[0], &offs[0], &bias[0], floor)
	}
}

// zeroBias stands in for a missing bias (up to this many channels).
var zeroBias = make([]float32, 4096)

// peakProbe returns the FMA loop of the widest instruction set, and the
// FLOPs of one iteration (12 FMAs of a full vector, 2 FLOPs per lane).
func peakProbe() (func(int), float64, string) {
	switch {
	case cpu.X86.HasAVX512F:
		return asm.PeakLoopAVX512, 12 * 16 * 2, "avx512"
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return asm.PeakLoopAVX2, 12 * 8 * 2, "avx2"
	}
	return peakLoopGo, 8 * 2, "scalar"
}

// quantizeU8AVX512 is quantizeU8Go, 64 values at a time in assembly.
func quantizeU8AVX512(src []float32, dst []uint8, inv float32, zero uint8) {
	dst = dst[:len(src)]
	n := len(src) &^ 63
	if n > 0 {
		asm.QuantizeU8AVX512(n, &src[0], &dst[0], inv, int32(zero))
	}
	quantizeU8Go(src[n:], dst[n:], inv, zero)
}

// quantizeQuadsAVX512 is quantizeQuadsGo in assembly.
func quantizeQuadsAVX512(n int, src []float32, plane int, dst []uint32, inv float32, zero uint8) {
	if n == 0 {
		return
	}
	_, _ = src[3*plane+n-1], dst[n-1] // bounds, checked here for the assembly
	asm.QuantizeQuadsAVX512(n, &src[0], plane, &dst[0], inv, int32(zero))
}

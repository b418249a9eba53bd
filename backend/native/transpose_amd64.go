//go:build amd64 && !purego

package native

import "golang.org/x/sys/cpu"

//go:noescape
func transpose8x8AVX(src *float32, srcStride int, dst *float32, dstStride int, blocks int)

// transpose8x8 is transpose8x8Go with AVX when the CPU has it (and the
// kernels are not forced to the portable ones).
var transpose8x8 = func() func(src []float32, srcStride int, dst []float32, dstStride, blocks int) {
	if !hasAVX {
		return transpose8x8Go
	}
	return func(src []float32, srcStride int, dst []float32, dstStride, blocks int) {
		if blocks <= 0 {
			return
		}
		// The last element each side touches, so that a bad call panics
		// here instead of writing out of bounds.
		_ = src[7*srcStride+8*blocks-1]
		_ = dst[(8*blocks-1)*dstStride+7]
		transpose8x8AVX(&src[0], srcStride, &dst[0], dstStride, blocks)
	}
}()

//go:noescape
func biasReLUAVX(x *float32, n int, bias float32, relu bool)

// biasReLU adds bias to every element of x, then applies the ReLU when
// relu: with AVX on whole vectors, the tail (and other CPUs) in Go.
func biasReLU(x []float32, bias float32, relu bool) {
	n := 0
	if hasAVX && len(x) >= 8 {
		n = len(x) &^ 7
		biasReLUAVX(&x[0], n, bias, relu)
	}
	biasReLUGo(x[n:], bias, relu)
}

//go:noescape
func maxPairsAVX(r0, r1, out *float32, n int)

// maxPairs sets out[i] to the largest of r0[2i], r0[2i+1], r1[2i] and
// r1[2i+1]: with AVX2 on whole vectors, the tail (and other CPUs) in Go.
func maxPairs(r0, r1, out []float32) {
	if !hasAVX2 || len(out) < 8 {
		maxPairsGo(r0, r1, out)
		return
	}
	n := len(out)
	_, _ = r0[2*n-1], r1[2*n-1]
	maxPairsAVX(&r0[0], &r1[0], &out[0], n&^7)
	if n%8 != 0 { // the last 8 again, overlapping: same values
		maxPairsAVX(&r0[2*n-16], &r1[2*n-16], &out[n-8], 8)
	}
}

var hasAVX = cpu.X86.HasAVX && kern.name != "generic"

// hasAVX2 also allows VPERMPD.
var hasAVX2 = cpu.X86.HasAVX2 && kern.name != "generic"

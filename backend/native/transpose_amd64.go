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

var hasAVX = cpu.X86.HasAVX && kern.name != "generic"

package native

import "math"

// bfloat16 is float32's top half: the same exponent range, 8 bits of
// significand. These are the plain versions of the AVX512-BF16 kernels
// (internal/asm's F32ToBF16AVX512 and DotBF16Kernel*), which the tests
// compare bit for bit, and the fallback on CPUs without the instructions.

// bf16FromF32 rounds f as VCVTNE2PS2BF16 does: to nearest, ties to even;
// denormals become zero of their sign (the instruction treats them as
// zero); NaNs stay NaN, made quiet.
func bf16FromF32(f float32) uint16 {
	u := math.Float32bits(f)
	switch {
	case u&0x7f800000 == 0: // zero or denormal
		return uint16(u>>16) & 0x8000
	case u&0x7fffffff > 0x7f800000: // NaN
		return uint16(u>>16) | 0x40
	}
	return uint16((u + 0x7fff + (u>>16)&1) >> 16)
}

// f32FromBF16 widens h exactly.
func f32FromBF16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// f32ToBF16Go rounds src into dst (as long as src).
func f32ToBF16Go(dst []uint16, src []float32) {
	for i, f := range src {
		dst[i] = bf16FromF32(f)
	}
}

// dotBF16Go is the bf16 micro-kernel's loop: C[mr x nr] (+)= A * B over
// kp pairs of k, A packed as kp groups of mr words (two bfloat16 of one
// row, k even in the low half), B as kp groups of nr words (two of one
// column). Each product of two bfloat16 is exact in float32, and the sums
// are rounded in the order VDPBF16PS makes them: the odd k, then the even.
func dotBF16Go(kp, mr, nr int, a, b []uint32, c []float32, ldc int, set bool) {
	for r := 0; r < mr; r++ {
		for j := 0; j < nr; j++ {
			var s float32
			for p := 0; p < kp; p++ {
				av, bv := a[p*mr+r], b[p*nr+j]
				s += f32FromBF16(uint16(av>>16)) * f32FromBF16(uint16(bv>>16))
				s += f32FromBF16(uint16(av)) * f32FromBF16(uint16(bv))
			}
			if set {
				c[r*ldc+j] = s
			} else {
				c[r*ldc+j] += s
			}
		}
	}
}

package native

import "testing"

// TestTranspose8x8 checks the selected 8x8 transpose (AVX on amd64) against
// the portable one, with strides that are not multiples of 8.
func TestTranspose8x8(t *testing.T) {
	const srcStride, dstStride, blocks = 43, 21, 5
	src := make([]float32, 7*srcStride+8*blocks)
	for i := range src {
		src[i] = float32(i)
	}
	got := make([]float32, (8*blocks-1)*dstStride+8)
	want := make([]float32, len(got))
	transpose8x8(src, srcStride, got, dstStride, blocks)
	transpose8x8Go(src, srcStride, want, dstStride, blocks)
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("element %d = %v, want %v", i, got[i], want[i])
		}
	}
	for b := 0; b < blocks; b++ {
		for i := 0; i < 8; i++ {
			for j := 0; j < 8; j++ {
				if v, w := want[(8*b+j)*dstStride+i], src[i*srcStride+8*b+j]; v != w {
					t.Fatalf("block %d (%d, %d) = %v, want %v", b, i, j, v, w)
				}
			}
		}
	}
}

package native

import "testing"

// TestTranspose8x8 checks each instruction set's 8x8 transpose against
// the portable one, with strides that are not multiples of 8.
func TestTranspose8x8(t *testing.T) { forEachISA(t, testTranspose8x8) }

func testTranspose8x8(t *testing.T, k *kernels) {
	const srcStride, dstStride, blocks = 43, 21, 5
	src := make([]float32, 7*srcStride+8*blocks)
	for i := range src {
		src[i] = float32(i)
	}
	got := make([]float32, (8*blocks-1)*dstStride+8)
	want := make([]float32, len(got))
	k.transpose8x8(src, srcStride, got, dstStride, blocks)
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

// TestBiasReLU checks each instruction set's bias-and-ReLU loop against the portable
// one on lengths around the vector width, with and without the ReLU.
func TestBiasReLU(t *testing.T) { forEachISA(t, testBiasReLU) }

func testBiasReLU(t *testing.T, k *kernels) {
	for _, n := range []int{0, 3, 8, 13, 64, 67} {
		for _, relu := range []bool{false, true} {
			got, want := make([]float32, n), make([]float32, n)
			for i := range got {
				got[i] = float32(i%7) - 3.25
				want[i] = got[i]
			}
			k.biasReLU(got, 0.5, relu)
			biasReLUGo(want, 0.5, relu)
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("n %d relu %v: element %d = %v, want %v", n, relu, i, got[i], want[i])
				}
			}
			if relu && n > 0 && want[0] != 0 {
				t.Fatalf("ReLU kept %v", want[0])
			}
		}
	}
}

// TestAdd checks each instruction set's dst += src loop against the
// exact sums (integers and halves, so float32 adds them exactly) on
// lengths around the vector widths and the four-vector rounds, with dst
// and src in distinct slices; past len(dst) nothing may change.
func TestAdd(t *testing.T) { forEachISA(t, testAdd) }

func testAdd(t *testing.T, k *kernels) {
	for _, n := range []int{0, 3, 8, 13, 32, 40, 64, 67, 133} {
		dst, src := make([]float32, n+5), make([]float32, n+5)
		for i := range dst {
			dst[i], src[i] = float32(i%11)-4.5, float32(3*i%7)+0.5
		}
		k.add(dst[:n], src)
		for i := range dst {
			want := float32(i%11) - 4.5
			if i < n {
				want += float32(3*i%7) + 0.5
			}
			if dst[i] != want {
				t.Fatalf("n %d: element %d = %v, want %v", n, i, dst[i], want)
			}
		}
	}
}

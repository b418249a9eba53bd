package native

import (
	"math"
	"testing"
)

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

// TestTranspose8x8Steps checks each instruction set's stepped 8x8
// transposes: blocks stacked down the source into blocks side by side
// (the layout changes), and blocks a weight row apart into blocks a packed
// row apart (the backward-data pack), in slices that end at the last
// element touched, every other element of dst left as it was.
func TestTranspose8x8Steps(t *testing.T) { forEachISA(t, testTranspose8x8Steps) }

func testTranspose8x8Steps(t *testing.T, k *kernels) {
	for _, c := range []struct{ srcStride, srcStep, dstStride, dstStep, blocks int }{
		{11, 88, 45, 8, 4},    // down the source, along dst
		{9, 4608, 32, 288, 5}, // a pack: 9 taps a weight column, 512 channels, 32 columns
		{8, 64, 8, 64, 1},
	} {
		src := make([]float32, (c.blocks-1)*c.srcStep+7*c.srcStride+8)
		for i := range src {
			src[i] = float32(i)
		}
		got := make([]float32, (c.blocks-1)*c.dstStep+7*c.dstStride+8)
		want := make([]float32, len(got))
		for i := range got {
			got[i], want[i] = -1, -1
		}
		for b := 0; b < c.blocks; b++ {
			for i := 0; i < 8; i++ {
				for j := 0; j < 8; j++ {
					want[b*c.dstStep+j*c.dstStride+i] = src[b*c.srcStep+i*c.srcStride+j]
				}
			}
		}
		k.transpose8x8Steps(src, c.srcStride, c.srcStep, got, c.dstStride, c.dstStep, c.blocks)
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%+v: dst[%d] = %v, want %v", c, i, got[i], want[i])
			}
		}
	}
}

// TestTransposeEdge checks each instruction set's edge transpose on every
// block shape up to 8x8, in slices that end where the block does (so that
// a read or write past it panics, or faults) and with sentinels around it.
func TestTransposeEdge(t *testing.T) { forEachISA(t, testTransposeEdge) }

func testTransposeEdge(t *testing.T, k *kernels) {
	const srcStride, dstStride = 13, 10
	for rows := 1; rows <= 8; rows++ {
		for cols := 1; cols <= 8; cols++ {
			src := make([]float32, (rows-1)*srcStride+cols)
			for i := range src {
				src[i] = float32(i + 1)
			}
			dst := make([]float32, 8*dstStride)
			for i := range dst {
				dst[i] = -1
			}
			k.transposeEdge(src, srcStride, dst[:(cols-1)*dstStride+rows], dstStride, rows, cols)
			for j := 0; j < 8; j++ {
				for i := range dstStride {
					want := float32(-1)
					if i < rows && j < cols {
						want = src[i*srcStride+j]
					}
					if got := dst[j*dstStride+i]; got != want {
						t.Fatalf("%dx%d: dst (%d, %d) = %v, want %v", rows, cols, j, i, got, want)
					}
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

// TestReLUGrad checks each instruction set's ReLU gradient against the
// rule itself (dy where y > 0, else +0) on lengths around the vector
// widths and the four-vector rounds, with y taking -0, +0, the smallest
// subnormals, infinities and NaNs of both signs; past len(y) nothing may
// change.
func TestReLUGrad(t *testing.T) { forEachISA(t, testReLUGrad) }

func testReLUGrad(t *testing.T, k *kernels) {
	special := []float32{0, float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), math.Float32frombits(0xffc00000), 1.5, -2.5}
	for _, n := range []int{0, 3, 8, 13, 32, 40, 64, 67, 133} {
		y, dy, dx := make([]float32, n+5), make([]float32, n+5), make([]float32, n+5)
		for i := range y {
			y[i], dy[i], dx[i] = special[(i*7)%len(special)], float32(i)+0.25, -7
		}
		k.reluGrad(y[:n], dy[:n], dx[:n])
		for i := range dx {
			want := float32(-7)
			if i < n {
				want = 0
				if bits := math.Float32bits(y[i]); int32(bits) > 0 {
					want = dy[i]
				}
			}
			if math.Float32bits(dx[i]) != math.Float32bits(want) {
				t.Fatalf("n %d: element %d (y %v) = %v, want %v", n, i, y[i], dx[i], want)
			}
		}
	}
}

// TestAddReLU checks each instruction set's residual merge against the
// portable loop bit for bit, on lengths around the vector width, with the
// values where max's rules show: -0 (to +0), NaN (kept), infinities.
func TestAddReLU(t *testing.T) { forEachISA(t, testAddReLU) }

func testAddReLU(t *testing.T, k *kernels) {
	negZero := float32(math.Copysign(0, -1))
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	special := []float32{negZero, 0, nan, -inf, inf, -1.5, 2.25, 1e-40, -1e-40}
	for _, n := range []int{0, 5, 8, 19, 64, 71} {
		a, b := make([]float32, n), make([]float32, n)
		for i := range a {
			a[i] = special[i%len(special)]
			b[i] = special[(i/len(special)+i)%len(special)]
		}
		for _, relu := range []bool{false, true} {
			for _, withA := range []bool{false, true} {
				src := a
				if !withA {
					src = nil
				}
				got, want := make([]float32, n), make([]float32, n)
				k.addReLU(got, src, b, relu)
				addReLUGo(want, src, b, relu)
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
						t.Fatalf("n %d relu %v a %v: element %d = %v (%#x), want %v (%#x)", n, relu, withA, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
					}
				}
			}
		}
	}
}

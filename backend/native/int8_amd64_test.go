//go:build amd64 && !purego

package native

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"golang.org/x/sys/cpu"

	"github.com/resgo/resgo/backend/native/internal/asm"
)

func needVNNI(t testing.TB) {
	t.Helper()
	if !cpu.X86.HasAVX512VNNI {
		t.Skip("SKIP: this CPU has no AVX512-VNNI; the int8 kernels are not run (their Go versions are tested)")
	}
}

// TestTileU8S8Kernel: the VPDPBUSD tile kernel equals tileU8S8Go exactly
// on random bytes (every value of both signs, the extremes included), a
// random table of rows (zero rows among them) and quad counts, with a
// random epilogue (zero points' shares, scales, biases; ReLU or not),
// storing float32 and storing the next convolution's bytes.
func TestTileU8S8Kernel(t *testing.T) {
	needVNNI(t)
	const mr, nr, ldc = 12, 32, 40
	r := rand.New(rand.NewPCG(19, 20))
	for _, kq := range []int{1, 3, 16, 40} {
		for _, taps := range []int{1, 9} {
			kc, inRows := 4*kq, 30
			x := make([]uint8, (inRows+1)*kc)
			for i := range x[:inRows*kc] {
				x[i] = uint8(r.Uint32())
			}
			x[0], x[1] = 255, 255
			w := make([]uint32, taps*kq*nr)
			for i := range w {
				w[i] = r.Uint32()
			}
			w[0] = 0x80808080 // -128 four times
			var tbl []int32
			for tap := 0; tap < taps; tap++ {
				for range mr {
					tbl = append(tbl, int32(r.IntN(inRows+1)*kc+kc))
				}
				tbl = append(tbl, int32(r.IntN(taps)))
			}
			zw := make([]int32, taps*nr)
			scale, bias := make([]float32, nr), make([]float32, nr)
			for j := range nr {
				scale[j], bias[j] = float32(r.Float64()*1e-4), float32(r.NormFloat64())
				for tap := range taps {
					zw[tap*nr+j] = int32(r.IntN(1 << 20))
				}
			}
			for _, relu := range []bool{false, true} {
				got, want := make([]float32, mr*ldc), make([]float32, mr*ldc)
				asm.TileU8S8x12x32AVX512(&tbl[0], taps, kq, &x[0], &w[0], &got[0], ldc, nr, kq*nr, &zw[0], &scale[0], &bias[0], relu)
				tileU8S8Go(mr, nr, &tbl[0], taps, kq, &x[0], &w[0], &want[0], ldc, nr, kq*nr, &zw[0], &scale[0], &bias[0], relu)
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("kq %d, taps %d, relu %v: element %d = %v, tileU8S8Go gives %v", kq, taps, relu, i, got[i], want[i])
					}
				}
				// The same stored as the next convolution's bytes.
				for _, zero := range []int32{0, 77} {
					for _, inv := range []float32{1.7, 0.01} { // most bytes clamped, most not
						gotB, wantB := make([]uint8, mr*ldc), make([]uint8, mr*ldc)
						asm.TileU8S8x12x32AVX512Bytes(&tbl[0], taps, kq, &x[0], &w[0], &gotB[0], ldc, nr, kq*nr, &zw[0], &scale[0], &bias[0], relu, inv, zero)
						tileU8S8BytesGo(mr, nr, &tbl[0], taps, kq, &x[0], &w[0], &wantB[0], ldc, nr, kq*nr, &zw[0], &scale[0], &bias[0], relu, inv, zero)
						if !slices.Equal(gotB, wantB) {
							t.Fatalf("kq %d, taps %d, relu %v, zero %d, inv %v: the kernel storing bytes differs from tileU8S8BytesGo", kq, taps, relu, zero, inv)
						}
					}
				}
			}
		}
	}
}

// TestInt8Conversions: the AVX-512 quantization (of a row, and of four
// planes into words) equals its Go versions bit for bit, on random values
// with ties, the clamps' edges, NaN, infinities and values past int32
// among them, lengths from 0 to 200 (the assembly's rounds, its masked
// tail and the Go tails).
func TestInt8Conversions(t *testing.T) {
	if !cpu.X86.HasAVX512F || !cpu.X86.HasAVX512BW {
		t.Skip("SKIP: this CPU has no AVX-512; the int8 conversions' Go versions are tested through the backend")
	}
	r := rand.New(rand.NewPCG(23, 24))
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	special := []float32{nan, inf, -inf, 3e9, -3e9, 2.5, -2.5, 0.5, 127.5, 255.5, 1e-30, 0}
	for n := 0; n <= 200; n++ {
		src := make([]float32, n)
		for i := range src {
			src[i] = float32(r.NormFloat64() * 150)
			if r.IntN(8) == 0 {
				src[i] = float32(math.Round(float64(src[i]))) + 0.5
			}
			if r.IntN(16) == 0 {
				src[i] = special[r.IntN(len(special))]
			}
		}
		for _, zero := range []uint8{0, 1, 128, 255} {
			got, want := make([]uint8, n), make([]uint8, n)
			quantizeU8AVX512(src, got, 1.25, zero)
			quantizeU8Go(src, want, 1.25, zero)
			if !slices.Equal(got, want) {
				t.Fatalf("n %d, zero %d: QuantizeU8AVX512 differs from quantizeU8Go", n, zero)
			}
		}
	}
	for _, n := range []int{1, 15, 16, 17, 49, 196} {
		const plane = 200
		src := make([]float32, 4*plane)
		for i := range src {
			src[i] = float32(r.NormFloat64() * 150)
			if r.IntN(16) == 0 {
				src[i] = special[r.IntN(len(special))]
			}
		}
		for _, zero := range []uint8{0, 128, 255} {
			got, want := make([]uint32, n), make([]uint32, n)
			quantizeQuadsAVX512(n, src, plane, got, 0.8, zero)
			quantizeQuadsGo(n, src, plane, want, 0.8, zero)
			if !slices.Equal(got, want) {
				t.Fatalf("n %d, zero %d: QuantizeQuadsAVX512 differs from quantizeQuadsGo", n, zero)
			}
		}
	}
}

// BenchmarkPeakVNNI: the core's rate of byte multiply-adds with 12
// independent VPDPBUSD chains, in GOP/s (2 per multiply-add), to set
// against BenchmarkPeakLoops' FMA and VDPBF16PS figures.
func BenchmarkPeakVNNI(b *testing.B) {
	needVNNI(b)
	const iters = 1 << 16
	for range b.N {
		asm.PeakLoopVNNIAVX512(iters)
	}
	b.ReportMetric(float64(b.N)*iters*12*64*2/b.Elapsed().Seconds()/1e9, "GOP/s")
}

// BenchmarkTileU8S8: the VPDPBUSD tile kernel alone, its operands in
// cache (nine taps, kq quads of channels), in GOP/s: against
// BenchmarkPeakVNNI, what the kernel leaves of the instruction's peak.
func BenchmarkTileU8S8(b *testing.B) {
	needVNNI(b)
	const mr, nr = 12, 32
	for _, kq := range []int{8, 16, 32, 128} {
		b.Run(fmt.Sprintf("kq=%d", kq), func(b *testing.B) {
			taps, kc, inRows := 9, 4*kq, 64
			x := make([]uint8, (inRows+1)*kc)
			w := make([]uint32, taps*kq*nr)
			var tbl []int32
			for tap := 0; tap < taps; tap++ {
				for i := range mr {
					tbl = append(tbl, int32((i+tap)%inRows*kc+kc))
				}
				tbl = append(tbl, int32(tap))
			}
			c := make([]float32, mr*nr)
			zw, scale, bias := make([]int32, taps*nr), make([]float32, nr), make([]float32, nr)
			for range b.N {
				asm.TileU8S8x12x32AVX512(&tbl[0], taps, kq, &x[0], &w[0], &c[0], nr, nr, kq*nr, &zw[0], &scale[0], &bias[0], true)
			}
			ops := float64(b.N) * float64(mr*nr*taps*kc) * 2
			b.ReportMetric(ops/b.Elapsed().Seconds()/1e9, "GOP/s")
		})
	}
}

//go:build amd64 && !purego

package native

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"golang.org/x/sys/cpu"

	"github.com/resgo/resgo/backend/native/internal/asm"
)

func needBF16(t *testing.T) {
	t.Helper()
	if !cpu.X86.HasAVX512BF16 {
		t.Skip("SKIP: this CPU has no AVX512-BF16; the bf16 kernels are not run (their Go versions are tested)")
	}
}

// TestF32ToBF16Kernel: the assembly rounds like bf16FromF32, bit for bit,
// on random bit patterns (every class: normal, denormal, zero, infinite,
// NaN) and on the edges of rounding (ties, the largest finite float).
func TestF32ToBF16Kernel(t *testing.T) {
	needBF16(t)
	r := rand.New(rand.NewPCG(7, 8))
	var src []float32
	for range 1 << 16 {
		src = append(src, math.Float32frombits(r.Uint32()))
	}
	for _, u := range []uint32{0, 0x80000000, 0x00000001, 0x807fffff, 0x00800000, 0x3f808000, 0x3f818000, 0x3f808001, 0x3f807fff,
		0x7f7fffff, 0xff7fffff, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffffffff, 0x7fff8000, 0x477fe000} {
		src = append(src, math.Float32frombits(u))
	}
	for len(src)%32 != 0 {
		src = append(src, r.Float32())
	}
	got, want := make([]uint16, len(src)), make([]uint16, len(src))
	asm.F32ToBF16AVX512(len(src), &src[0], &got[0])
	f32ToBF16Go(want, src)
	for i := range src {
		if got[i] != want[i] {
			t.Fatalf("%#08x: VCVTNE2PS2BF16 gives %#04x, bf16FromF32 %#04x", math.Float32bits(src[i]), got[i], want[i])
		}
	}
}

// TestDotBF16Kernel: the VDPBF16PS micro-kernel equals dotBF16Go bit for
// bit (adding to C and overwriting it), for pair counts from 0 to 70, on
// bfloat16 values of every sign and a wide range of magnitudes.
func TestDotBF16Kernel(t *testing.T) {
	needBF16(t)
	const mr, nr, ldc = 12, 32, 37
	r := rand.New(rand.NewPCG(11, 12))
	word := func() uint32 {
		lo := bf16FromF32(float32(r.NormFloat64() * math.Pow(2, float64(r.IntN(16)-8))))
		hi := bf16FromF32(float32(r.NormFloat64() * math.Pow(2, float64(r.IntN(16)-8))))
		return uint32(hi)<<16 | uint32(lo)
	}
	for _, kp := range []int{0, 1, 2, 7, 64, 70} {
		a, b := make([]uint32, kp*mr), make([]uint32, kp*nr)
		for i := range a {
			a[i] = word()
		}
		for i := range b {
			b[i] = word()
		}
		c0 := make([]float32, mr*ldc)
		for i := range c0 {
			c0[i] = float32(r.NormFloat64())
		}
		for _, set := range []bool{false, true} {
			got, want := slices.Clone(c0), slices.Clone(c0)
			if set {
				asm.DotBF16Kernel12x32AVX512Set(kp, sliceOrNil(a), sliceOrNil(b), &got[0], ldc)
			} else {
				asm.DotBF16Kernel12x32AVX512(kp, sliceOrNil(a), sliceOrNil(b), &got[0], ldc)
			}
			dotBF16Go(kp, mr, nr, a, b, want, ldc, set)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("kp %d, set %v: C[%d][%d] = %g, want %g", kp, set, i/ldc, i%ldc, got[i], want[i])
				}
			}
		}
	}
}

// TestPairRowsKernel: PairRowsBF16AVX512 equals pairRowsGo bit for bit.
func TestPairRowsKernel(t *testing.T) {
	needBF16(t)
	r := rand.New(rand.NewPCG(13, 14))
	const rows, ld = 5, 70
	lo, hi := make([]float32, (rows-1)*ld+32), make([]float32, (rows-1)*ld+32)
	for i := range lo {
		lo[i], hi[i] = math.Float32frombits(r.Uint32()), float32(r.NormFloat64())
	}
	const ldd = 40
	got, want := make([]uint32, rows*ldd), make([]uint32, rows*ldd)
	pairRowsAVX512(rows, lo, hi, ld, got, ldd)
	pairRowsGo(rows, 32, lo, hi, ld, want, ldd)
	if !slices.Equal(got, want) {
		t.Fatalf("PairRowsBF16AVX512 differs from pairRowsGo:\n%x\n%x", got, want)
	}
}

// TestTileBF16Kernel: the AVX512-BF16 tile kernels (full and half height)
// equal tileBF16Go bit for bit on a random table of rows (zero rows
// among them), taps and pair counts, with both weight layouts' strides.
func TestTileBF16Kernel(t *testing.T) {
	needBF16(t)
	const mr, nr, ldc = 12, 32, 40
	r := rand.New(rand.NewPCG(15, 16))
	for _, kp := range []int{1, 3, 16, 37} {
		for _, taps := range []int{1, 2, 9} {
			kc, inRows := 2*kp, 30
			x := make([]uint16, (inRows+1)*kc)
			for i := range x[:inRows*kc] {
				x[i] = bf16FromF32(float32(r.NormFloat64()))
			}
			w := make([]uint32, taps*kp*nr)
			for i := range w {
				w[i] = uint32(bf16FromF32(float32(r.NormFloat64())))<<16 | uint32(bf16FromF32(float32(r.NormFloat64())))
			}
			var tbl []int32
			for tap := 0; tap < taps; tap++ {
				for range mr {
					tbl = append(tbl, int32(r.IntN(inRows+1)*kc+kc))
				}
				tbl = append(tbl, int32(r.IntN(taps)))
			}
			for _, half := range []bool{false, true} {
				kern, rows := asm.TileBF16x12x32AVX512, mr
				if half {
					kern, rows = asm.TileBF16x6x32AVX512Half, mr/2
				}
				got, want := make([]float32, mr*ldc), make([]float32, mr*ldc)
				// Tap-major strides (ldb nr, tapStride kp*nr).
				kern(&tbl[0], taps, kp, &x[0], &w[0], &got[0], ldc, nr, kp*nr)
				tileBF16Go(mr, nr, &tbl[0], taps, kp, &x[0], &w[0], &want[0], ldc, nr, kp*nr)
				for i := 0; i < rows*ldc; i++ {
					if i%ldc < nr && math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("kp %d, taps %d, half %v: C[%d][%d] = %g, want %g", kp, taps, half, i/ldc, i%ldc, got[i], want[i])
					}
				}
			}
		}
	}
}

// TestStridedBF16Kernels: the strided VDPBF16PS micro-kernels equal
// stridedBF16Go bit for bit (overwriting C and adding to it).
func TestStridedBF16Kernels(t *testing.T) {
	needBF16(t)
	const mr, nr, ldc, lda, ldb = 12, 32, 35, 17, 41
	r := rand.New(rand.NewPCG(17, 18))
	for _, kp := range []int{1, 5, 33} {
		a, b := make([]uint32, (kp-1)*lda+mr), make([]uint32, (kp-1)*ldb+nr)
		word := func() uint32 {
			return uint32(bf16FromF32(float32(r.NormFloat64())))<<16 | uint32(bf16FromF32(float32(r.NormFloat64())))
		}
		for i := range a {
			a[i] = word()
		}
		for i := range b {
			b[i] = word()
		}
		c0 := make([]float32, mr*ldc)
		for i := range c0 {
			c0[i] = float32(r.NormFloat64())
		}
		for _, set := range []bool{false, true} {
			got, want := slices.Clone(c0), slices.Clone(c0)
			if set {
				asm.DotBF16Kernel12x32AVX512Strided(kp, &a[0], &b[0], &got[0], ldc, lda, ldb)
			} else {
				asm.DotBF16Kernel12x32AVX512StridedAdd(kp, &a[0], &b[0], &got[0], ldc, lda, ldb)
			}
			stridedBF16Go(mr, nr, kp, &a[0], &b[0], &want[0], ldc, lda, ldb, set)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("kp %d, set %v: C[%d][%d] = %g, want %g", kp, set, i/ldc, i%ldc, got[i], want[i])
				}
			}
		}
	}
}

// TestWinoInputBF16Kernel: the input transform storing bfloat16 equals
// the float32 transform rounded by bf16FromF32, bit for bit, padding
// (zero) rows included.
func TestWinoInputBF16Kernel(t *testing.T) {
	needBF16(t)
	const c, planeStride, rows = 48, 61, 7
	r := rand.New(rand.NewPCG(21, 22))
	x := make([]float32, rows*c+c) // the last row is the zero row
	for i := range x[:rows*c] {
		x[i] = float32(r.NormFloat64() * math.Pow(2, float64(r.IntN(20)-10)))
	}
	var offs [36]int32
	for i := range offs {
		offs[i] = int32(r.IntN(rows+1) * c)
	}
	f := make([]float32, 36*planeStride+c)
	got, want := make([]uint16, len(f)), make([]uint16, len(f))
	winoInputBF16AVX512(x, &offs, c, got, planeStride)
	avx512Kernels.winoInput(x, &offs, c, f, planeStride)
	for xi := 0; xi < 36; xi++ {
		f32ToBF16Go(want[xi*planeStride:xi*planeStride+c], f[xi*planeStride:xi*planeStride+c])
	}
	if !slices.Equal(got, want) {
		t.Fatal("WinoInputBF16AVX512 differs from the float32 transform rounded")
	}
}

func sliceOrNil(s []uint32) *uint32 {
	if len(s) == 0 {
		return nil
	}
	return &s[0]
}

// BenchmarkMicroKernels compares the float32 FMA micro-kernel with the
// bf16 one on the same C tile and K (kc floats against kc/2 pairs): the
// multiply-adds per second each sustains from L1, reported as GFLOP/s (2
// FLOPs per multiply-add).
func BenchmarkMicroKernels(b *testing.B) {
	const mr, nr, kc = 12, 32, 256
	c := make([]float32, mr*nr)
	b.Run("f32-fma", func(b *testing.B) {
		a, w := make([]float32, kc*mr), make([]float32, kc*nr)
		for range b.N {
			asm.Kernel12x32AVX512Set(kc, &a[0], &w[0], &c[0], nr)
		}
		b.ReportMetric(float64(b.N)*2*mr*nr*kc/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
	b.Run("bf16-dpbf16ps", func(b *testing.B) {
		if !cpu.X86.HasAVX512BF16 {
			b.Skip("no AVX512-BF16")
		}
		a, w := make([]uint32, kc/2*mr), make([]uint32, kc/2*nr)
		for range b.N {
			asm.DotBF16Kernel12x32AVX512Set(kc/2, &a[0], &w[0], &c[0], nr)
		}
		b.ReportMetric(float64(b.N)*2*mr*nr*kc/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
}

// BenchmarkPeakLoops: the core's multiply-add rate with 12 independent
// chains of 16-lane FMAs against 12 of VDPBF16PS (32 multiply-adds each),
// in GFLOP/s: the ceiling each micro-kernel is measured against.
func BenchmarkPeakLoops(b *testing.B) {
	const iters = 1 << 16
	b.Run("f32-fma", func(b *testing.B) {
		for range b.N {
			asm.PeakLoopAVX512(iters)
		}
		b.ReportMetric(float64(b.N)*iters*12*16*2/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
	b.Run("bf16-dpbf16ps", func(b *testing.B) {
		if !cpu.X86.HasAVX512BF16 {
			b.Skip("no AVX512-BF16")
		}
		for range b.N {
			asm.PeakLoopBF16AVX512(iters)
		}
		b.ReportMetric(float64(b.N)*iters*12*32*2/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
}

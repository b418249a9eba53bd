//go:build amd64 && !purego

package native

import (
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
// random table of rows (zero rows among them) and quad counts.
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
			got, want := make([]int32, mr*ldc), make([]int32, mr*ldc)
			asm.TileU8S8x12x32AVX512(&tbl[0], taps, kq, &x[0], &w[0], &got[0], ldc, nr, kq*nr)
			tileU8S8Go(mr, nr, &tbl[0], taps, kq, &x[0], &w[0], &want[0], ldc, nr, kq*nr)
			if !slices.Equal(got, want) {
				t.Fatalf("kq %d, taps %d: VPDPBUSD tile differs from tileU8S8Go", kq, taps)
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

//go:build amd64 && !purego

package native

import (
	"os"

	"golang.org/x/sys/cpu"
)

//go:generate go run gen_kernels.go

//go:noescape
func kernel12x32AVX512(kc int, a, b, c *float32, ldc int)

//go:noescape
func kernel6x16AVX2(kc int, a, b, c *float32, ldc int)

//go:noescape
func kernel12x32AVX512Set(kc int, a, b, c *float32, ldc int)

//go:noescape
func kernel6x16AVX2Set(kc int, a, b, c *float32, ldc int)

//go:noescape
func kernel12x32AVX512StridedAdd(kc int, a, b, c *float32, ldc, lda, ldb int)

//go:noescape
func kernel6x16AVX2StridedAdd(kc int, a, b, c *float32, ldc, lda, ldb int)

//go:noescape
func kernel12x32AVX512Strided(kc int, a, b, c *float32, ldc, lda, ldb int)

//go:noescape
func kernel6x16AVX2Strided(kc int, a, b, c *float32, ldc, lda, ldb int)

//go:noescape
func tile12x32AVX512(tbl *int32, taps, kc int, x, w, c *float32, ldc, ldb, tapStride int)

//go:noescape
func tile6x32AVX512Half(tbl *int32, taps, kc int, x, w, c *float32, ldc, ldb, tapStride int)

//go:noescape
func tile6x16AVX2(tbl *int32, taps, kc int, x, w, c *float32, ldc, ldb, tapStride int)

// selectKernel picks the widest micro-kernel this CPU (and OS) supports.
func selectKernel() microKernel {
	if os.Getenv("RESGO_KERNEL") == "generic" {
		return genericKernel
	}
	if cpu.X86.HasAVX512F && os.Getenv("RESGO_KERNEL") != "avx2" {
		return microKernel{name: "avx512", mr: 12, nr: 32, fn: kernel12x32AVX512, set: kernel12x32AVX512Set, strided: kernel12x32AVX512Strided, stridedAdd: kernel12x32AVX512StridedAdd,
			tileRows: 12, tileCols: 32, tile: tile12x32AVX512, tileHalf: tile6x32AVX512Half}
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		return microKernel{name: "avx2", mr: 6, nr: 16, fn: kernel6x16AVX2, set: kernel6x16AVX2Set, strided: kernel6x16AVX2Strided, stridedAdd: kernel6x16AVX2StridedAdd,
			tileRows: 6, tileCols: 16, tile: tile6x16AVX2}
	}
	return genericKernel
}

//go:noescape
func peakLoopAVX512(n int)

//go:noescape
func peakLoopAVX2(n int)

// peakProbe returns the FMA loop of the widest instruction set, and the
// FLOPs of one iteration (12 FMAs of a full vector, 2 FLOPs per lane).
func peakProbe() (func(int), float64, string) {
	switch {
	case cpu.X86.HasAVX512F:
		return peakLoopAVX512, 12 * 16 * 2, "avx512"
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return peakLoopAVX2, 12 * 8 * 2, "avx2"
	}
	return peakLoopGo, 8 * 2, "scalar"
}

package native

import (
	"fmt"
	"strings"
)

// ISA names the instruction set a backend's kernels are written for.
type ISA string

// The instruction sets: AVX512 and AVX2 run the assembly kernels of
// internal/asm, Generic the portable Go loops (what every other CPU, and
// builds with -tags purego, run). The empty ISA means the widest this CPU
// has.
const (
	AVX512  ISA = "avx512"
	AVX2    ISA = "avx2"
	Generic ISA = "generic"
)

// ISAs returns the instruction sets this CPU (and build) can run, widest
// first.
func ISAs() []ISA {
	var out []ISA
	for _, isa := range []ISA{AVX512, AVX2} {
		if vectorKernels(isa) != nil {
			out = append(out, isa)
		}
	}
	return append(out, Generic)
}

// kernelsFor returns the kernel set of isa ("" for the widest available).
func kernelsFor(isa ISA) (*kernels, error) {
	if isa == "" {
		isa = ISAs()[0]
	}
	if isa == Generic {
		return &genericKernels, nil
	}
	if k := vectorKernels(isa); k != nil {
		return k, nil
	}
	names := make([]string, 0, 3)
	for _, a := range ISAs() {
		names = append(names, string(a))
	}
	switch isa {
	case AVX512, AVX2:
		return nil, fmt.Errorf("native: this CPU (or build) cannot run %s kernels (it can run: %s)", isa, strings.Join(names, ", "))
	}
	return nil, fmt.Errorf("native: unknown instruction set %q (this CPU can run: %s)", isa, strings.Join(names, ", "))
}

// kernels is one instruction set's inner loops: everything that differs
// between AVX-512, AVX2 and portable Go, chosen once per Backend.
type kernels struct {
	isa ISA
	// The GEMM micro-kernel computes C[mr x nr] += A*B over kc steps (fn),
	// or C = A*B (set), where A is packed as kc groups of mr values and B
	// as kc groups of nr values; ldc is C's row stride in elements.
	mr, nr  int
	fn, set func(kc int, a, b, c *float32, ldc int)
	// strided is set reading A and B unpacked: C[r][j] = sum over k < kc
	// of a[k*lda + r] * b[k*ldb + j] (lda, ldb in elements).
	// stridedAdd adds the same product to C.
	strided, stridedAdd func(kc int, a, b, c *float32, ldc, lda, ldb int)
	// tile is the direct-convolution kernel (see direct.go): tileRows x
	// tileCols outputs per call.
	tileRows, tileCols int
	tile               tileFunc
	// tileHalf, if not nil, computes only the first tileRows/2 rows of a
	// tile (same table): for a last tile at most half full.
	tileHalf tileFunc
	// bf16 is the bfloat16 versions of tile and of the conversions.
	bf16 *bf16Kernels
	// u8s8 is the int8 tile kernel: u8 x s8 quads into int32 (see
	// int8.go); native when it is the VNNI instruction, not Go.
	u8s8       tileU8S8Func
	u8s8Bytes  tileU8S8BytesFunc
	u8s8Native bool
	// quantizeU8 and quantizeQuads are the int8 path's conversions to
	// bytes (see int8.go's Go versions).
	quantizeU8    func(src []float32, dst []uint8, inv float32, zero uint8)
	quantizeQuads func(n int, src []float32, plane int, dst []uint32, inv float32, zero uint8)
	// Layout changes, write-back and pooling (see transpose.go, pool.go).
	transpose8x8      func(src []float32, srcStride int, dst []float32, dstStride, blocks int)
	transpose8x8Steps func(src []float32, srcStride, srcStep int, dst []float32, dstStride, dstStep, blocks int)
	transposeEdge     func(src []float32, srcStride int, dst []float32, dstStride, rows, cols int)
	biasReLU          func(x []float32, bias float32, relu bool)
	add               func(dst, src []float32) // dst[i] += src[i]
	addReLU           func(dst, a, b []float32, relu bool)
	reluGrad          func(y, dy, dx []float32) // dx[i] = dy[i] where y[i] > 0, else 0
	maxPairs          func(r0, r1, out []float32)
	// update is one optimizer step on a chunk of a parameter (see
	// updateGo): the training step's one pass over all the weights.
	update func(w, g, v, e []float32, c [4]float32)
	// Winograd's transforms (see winograd.go).
	winoInput  func(x []float32, offs *[36]int32, c int, v []float32, planeStride int)
	winoOutput func(m []float32, planeStride, c int, y []float32, offs *[16]int32, bias []float32, relu bool)
	winoGrad   func(dy []float32, offs *[16]int32, c int, v []float32, planeStride int)
}

// genericKernels are the portable ones: 4 x 4 GEMM accumulators kept in
// registers by the compiler, a 4 x 8 tile, scalar transforms.
var genericKernels = kernels{isa: Generic, mr: 4, nr: 4, fn: kernel4x4Go, set: kernel4x4GoSet,
	strided: kernel4x4GoStrided, stridedAdd: kernel4x4GoStridedAdd,
	tileRows: 4, tileCols: 8, tile: tile4x8Go, bf16: bf16GoKernels(4, 8, 4, 4), u8s8: tileU8S8GoFunc(4, 8), u8s8Bytes: tileU8S8BytesGoFunc(4, 8),
	quantizeU8: quantizeU8Go, quantizeQuads: quantizeQuadsGo,
	transpose8x8: transpose8x8Go, transpose8x8Steps: transpose8x8StepsGo, transposeEdge: transposeEdgeGo,
	biasReLU: biasReLUGo, add: addGo, addReLU: addReLUGo, reluGrad: reluGradGo, maxPairs: maxPairsGo, update: updateGo,
	winoInput: winoInputGo, winoOutput: winoOutputGo, winoGrad: winoGradGo}

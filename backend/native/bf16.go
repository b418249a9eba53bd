package native

import (
	"math"
	"unsafe"
)

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
	first := func(s []uint32) *uint32 {
		if len(s) == 0 {
			return nil
		}
		return &s[0]
	}
	_, _, _ = a[:kp*mr], b[:kp*nr], c[:(mr-1)*ldc+nr]
	stridedBF16Go(mr, nr, kp, first(a), first(b), &c[0], ldc, mr, nr, set)
}

// Precision is the number format of a convolution's products.
type Precision string

// The precisions: F32 multiplies float32 values; BF16 rounds both factors
// of every convolution product to bfloat16 (to nearest even) and sums the
// products in float32, as VDPBF16PS does. Weights, gradients, batch-norm
// statistics and everything outside the convolutions stay float32.
const (
	F32  Precision = "f32"
	BF16 Precision = "bf16"
)

// Precisions lists the precisions, the default first.
func Precisions() []Precision { return []Precision{F32, BF16} }

// tileBF16Func is tileFunc on bfloat16 operands: x rows of 2-byte elements
// (the table's offsets count elements, kp pairs past each row's start),
// the weights w as pairs of k (see pairRows), ldb and tapStride in words.
type tileBF16Func func(tbl *int32, taps, kp int, x *uint16, w *uint32, c *float32, ldc, ldb, tapStride int)

// bf16Kernels are a kernel set's bfloat16 loops: the AVX512-BF16
// assembly where the CPU has it, else Go loops that compute the same
// values bit for bit (each sum rounded in VDPBF16PS's order), only slower.
type bf16Kernels struct {
	// native reports whether these are the instructions, not Go.
	native bool
	// tile and tileHalf have the kernel set's tile size (tileHalf may be
	// nil: see kernels.tileHalf).
	tile, tileHalf tileBF16Func
	// pairRows writes rows rows of nr pairs: dst[i*ldd+j] holds
	// bf16(lo[i*ld+j]) in its low half and bf16(hi[i*ld+j]) in its high.
	pairRows func(rows int, lo, hi []float32, ld int, dst []uint32, ldd int)
	// strided and stridedAdd are kernels.strided and stridedAdd on pairs
	// (the micro-kernel's mr x nr): C[r][j] (+)= the sum over p < kp of the
	// pair products of a[p*lda+r] and b[p*ldb+j], strides in words.
	strided, stridedAdd func(kp int, a, b *uint32, c *float32, ldc, lda, ldb int)
	// round is f32ToBF16Go (dst as long as src).
	round func(dst []uint16, src []float32)
	// winoInput, if not nil, is kernels.winoInput storing bfloat16 (the
	// transform rounded as it is written), for c a multiple of
	// winoInputLanes.
	winoInput      func(x []float32, offs *[36]int32, c int, v []uint16, planeStride int)
	winoInputLanes int
}

// bf16GoKernels returns the Go bfloat16 loops for tiles of mr x nr and
// micro-kernels of kmr x knr.
func bf16GoKernels(mr, nr, kmr, knr int) *bf16Kernels {
	return &bf16Kernels{
		tile: func(tbl *int32, taps, kp int, x *uint16, w *uint32, c *float32, ldc, ldb, tapStride int) {
			tileBF16Go(mr, nr, tbl, taps, kp, x, w, c, ldc, ldb, tapStride)
		},
		pairRows: func(rows int, lo, hi []float32, ld int, dst []uint32, ldd int) {
			pairRowsGo(rows, nr, lo, hi, ld, dst, ldd)
		},
		strided: func(kp int, a, b *uint32, c *float32, ldc, lda, ldb int) {
			stridedBF16Go(kmr, knr, kp, a, b, c, ldc, lda, ldb, true)
		},
		stridedAdd: func(kp int, a, b *uint32, c *float32, ldc, lda, ldb int) {
			stridedBF16Go(kmr, knr, kp, a, b, c, ldc, lda, ldb, false)
		},
		round: f32ToBF16Go,
	}
}

// stridedBF16Go is the portable strided bf16 micro-kernel: dotBF16Go on
// unpacked A and B.
func stridedBF16Go(mr, nr, kp int, a, b *uint32, c *float32, ldc, lda, ldb int, set bool) {
	cs := unsafe.Slice(c, (mr-1)*ldc+nr)
	if kp <= 0 {
		if set {
			for r := 0; r < mr; r++ {
				clear(cs[r*ldc : r*ldc+nr])
			}
		}
		return
	}
	as := unsafe.Slice(a, (kp-1)*lda+mr)
	bs := unsafe.Slice(b, (kp-1)*ldb+nr)
	for r := 0; r < mr; r++ {
		for j := 0; j < nr; j++ {
			var s float32
			for p := 0; p < kp; p++ {
				av, bv := as[p*lda+r], bs[p*ldb+j]
				s += f32FromBF16(uint16(av>>16)) * f32FromBF16(uint16(bv>>16))
				s += f32FromBF16(uint16(av)) * f32FromBF16(uint16(bv))
			}
			if set {
				cs[r*ldc+j] = s
			} else {
				cs[r*ldc+j] += s
			}
		}
	}
}

// tileBF16Go is the portable bf16 tile kernel (tileBF16Func) for tiles of
// mr x nr: per output, the pairs of every tap in order, each pair's odd
// product added before its even one.
func tileBF16Go(mr, nr int, tbl *int32, taps, kp int, x *uint16, w *uint32, c *float32, ldc, ldb, tapStride int) {
	entries := unsafe.Slice(tbl, taps*(mr+1))
	cs := unsafe.Slice(c, (mr-1)*ldc+nr)
	var buf [12 * 32]float32 // the largest tile
	acc := buf[:mr*nr]
	for t := 0; t < taps; t++ {
		e := entries[t*(mr+1) : (t+1)*(mr+1)]
		bs := unsafe.Slice((*uint32)(unsafe.Add(unsafe.Pointer(w), 4*int(e[mr])*tapStride)), max(0, (kp-1)*ldb+nr))
		for r := 0; r < mr; r++ {
			xs := unsafe.Slice((*uint32)(unsafe.Add(unsafe.Pointer(x), 2*int(e[r])-4*kp)), kp)
			a := acc[r*nr : (r+1)*nr]
			for p, av := range xs {
				odd, even := f32FromBF16(uint16(av>>16)), f32FromBF16(uint16(av))
				for j, bv := range bs[p*ldb : p*ldb+nr] {
					a[j] += odd * f32FromBF16(uint16(bv>>16))
					a[j] += even * f32FromBF16(uint16(bv))
				}
			}
		}
	}
	for r := 0; r < mr; r++ {
		copy(cs[r*ldc:r*ldc+nr], acc[r*nr:(r+1)*nr])
	}
}

// pairRowsGo is the portable pairRows for rows of nr pairs.
func pairRowsGo(rows, nr int, lo, hi []float32, ld int, dst []uint32, ldd int) {
	for i := 0; i < rows; i++ {
		l, h, d := lo[i*ld:i*ld+nr], hi[i*ld:i*ld+nr], dst[i*ldd:i*ldd+nr]
		for j := range d {
			d[j] = uint32(bf16FromF32(l[j])) | uint32(bf16FromF32(h[j]))<<16
		}
	}
}

// asBF16 and asWords view a workspace's float32 buffer as the 2-byte
// elements (twice as many) or 32-bit words of the bf16 paths.
func asBF16(s []float32) []uint16 {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*uint16)(unsafe.Pointer(&s[0])), 2*len(s))
}

func asWords(s []float32) []uint32 {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*uint32)(unsafe.Pointer(&s[0])), len(s))
}

// roundBF16 returns src rounded to bfloat16, in the workspace.
func (be *Backend) roundBF16(ws *workspace, src []float32) []uint16 {
	dst := asBF16(ws.take((len(src) + 1) / 2))[:len(src)]
	const chunk = 1 << 14
	be.parallel((len(src)+chunk-1)/chunk, func(lo, hi int) {
		be.kern.bf16.round(dst[lo*chunk:min(hi*chunk, len(src))], src[lo*chunk:min(hi*chunk, len(src))])
	})
	return dst
}

// packTapsBF16 is packTaps (kc even) rounded to bfloat16 pairs along k
// for the bf16 tile kernel, into dst: the same layout with kc/2 rows of
// pairs (row 2p in each word's low half, 2p+1 in its high). Each worker
// packs a block into a float32 scratch of its own and pairs it while it
// is in cache: no float32 copy of the whole pack goes to memory.
func (be *Backend) packTapsBF16(ws *workspace, w []float32, o, c, taps int, transposed bool, layout weightLayout, dst []uint32) {
	nr := be.kern.tileCols
	kc, cols := c, o
	if transposed {
		kc, cols = o, c
	}
	blocks, size := (cols+nr-1)/nr, kc*taps*nr
	defer ws.release(ws.mark())
	scratch := ws.take(min(be.opts.Threads, blocks) * size)
	be.parallelWorkers(blocks, func(worker, lo, hi int) {
		blk := scratch[worker*size : (worker+1)*size]
		for j := lo; j < hi; j++ {
			be.packTapsBlock(w, o, c, taps, nr, transposed, layout, j, blk)
			be.pairBlock(blk, layout, kc, taps, dst[j*size/2:(j+1)*size/2])
		}
	})
}

// pairBlock rounds one block of packTaps' output (kc rows per tap, in
// layout) to bfloat16 pairs along k (see packTapsBF16).
func (be *Backend) pairBlock(src []float32, layout weightLayout, kc, taps int, dst []uint32) {
	nr, kp := be.kern.tileCols, kc/2
	pairRows := be.kern.bf16.pairRows
	if layout.tapMajor {
		// Per tap: kp pairs of consecutive rows.
		for t := 0; t < taps; t++ {
			base := src[t*kc*nr:]
			pairRows(kp, base, base[nr:], 2*nr, dst[t*kp*nr:], nr)
		}
		return
	}
	// Per pair: taps rows of k = 2p, against the same of 2p+1.
	for p := 0; p < kp; p++ {
		pairRows(taps, src[2*p*taps*nr:], src[(2*p+1)*taps*nr:], nr, dst[p*taps*nr:], nr)
	}
}

// pairPlane rounds rows rows of c floats (src, rows c apart) to bfloat16
// pairs of consecutive rows, dst[p*c+j] = the pair (src[2p*c+j],
// src[(2p+1)*c+j]); an odd count's last row is paired with zeros.
func (be *Backend) pairPlane(src []float32, rows, c int, dst []uint32) {
	nr, pairs := be.kern.tileCols, rows/2
	full := c / nr * nr
	for j := 0; j < full; j += nr {
		be.kern.bf16.pairRows(pairs, src[j:], src[c+j:], 2*c, dst[j:], c)
	}
	pair := func(lo, hi float32) uint32 { return uint32(bf16FromF32(lo)) | uint32(bf16FromF32(hi))<<16 }
	for p := 0; p < pairs; p++ {
		for j := full; j < c; j++ {
			dst[p*c+j] = pair(src[2*p*c+j], src[(2*p+1)*c+j])
		}
	}
	if rows%2 == 1 {
		for j := 0; j < c; j++ {
			dst[pairs*c+j] = pair(src[(rows-1)*c+j], 0)
		}
	}
}

package native

import (
	"sync"
	"unsafe"
)

// The cache blocking (BLIS's Kc, Mc, Nc): an Mc x Kc block of A stays in L2
// while Kc x Nr slivers of B stream through L1.
const (
	blockK = 256
	blockM = 144
	blockN = 2048
)

// matrix is a read-only view of a row-major matrix, optionally transposed:
// element (i, j) is data[i*stride+j], or data[j*stride+i] when trans.
type matrix struct {
	data   []float32
	stride int
	trans  bool
}

func (m matrix) at(i, j int) float32 {
	if m.trans {
		return m.data[j*m.stride+i]
	}
	return m.data[i*m.stride+j]
}

// sub returns the view starting at element (i, j).
func (m matrix) sub(i, j int) matrix {
	if m.trans {
		i, j = j, i
	}
	return matrix{data: m.data[i*m.stride+j:], stride: m.stride, trans: m.trans}
}

var packPool = sync.Pool{New: func() any { return new(packBuffers) }}

type packBuffers struct{ a, b, tile []float32 }

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// gemm computes C = A*B + beta*C for an m x k matrix A and a k x n matrix B
// into the m x n row-major C with row stride ldc, on kern's micro-kernel
// and up to threads goroutines. beta must be 0 or 1. Each element of C is summed in the same
// order whatever the thread count, so results are deterministic.
func gemm(kern *kernels, threads, m, n, k int, a, b matrix, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	// Split the larger dimension into per-thread stripes aligned to the
	// micro-tile so that no two threads write the same element.
	splitM := m >= n
	size, align := n, kern.nr
	if splitM {
		size, align = m, kern.mr
	}
	parts := min(threads, (size+align-1)/align)
	if parts <= 1 || m*n*k < 1<<16 {
		gemmSerial(kern, m, n, k, a, b, beta, c, ldc)
		return
	}
	chunk := ((size+parts-1)/parts + align - 1) / align * align
	var wg sync.WaitGroup
	for lo := 0; lo < size; lo += chunk {
		hi := min(lo+chunk, size)
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			if splitM {
				gemmSerial(kern, hi-lo, n, k, a.sub(lo, 0), b, beta, c[lo*ldc:], ldc)
			} else {
				gemmSerial(kern, m, hi-lo, k, a, b.sub(0, lo), beta, c[lo:], ldc)
			}
		}(lo, hi)
	}
	wg.Wait()
}

func gemmSerial(kern *kernels, m, n, k int, a, b matrix, beta float32, c []float32, ldc int) {
	if k == 0 {
		if beta == 0 {
			for i := 0; i < m; i++ {
				clear(c[i*ldc : i*ldc+n])
			}
		}
		return
	}
	mr, nr := kern.mr, kern.nr
	buf := packPool.Get().(*packBuffers)
	defer packPool.Put(buf)
	buf.tile = grow(buf.tile, mr*nr)
	for jc := 0; jc < n; jc += blockN {
		nc := min(blockN, n-jc)
		ncPadded := (nc + nr - 1) / nr * nr
		for pc := 0; pc < k; pc += blockK {
			kc := min(blockK, k-pc)
			buf.b = grow(buf.b, kc*ncPadded)
			packB(buf.b, b, pc, jc, kc, nc, nr)
			for ic := 0; ic < m; ic += blockM {
				mcc := min(blockM, m-ic)
				mcPadded := (mcc + mr - 1) / mr * mr
				buf.a = grow(buf.a, kc*mcPadded)
				packA(buf.a, a, ic, pc, mcc, kc, mr)
				// With beta 0 the first pass over K overwrites C, so C
				// never needs clearing.
				macroKernel(kern, buf, mcc, nc, kc, c[ic*ldc+jc:], ldc, beta == 0 && pc == 0)
			}
		}
	}
}

// macroKernel runs the micro-kernel over one packed A block and B panel,
// adding into C, or overwriting it when set. Edge tiles go through a
// scratch tile so the kernel always writes mr x nr.
func macroKernel(kern *kernels, buf *packBuffers, mc, nc, kc int, c []float32, ldc int, set bool) {
	mr, nr := kern.mr, kern.nr
	for jr := 0; jr < nc; jr += nr {
		bp := &buf.b[jr*kc]
		cols := min(nr, nc-jr)
		for ir := 0; ir < mc; ir += mr {
			ap := &buf.a[ir*kc]
			rows := min(mr, mc-ir)
			if rows == mr && cols == nr {
				if set {
					kern.set(kc, ap, bp, &c[ir*ldc+jr], ldc)
				} else {
					kern.fn(kc, ap, bp, &c[ir*ldc+jr], ldc)
				}
				continue
			}
			tile := buf.tile
			kern.set(kc, ap, bp, &tile[0], nr)
			for r := 0; r < rows; r++ {
				dst := c[(ir+r)*ldc+jr : (ir+r)*ldc+jr+cols]
				src := tile[r*nr : r*nr+cols]
				if set {
					copy(dst, src)
					continue
				}
				for j, v := range src {
					dst[j] += v
				}
			}
		}
	}
}

// packA copies the mc x kc block of A at (i0, p0) into slivers of mr rows,
// each stored k-major (mr consecutive values per k), zero-padding the last.
func packA(dst []float32, a matrix, i0, p0, mc, kc, mr int) {
	for ir := 0; ir < mc; ir += mr {
		rows := min(mr, mc-ir)
		s := dst[ir*kc : ir*kc+mr*kc]
		if a.trans {
			// Column p of A^T's source is contiguous along i.
			for p := 0; p < kc; p++ {
				src := a.data[(p0+p)*a.stride+i0+ir:]
				d := s[p*mr : p*mr+mr]
				copy(d, src[:rows])
				clear(d[rows:])
			}
			continue
		}
		for r := 0; r < rows; r++ {
			src := a.data[(i0+ir+r)*a.stride+p0 : (i0+ir+r)*a.stride+p0+kc]
			for p, v := range src {
				s[p*mr+r] = v
			}
		}
		for r := rows; r < mr; r++ {
			for p := 0; p < kc; p++ {
				s[p*mr+r] = 0
			}
		}
	}
}

// packB copies the kc x nc panel of B at (p0, j0) into slivers of nr
// columns, each stored row by row (nr consecutive values per k).
func packB(dst []float32, b matrix, p0, j0, kc, nc, nr int) {
	for jr := 0; jr < nc; jr += nr {
		cols := min(nr, nc-jr)
		s := dst[jr*kc : jr*kc+nr*kc]
		if !b.trans {
			for p := 0; p < kc; p++ {
				src := b.data[(p0+p)*b.stride+j0+jr:]
				d := s[p*nr : p*nr+nr]
				copy(d, src[:cols])
				clear(d[cols:])
			}
			continue
		}
		for j := 0; j < cols; j++ {
			src := b.data[(j0+jr+j)*b.stride+p0 : (j0+jr+j)*b.stride+p0+kc]
			for p, v := range src {
				s[p*nr+j] = v
			}
		}
		for j := cols; j < nr; j++ {
			for p := 0; p < kc; p++ {
				s[p*nr+j] = 0
			}
		}
	}
}

// kernel4x4GoStrided is the portable strided kernel (microKernel.strided).
func kernel4x4GoStrided(kc int, a, b, c *float32, ldc, lda, ldb int) {
	var acc [4][4]float32
	if kc > 0 {
		as := unsafe.Slice(a, (kc-1)*lda+4)
		bs := unsafe.Slice(b, (kc-1)*ldb+4)
		for k := 0; k < kc; k++ {
			av, bv := as[k*lda:k*lda+4:k*lda+4], bs[k*ldb:k*ldb+4:k*ldb+4]
			for r := 0; r < 4; r++ {
				for j := 0; j < 4; j++ {
					acc[r][j] += av[r] * bv[j]
				}
			}
		}
	}
	cs := unsafe.Slice(c, 3*ldc+4)
	for r := 0; r < 4; r++ {
		copy(cs[r*ldc:r*ldc+4], acc[r][:])
	}
}

// kernel4x4GoStridedAdd is kernel4x4GoStrided adding to C.
func kernel4x4GoStridedAdd(kc int, a, b, c *float32, ldc, lda, ldb int) {
	var prod [4 * 4]float32
	kernel4x4GoStrided(kc, a, b, &prod[0], 4, lda, ldb)
	cs := unsafe.Slice(c, 3*ldc+4)
	for r := 0; r < 4; r++ {
		for j := 0; j < 4; j++ {
			cs[r*ldc+j] += prod[r*4+j]
		}
	}
}

// kernel4x4GoSet is kernel4x4Go overwriting C.
func kernel4x4GoSet(kc int, a, b, c *float32, ldc int) {
	cs := unsafe.Slice(c, 3*ldc+4)
	for r := 0; r < 4; r++ {
		clear(cs[r*ldc : r*ldc+4])
	}
	kernel4x4Go(kc, a, b, c, ldc)
}

func kernel4x4Go(kc int, a, b, c *float32, ldc int) {
	as := unsafe.Slice(a, kc*4)
	bs := unsafe.Slice(b, kc*4)
	var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33 float32
	for p := 0; p < kc; p++ {
		av := as[p*4 : p*4+4 : p*4+4]
		bv := bs[p*4 : p*4+4 : p*4+4]
		a0, a1, a2, a3 := av[0], av[1], av[2], av[3]
		b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	cs := unsafe.Slice(c, 3*ldc+4)
	cs[0] += c00
	cs[1] += c01
	cs[2] += c02
	cs[3] += c03
	cs[ldc] += c10
	cs[ldc+1] += c11
	cs[ldc+2] += c12
	cs[ldc+3] += c13
	cs[2*ldc] += c20
	cs[2*ldc+1] += c21
	cs[2*ldc+2] += c22
	cs[2*ldc+3] += c23
	cs[3*ldc] += c30
	cs[3*ldc+1] += c31
	cs[3*ldc+2] += c32
	cs[3*ldc+3] += c33
}

package native

import (
	"github.com/resgo/resgo/backend"
)

// The fast convolution lowers to GEMM. For a group of g images, the input
// is unrolled (im2col) into a K x (g*P) matrix, K = C*KH*KW and P = OH*OW,
// so that
//
//	forward:          Y[O x gP]  = W[O x K] * col
//	backward filter:  dW[O x K] += dY[O x gP] * col^T
//	backward data:    dcol[K x gP] = W^T * dY, then scattered back (col2im).
//
// Images are processed in groups so the unrolled matrix stays near the
// size of the last-level cache instead of growing with the batch.

// colBudget is the number of floats of unrolled input per group.
const colBudget = 1 << 20

type convGeom struct {
	n, c, h, w, o, kh, kw, oh, ow int
	d                             backend.ConvDesc
}

func newConvGeom(x, w, y backend.Tensor, d backend.ConvDesc) convGeom {
	n, c, h, wd := dims4(x)
	o, c2, kh, kw := dims4(w)
	n2, o2, oh, ow := dims4(y)
	if c2 != c || n2 != n || o2 != o {
		panic("native: convolution tensor shapes disagree")
	}
	if eh, ew := d.OutSize(h, wd, kh, kw); eh != oh || ew != ow {
		panic("native: convolution output shape disagrees with its descriptor")
	}
	return convGeom{n, c, h, wd, o, kh, kw, oh, ow, d}
}

func (g convGeom) k() int { return g.c * g.kh * g.kw }
func (g convGeom) p() int { return g.oh * g.ow }

// group is how many images to unroll at once.
func (g convGeom) group() int {
	return max(1, min(g.n, colBudget/max(1, g.k()*g.p())))
}

// im2col unrolls images [n0, n0+cnt) of x into col (K rows of cnt*P).
func (be *Backend) im2col(g convGeom, xs []float32, n0, cnt int, col []float32) {
	p, cols := g.p(), cnt*g.p()
	if g.ow < smallWidth {
		be.im2colSmall(g, xs, n0, cnt, col)
		return
	}
	be.parallel(cnt, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			img := xs[(n0+i)*g.c*g.h*g.w:]
			for c := 0; c < g.c; c++ {
				plane := img[c*g.h*g.w : (c+1)*g.h*g.w]
				for ky := 0; ky < g.kh; ky++ {
					for kx := 0; kx < g.kw; kx++ {
						row := ((c*g.kh+ky)*g.kw + kx) * cols
						dst := col[row+i*p : row+(i+1)*p]
						unrollTap(g, plane, ky, kx, dst)
					}
				}
			}
		}
	})
}

// smallWidth is the output width below which unrolling goes through a
// precomputed table: on 2x2 to 7x7 maps the per-row set-up of unrollTap
// costs more than the copying.
const smallWidth = 8

// tapTable lists, for every kernel tap t and output position j, the offset
// in the input plane that the tap reads, or -1 in the padding.
func (be *Backend) tapTable(g convGeom) []int32 {
	if t, ok := be.tables[g.key()]; ok {
		return t
	}
	d, p := g.d, g.p()
	t := make([]int32, g.kh*g.kw*p)
	for ky := 0; ky < g.kh; ky++ {
		for kx := 0; kx < g.kw; kx++ {
			tap := ky*g.kw + kx
			for oy := 0; oy < g.oh; oy++ {
				for ox := 0; ox < g.ow; ox++ {
					iy, ix := oy*d.StrideH-d.PadTop+ky, ox*d.StrideW-d.PadLeft+kx
					off := int32(-1)
					if iy >= 0 && iy < g.h && ix >= 0 && ix < g.w {
						off = int32(iy*g.w + ix)
					}
					t[tap*p+oy*g.ow+ox] = off
				}
			}
		}
	}
	if be.tables == nil {
		be.tables = map[tableKey][]int32{}
	}
	be.tables[g.key()] = t
	return t
}

// tableKey identifies a tap table: everything but the batch and channels,
// and which of the tables of a geometry it is.
type tableKey struct {
	h, w, kh, kw, oh, ow int
	d                    backend.ConvDesc
	kind                 tableKind
}

type tableKind uint8

const (
	kindTaps       tableKind = iota // tapTable
	kindInverse                     // inverseTaps
	kindByPosition                  // tapsByPosition
)

func (g convGeom) key() tableKey {
	d := g.d
	d.ReLU = false
	return tableKey{h: g.h, w: g.w, kh: g.kh, kw: g.kw, oh: g.oh, ow: g.ow, d: d}
}

func (be *Backend) im2colSmall(g convGeom, xs []float32, n0, cnt int, col []float32) {
	p, cols, taps := g.p(), cnt*g.p(), g.kh*g.kw
	table := be.tapTable(g)
	be.parallel(cnt, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			img := xs[(n0+i)*g.c*g.h*g.w:]
			for c := 0; c < g.c; c++ {
				plane := img[c*g.h*g.w : (c+1)*g.h*g.w]
				for t := 0; t < taps; t++ {
					row := (c*taps+t)*cols + i*p
					dst := col[row : row+p]
					for j, off := range table[t*p : (t+1)*p] {
						if off >= 0 {
							dst[j] = plane[off]
						} else {
							dst[j] = 0
						}
					}
				}
			}
		}
	})
}

func (be *Backend) col2imSmall(g convGeom, dcol []float32, n0, cnt int, dxs []float32) {
	p, cols, taps := g.p(), cnt*g.p(), g.kh*g.kw
	table := be.tapTable(g)
	be.parallel(cnt, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			img := dxs[(n0+i)*g.c*g.h*g.w:]
			for c := 0; c < g.c; c++ {
				plane := img[c*g.h*g.w : (c+1)*g.h*g.w]
				for t := 0; t < taps; t++ {
					row := (c*taps+t)*cols + i*p
					src := dcol[row : row+p]
					for j, off := range table[t*p : (t+1)*p] {
						if off >= 0 {
							plane[off] += src[j]
						}
					}
				}
			}
		}
	})
}

// tapRange returns the output columns [lo, hi) whose input column
// ox*stride - pad + kx lies inside a row of width w.
func tapRange(kx, pad, stride, w, ow int) (lo, hi int) {
	// ox*stride >= pad-kx  and  ox*stride <= w-1+pad-kx.
	if pad > kx {
		lo = (pad - kx + stride - 1) / stride
	}
	top := w - 1 + pad - kx
	if top < 0 {
		return 0, 0
	}
	hi = min(ow, top/stride+1)
	return lo, max(lo, hi)
}

// unrollTap writes, for every output position, the input value that kernel
// tap (ky, kx) sees, or 0 where it falls in the padding.
func unrollTap(g convGeom, plane []float32, ky, kx int, dst []float32) {
	d := g.d
	lo, hi := tapRange(kx, d.PadLeft, d.StrideW, g.w, g.ow)
	off := kx - d.PadLeft
	for oy := 0; oy < g.oh; oy++ {
		out := dst[oy*g.ow : (oy+1)*g.ow]
		iy := oy*d.StrideH - d.PadTop + ky
		if iy < 0 || iy >= g.h || lo == hi {
			clear(out)
			continue
		}
		src := plane[iy*g.w : (iy+1)*g.w]
		clear(out[:lo])
		clear(out[hi:])
		if d.StrideW == 1 {
			copy(out[lo:hi], src[lo+off:hi+off])
			continue
		}
		for ox := lo; ox < hi; ox++ {
			out[ox] = src[ox*d.StrideW+off]
		}
	}
}

// col2im adds the unrolled gradient dcol back into images [n0, n0+cnt) of dx,
// which the caller has zeroed.
func (be *Backend) col2im(g convGeom, dcol []float32, n0, cnt int, dxs []float32) {
	p, cols := g.p(), cnt*g.p()
	if g.ow < smallWidth {
		be.col2imSmall(g, dcol, n0, cnt, dxs)
		return
	}
	be.parallel(cnt, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			img := dxs[(n0+i)*g.c*g.h*g.w:]
			for c := 0; c < g.c; c++ {
				plane := img[c*g.h*g.w : (c+1)*g.h*g.w]
				for ky := 0; ky < g.kh; ky++ {
					for kx := 0; kx < g.kw; kx++ {
						row := ((c*g.kh+ky)*g.kw + kx) * cols
						src := dcol[row+i*p : row+(i+1)*p]
						addTap(g, src, ky, kx, plane)
					}
				}
			}
		}
	})
}

// addTap is unrollTap's adjoint: it adds each output position's value
// into the input cell that tap (ky, kx) saw.
func addTap(g convGeom, src []float32, ky, kx int, plane []float32) {
	d := g.d
	lo, hi := tapRange(kx, d.PadLeft, d.StrideW, g.w, g.ow)
	off := kx - d.PadLeft
	for oy := 0; oy < g.oh; oy++ {
		iy := oy*d.StrideH - d.PadTop + ky
		if iy < 0 || iy >= g.h || lo == hi {
			continue
		}
		row := plane[iy*g.w : (iy+1)*g.w]
		in := src[oy*g.ow+lo : oy*g.ow+hi]
		if d.StrideW == 1 {
			dst := row[lo+off : hi+off]
			for i, v := range in {
				dst[i] += v
			}
			continue
		}
		for i, v := range in {
			row[(lo+i)*d.StrideW+off] += v
		}
	}
}

func (be *Backend) fastConvForward(x, w, b, y backend.Tensor, d backend.ConvDesc) {
	g := newConvGeom(x, w, y, d)
	xs, ws, bs, ys := data(x), data(w), data(b), data(y)
	if !be.direct && g.useWinograd() {
		be.winoForward(g, xs, w.(*Tensor), bs, ys)
		return
	}
	if g.useDirect() {
		be.directForward(g, xs, w.(*Tensor), bs, ys)
		return
	}
	if g.usePlanar() {
		be.planarForward(g, xs, w.(*Tensor), bs, ys)
		return
	}
	if g.useIm2row() {
		be.im2rowForward(g, xs, w.(*Tensor), bs, ys)
		return
	}
	k, p := g.k(), g.p()
	step := g.group()
	for n0 := 0; n0 < g.n; n0 += step {
		cnt := min(step, g.n-n0)
		cols := cnt * p
		col := be.scratch(0, k*cols)
		be.im2col(g, xs, n0, cnt, col)
		out := be.scratch(1, g.o*cols)
		gemm(be.threads, g.o, cols, k, matrix{data: ws, stride: k}, matrix{data: col, stride: cols}, 0, out, cols)
		// Scatter [O x cnt*P] into NCHW, adding the bias and the ReLU.
		be.parallel(cnt, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				for o := 0; o < g.o; o++ {
					dst := ys[((n0+i)*g.o+o)*p : ((n0+i)*g.o+o+1)*p]
					copy(dst, out[o*cols+i*p:o*cols+(i+1)*p])
					bias := float32(0)
					if bs != nil {
						bias = bs[o]
					}
					if bs != nil || d.ReLU {
						biasReLU(dst, bias, d.ReLU)
					}
				}
			}
		})
	}
}

// gatherGrad copies images [n0, n0+cnt) of dy into the [O x cnt*P] layout.
func (be *Backend) gatherGrad(g convGeom, dys []float32, n0, cnt int, dst []float32) {
	p, cols := g.p(), cnt*g.p()
	be.parallel(cnt, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			for o := 0; o < g.o; o++ {
				copy(dst[o*cols+i*p:o*cols+(i+1)*p], dys[((n0+i)*g.o+o)*p:])
			}
		}
	})
}

func (be *Backend) fastConvBackwardData(dy, w, dx backend.Tensor, d backend.ConvDesc) {
	g := newConvGeom(dx, w, dy, d)
	dys, ws, dxs := data(dy), data(w), data(dx)
	if !be.direct && g.useWinograd() {
		be.winoBackwardData(g, dys, ws, dxs)
		return
	}
	if g.useDirect() {
		be.directBackwardData(g, dys, ws, dxs)
		return
	}
	k, p := g.k(), g.p()
	clear(dxs)
	step := g.group()
	for n0 := 0; n0 < g.n; n0 += step {
		cnt := min(step, g.n-n0)
		cols := cnt * p
		dyt := be.scratch(1, g.o*cols)
		be.gatherGrad(g, dys, n0, cnt, dyt)
		dcol := be.scratch(0, k*cols)
		gemm(be.threads, k, cols, g.o, matrix{data: ws, stride: k, trans: true}, matrix{data: dyt, stride: cols}, 0, dcol, cols)
		be.col2im(g, dcol, n0, cnt, dxs)
	}
}

func (be *Backend) fastConvBackwardFilter(x, dy, dw, db backend.Tensor, d backend.ConvDesc) {
	g := newConvGeom(x, dw, dy, d)
	xs, dys, dws, dbs := data(x), data(dy), data(dw), data(db)
	if !be.direct && g.useWinograd() {
		be.winoBackwardFilter(g, xs, dys, dws, dbs)
		return
	}
	if g.useDirect() {
		be.directBackwardFilter(g, xs, dys, dws, dbs)
		return
	}
	k, p := g.k(), g.p()
	step := g.group()
	if dbs != nil {
		clear(dbs)
	}
	for n0 := 0; n0 < g.n; n0 += step {
		cnt := min(step, g.n-n0)
		cols := cnt * p
		dyt := be.scratch(1, g.o*cols)
		be.gatherGrad(g, dys, n0, cnt, dyt)
		col := be.scratch(0, k*cols)
		be.im2col(g, xs, n0, cnt, col)
		beta := float32(1)
		if n0 == 0 {
			beta = 0
		}
		gemm(be.threads, g.o, k, cols, matrix{data: dyt, stride: cols}, matrix{data: col, stride: cols, trans: true}, beta, dws, k)
		if dbs != nil {
			for o := 0; o < g.o; o++ {
				var s float32
				for _, v := range dyt[o*cols : (o+1)*cols] {
					s += v
				}
				dbs[o] += s
			}
		}
	}
}

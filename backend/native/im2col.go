package native

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

// group is how many images to unroll at once.
func (g convGeom) group() int {
	return max(1, min(g.n, colBudget/max(1, g.k()*g.p())))
}

// im2col unrolls images [n0, n0+cnt) of x into col (K rows of cnt*P).
func (be *Backend) im2col(pr *convPrimitive, xs []float32, n0, cnt int, col []float32) {
	g := pr.g
	p, cols := g.p(), cnt*g.p()
	if pr.taps != nil {
		be.im2colSmall(g, pr.taps, xs, n0, cnt, col)
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

// tapTable lists, for every kernel tap t and output position j, the offset
// in the input plane that the tap reads, or -1 in the padding.
func tapTable(g convGeom) []int32 {
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
	return t
}

func (be *Backend) im2colSmall(g convGeom, table []int32, xs []float32, n0, cnt int, col []float32) {
	p, cols, taps := g.p(), cnt*g.p(), g.kh*g.kw
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

func (be *Backend) col2imSmall(g convGeom, table []int32, dcol []float32, n0, cnt int, dxs []float32) {
	p, cols, taps := g.p(), cnt*g.p(), g.kh*g.kw
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
func (be *Backend) col2im(pr *convPrimitive, dcol []float32, n0, cnt int, dxs []float32) {
	g := pr.g
	p, cols := g.p(), cnt*g.p()
	if pr.taps != nil {
		be.col2imSmall(g, pr.taps, dcol, n0, cnt, dxs)
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

// im2colForward computes y from x and w through im2col + GEMM.
func (be *Backend) im2colForward(pr *convPrimitive, ws *workspace, xs, wd, bs []float32, relu bool, ys []float32) {
	g := pr.g
	k, p := g.k(), g.p()
	step := g.group()
	colAll, outAll := ws.take(k*step*p), ws.take(g.o*step*p)
	for n0 := 0; n0 < g.n; n0 += step {
		cnt := min(step, g.n-n0)
		cols := cnt * p
		col := colAll[:k*cols]
		be.im2col(pr, xs, n0, cnt, col)
		out := outAll[:g.o*cols]
		gemm(be.kern, be.opts.Threads, g.o, cols, k, matrix{data: wd, stride: k}, matrix{data: col, stride: cols}, 0, out, cols)
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
					if bs != nil || relu {
						be.kern.biasReLU(dst, bias, relu)
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

// im2colBackwardData computes dx from dy and w: GEMM with the transposed
// weights, then col2im.
func (be *Backend) im2colBackwardData(pr *convPrimitive, ws *workspace, dys, wd, dxs []float32) {
	g := pr.g
	k, p := g.k(), g.p()
	be.clear(dxs)
	step := g.group()
	dytAll, dcolAll := ws.take(g.o*step*p), ws.take(k*step*p)
	for n0 := 0; n0 < g.n; n0 += step {
		cnt := min(step, g.n-n0)
		cols := cnt * p
		dyt := dytAll[:g.o*cols]
		be.gatherGrad(g, dys, n0, cnt, dyt)
		dcol := dcolAll[:k*cols]
		gemm(be.kern, be.opts.Threads, k, cols, g.o, matrix{data: wd, stride: k, trans: true}, matrix{data: dyt, stride: cols}, 0, dcol, cols)
		be.col2im(pr, dcol, n0, cnt, dxs)
	}
}

// im2colBackwardFilter computes dw (and db) from x and dy: GEMM of the
// gradients with the unrolled input.
func (be *Backend) im2colBackwardFilter(pr *convPrimitive, ws *workspace, xs, dys, dws, dbs []float32) {
	g := pr.g
	k, p := g.k(), g.p()
	step := g.group()
	if dbs != nil {
		clear(dbs)
	}
	dytAll, colAll := ws.take(g.o*step*p), ws.take(k*step*p)
	for n0 := 0; n0 < g.n; n0 += step {
		cnt := min(step, g.n-n0)
		cols := cnt * p
		dyt := dytAll[:g.o*cols]
		be.gatherGrad(g, dys, n0, cnt, dyt)
		col := colAll[:k*cols]
		be.im2col(pr, xs, n0, cnt, col)
		beta := float32(1)
		if n0 == 0 {
			beta = 0
		}
		gemm(be.kern, be.opts.Threads, g.o, k, cols, matrix{data: dyt, stride: cols}, matrix{data: col, stride: cols, trans: true}, beta, dws, k)
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

package native

import "github.com/resgo/resgo/backend"

// The 3x3 convolutions on 2x2 maps (the last stage of the tutorial's
// network) are done as GEMMs per tap over the pixel pairs it joins (see
// backend.PairRuns2x2), 4/9 of the multiply-adds of im2col + GEMM, which
// multiplies the zero padding too. The operands are made unit-stride by
// moving activations to NHWC ([N*4, C] rows) and weights to HWOI
// ([9, O, C]) in scratch buffers, a few MiB of copying against hundreds of
// MFLOP.

// min2x2Work is the smallest N*C*O for which this pays for its 11 GEMM
// calls and copies.
const min2x2Work = 1 << 21

func (g convGeom) is2x2() bool {
	return backend.Is2x2Conv(g.h, g.w, g.kh, g.kw, g.d) && g.n*g.c*g.o >= min2x2Work
}

// toNHWC copies an [N, C, 2, 2] tensor into dst as [N, 4, C].
func (be *Backend) toNHWC(src []float32, n, c int, dst []float32) {
	be.parallel(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			s, d := src[i*4*c:(i+1)*4*c], dst[i*4*c:(i+1)*4*c]
			for ch := 0; ch < c; ch++ {
				d[ch], d[c+ch], d[2*c+ch], d[3*c+ch] = s[4*ch], s[4*ch+1], s[4*ch+2], s[4*ch+3]
			}
		}
	})
}

// toHWOI copies [O, C, 3, 3] weights into dst as [9, O, C].
func (be *Backend) toHWOI(w []float32, o, c int, dst []float32) {
	be.parallel(o, func(lo, hi int) {
		for oo := lo; oo < hi; oo++ {
			src := w[oo*c*9 : (oo+1)*c*9]
			for t := 0; t < 9; t++ {
				row := dst[(t*o+oo)*c : (t*o+oo+1)*c]
				for ch := range row {
					row[ch] = src[ch*9+t]
				}
			}
		}
	})
}

func (be *Backend) conv2x2Forward(g convGeom, xs, ws, bs, ys []float32) {
	n, c, o := g.n, g.c, g.o
	xh, wr, yh := be.scratch(0, n*4*c), be.scratch(1, 9*o*c), be.scratch(2, n*4*o)
	be.toNHWC(xs, n, c, xh)
	be.toHWOI(ws, o, c, wr)
	for i, r := range backend.PairRuns2x2 {
		beta := float32(1)
		if i == 0 {
			beta = 0
		}
		gemm(be.threads, 4*n/r.Stride, o, c, matrix{data: xh[r.Q0*c:], stride: r.Stride * c},
			matrix{data: wr[r.Tap*o*c:], stride: c, trans: true}, beta, yh[r.P0*o:], r.Stride*o)
	}
	// Back to NCHW, with the bias and the ReLU.
	be.parallel(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			for oo := 0; oo < o; oo++ {
				bias := float32(0)
				if bs != nil {
					bias = bs[oo]
				}
				for p := 0; p < 4; p++ {
					v := yh[(i*4+p)*o+oo] + bias
					if g.d.ReLU && v < 0 {
						v = 0
					}
					ys[(i*o+oo)*4+p] = v
				}
			}
		}
	})
}

func (be *Backend) conv2x2BackwardData(g convGeom, dys, ws, dxs []float32) {
	n, c, o := g.n, g.c, g.o
	dyh, wr, dxh := be.scratch(0, n*4*o), be.scratch(1, 9*o*c), be.scratch(2, n*4*c)
	be.toNHWC(dys, n, o, dyh)
	be.toHWOI(ws, o, c, wr)
	for i, r := range backend.PairRuns2x2 {
		beta := float32(1)
		if i == 0 {
			beta = 0
		}
		gemm(be.threads, 4*n/r.Stride, c, o, matrix{data: dyh[r.P0*o:], stride: r.Stride * o},
			matrix{data: wr[r.Tap*o*c:], stride: c}, beta, dxh[r.Q0*c:], r.Stride*c)
	}
	be.parallel(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			for ch := 0; ch < c; ch++ {
				for q := 0; q < 4; q++ {
					dxs[(i*c+ch)*4+q] = dxh[(i*4+q)*c+ch]
				}
			}
		}
	})
}

func (be *Backend) conv2x2BackwardFilter(g convGeom, xs, dys, dws, dbs []float32) {
	n, c, o := g.n, g.c, g.o
	xh, dyh, dwr := be.scratch(0, n*4*c), be.scratch(2, n*4*o), be.scratch(1, 9*o*c)
	be.toNHWC(xs, n, c, xh)
	be.toNHWC(dys, n, o, dyh)
	var done [9]bool
	for _, r := range backend.PairRuns2x2 {
		beta := float32(0)
		if done[r.Tap] {
			beta = 1
		}
		done[r.Tap] = true
		gemm(be.threads, o, c, 4*n/r.Stride, matrix{data: dyh[r.P0*o:], stride: r.Stride * o, trans: true},
			matrix{data: xh[r.Q0*c:], stride: r.Stride * c}, beta, dwr[r.Tap*o*c:], c)
	}
	be.parallel(o, func(lo, hi int) {
		for oo := lo; oo < hi; oo++ {
			dst := dws[oo*c*9 : (oo+1)*c*9]
			for t := 0; t < 9; t++ {
				row := dwr[(t*o+oo)*c : (t*o+oo+1)*c]
				for ch, v := range row {
					dst[ch*9+t] = v
				}
			}
		}
	})
	if dbs != nil {
		clear(dbs)
		for r := 0; r < n*4; r++ {
			for oo, v := range dyh[r*o : (r+1)*o] {
				dbs[oo] += v
			}
		}
	}
}

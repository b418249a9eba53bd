package native

// A 3x3, stride-1, padding-1 convolution on 2x2 maps (the last stage of
// the tutorial's network) reads zero padding through 5 of its 9 taps on
// average: each output pixel p sees the four input pixels q, each through
// one tap. im2col + GEMM multiplies those zeros; here the convolution is
// sixteen GEMMs instead, one per (p, q) pair with the tap that joins them,
// which do 4/9 of the multiply-adds. The operands are made unit-stride by
// moving activations to NHWC ([N, 4, C]) and weights to HWOI ([9, O, C])
// in scratch buffers, a few MiB of copying against hundreds of MFLOP.

// min2x2Work is the smallest N*C*O for which this pays for its sixteen
// GEMM calls and copies.
const min2x2Work = 1 << 21

func (g convGeom) is2x2() bool {
	d := g.d
	return g.h == 2 && g.w == 2 && g.oh == 2 && g.ow == 2 && g.kh == 3 && g.kw == 3 &&
		d.StrideH == 1 && d.StrideW == 1 && d.PadTop == 1 && d.PadBottom == 1 && d.PadLeft == 1 && d.PadRight == 1 &&
		g.n*g.c*g.o >= min2x2Work
}

// tap2x2 is the kernel tap (ky*3+kx) through which input pixel q reaches
// output pixel p; pixels are numbered y*2+x.
func tap2x2(p, q int) int { return (q/2-p/2+1)*3 + (q%2 - p%2 + 1) }

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
	for p := 0; p < 4; p++ {
		for q := 0; q < 4; q++ {
			beta := float32(1)
			if q == 0 {
				beta = 0
			}
			t := tap2x2(p, q)
			gemm(be.threads, n, o, c, matrix{data: xh[q*c:], stride: 4 * c},
				matrix{data: wr[t*o*c:], stride: c, trans: true}, beta, yh[p*o:], 4*o)
		}
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
	for q := 0; q < 4; q++ {
		for p := 0; p < 4; p++ {
			beta := float32(1)
			if p == 0 {
				beta = 0
			}
			t := tap2x2(p, q)
			gemm(be.threads, n, c, o, matrix{data: dyh[p*o:], stride: 4 * o},
				matrix{data: wr[t*o*c:], stride: c}, beta, dxh[q*c:], 4*c)
		}
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
	for t := 0; t < 9; t++ {
		beta := float32(0)
		for p := 0; p < 4; p++ {
			for q := 0; q < 4; q++ {
				if tap2x2(p, q) != t {
					continue
				}
				gemm(be.threads, o, c, n, matrix{data: dyh[p*o:], stride: 4 * o, trans: true},
					matrix{data: xh[q*c:], stride: 4 * c}, beta, dwr[t*o*c:], c)
				beta = 1
			}
		}
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

package native

// Layout changes between NCHW tensors and the position-major rows the tile
// kernels read ("PNC": [P][N][C], the rows for one pixel position in every
// image together), or the GEMM micro-kernel's slivers ([C/w][P][N][w]).

// toPNC copies an NCHW tensor [n, c, p] into dst as [p][n][c] rows.
func (be *Backend) toPNC(src []float32, n, c, p int, dst []float32) {
	be.toSlivers(src, n, c, p, c, dst)
}

// toSlivers copies an NCHW tensor [n, c, p] into dst as slivers of w
// channels, [ceil(c/w)][p][n][w], zero-filling the last sliver's missing
// channels.
func (be *Backend) toSlivers(src []float32, n, c, p, w int, dst []float32) {
	be.parallel(n, func(lo, hi int) {
		for img := lo; img < hi; img++ {
			sliverImage(be.kern, src, n, c, p, w, dst, img)
		}
	})
}

// sliverImage is toSlivers for image img alone. It goes 8 positions at a
// time, each through all the sliver's channels, so that every row of dst
// is written whole while it is in cache (channel by channel, through all
// the positions, it went 3x slower: BenchmarkToSlivers); 8x8 blocks go
// through transpose8x8Steps, the edges through transposeEdge.
func sliverImage(kern *kernels, src []float32, n, c, p, w int, dst []float32, img int) {
	rows, slivers := p*n, (c+w-1)/w
	s := src[img*c*p : (img+1)*c*p]
	for sl := 0; sl < slivers; sl++ {
		width := min(w, c-sl*w)
		whole := width / 8 * 8
		base := dst[sl*rows*w:]
		from := s[sl*w*p:]
		for q := 0; q < p; q += 8 {
			r := min(8, p-q)
			d := base[(q*n+img)*w:]
			if r == 8 {
				kern.transpose8x8Steps(from[q:], p, 8*p, d, n*w, 8, whole/8)
			} else {
				for k := 0; k < whole; k += 8 {
					kern.transposeEdge(from[k*p+q:], p, d[k:], n*w, 8, r)
				}
			}
			if whole < width {
				kern.transposeEdge(from[whole*p+q:], p, d[whole:], n*w, width-whole, r)
			}
			if width < w {
				for i := range r {
					clear(d[i*n*w+width : i*n*w+w])
				}
			}
		}
	}
}

// fromRows copies the first c columns of rows src[q*n+img] (row stride
// ld) back into the NCHW tensor dst [n, c, p], adding bias (if not nil)
// and applying the ReLU (if relu).
func (be *Backend) fromRows(src []float32, ld, n, c, p int, dst, bias []float32, relu bool) {
	be.parallel(n, func(lo, hi int) {
		for img := lo; img < hi; img++ {
			rowsImage(be.kern, src, ld, n, c, p, dst, bias, relu, img)
		}
	})
}

// rowsImage is fromRows for image img alone: 8 positions at a time, so
// that each row of src is read whole; 8x8 blocks through transpose8x8,
// the edges through transposeEdge.
func rowsImage(kern *kernels, src []float32, ld, n, c, p int, dst, bias []float32, relu bool, img int) {
	whole := c / 8 * 8
	d := dst[img*c*p : (img+1)*c*p]
	for q := 0; q < p; q += 8 {
		r := min(8, p-q)
		from := src[(q*n+img)*ld:]
		if r == 8 {
			kern.transpose8x8(from, n*ld, d[q:], p, whole/8)
		} else {
			for k := 0; k < whole; k += 8 {
				kern.transposeEdge(from[k:], n*ld, d[k*p+q:], p, r, 8)
			}
		}
		if whole < c {
			kern.transposeEdge(from[whole:], n*ld, d[whole*p+q:], p, r, c-whole)
		}
	}
	if bias == nil && !relu {
		return
	}
	for ch := 0; ch < c; ch++ {
		b := float32(0)
		if bias != nil {
			b = bias[ch]
		}
		kern.biasReLU(d[ch*p:(ch+1)*p], b, relu)
	}
}

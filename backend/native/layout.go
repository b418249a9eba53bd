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
// channels. Whole 8x8 blocks (8 channels x 8 positions) go through
// transpose8x8, the edges element by element.
func (be *Backend) toSlivers(src []float32, n, c, p, w int, dst []float32) {
	be.parallel(n, func(lo, hi int) {
		for img := lo; img < hi; img++ {
			sliverImage(be.kern, src, n, c, p, w, dst, img)
		}
	})
}

// sliverImage is toSlivers for image img alone.
func sliverImage(kern *kernels, src []float32, n, c, p, w int, dst []float32, img int) {
	rows, slivers := p*n, (c+w-1)/w
	full := p / 8
	s := src[img*c*p : (img+1)*c*p]
	for sl := 0; sl < slivers; sl++ {
		width := min(w, c-sl*w)
		base := dst[sl*rows*w:]
		if width < w {
			for q := 0; q < p; q++ {
				clear(base[(q*n+img)*w+width : (q*n+img+1)*w])
			}
		}
		k := 0
		for ; k+8 <= width && full > 0; k += 8 {
			kern.transpose8x8(s[(sl*w+k)*p:], p, base[img*w+k:], n*w, full)
		}
		for ; k < width; k++ {
			for q, v := range s[(sl*w+k)*p : (sl*w+k)*p+8*full] {
				base[(q*n+img)*w+k] = v
			}
		}
		for q := 8 * full; q < p; q++ {
			for k := 0; k < width; k++ {
				base[(q*n+img)*w+k] = s[(sl*w+k)*p+q]
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

// rowsImage is fromRows for image img alone.
func rowsImage(kern *kernels, src []float32, ld, n, c, p int, dst, bias []float32, relu bool, img int) {
	full := c / 8
	d := dst[img*c*p : (img+1)*c*p]
	q := 0
	for ; q+8 <= p && full > 0; q += 8 {
		kern.transpose8x8(src[(q*n+img)*ld:], n*ld, d[q:], p, full)
	}
	for ; q < p; q++ {
		for ch, v := range src[(q*n+img)*ld : (q*n+img)*ld+8*full] {
			d[ch*p+q] = v
		}
	}
	for ch := 8 * full; ch < c; ch++ {
		for q := 0; q < p; q++ {
			d[ch*p+q] = src[(q*n+img)*ld+ch]
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

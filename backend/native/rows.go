package native

// Convolutions with few input channels and many taps (the ImageNet stem:
// three channels, 7x7, stride 2) give the tile kernel too little to do per
// tap. Their forward passes run as
// a single product over unrolled rows instead ("im2row"): row q*n+img
// holds the C*taps values that output position q of image img reads,
// channel-major like the weights [O, C*taps], so the weights pack as a 1x1
// convolution's.

// im2row unrolls x into dst as rows q*n+img of C*taps values.
func (be *Backend) im2row(g convGeom, byPos []int32, xs []float32, dst []float32) {
	taps, p, inP := g.kh*g.kw, g.p(), g.h*g.w
	k := g.c * taps
	be.parallel(g.n, func(lo, hi int) {
		for img := lo; img < hi; img++ {
			for q := 0; q < p; q++ {
				row := dst[(q*g.n+img)*k : (q*g.n+img+1)*k]
				for ch := 0; ch < g.c; ch++ {
					plane := xs[(img*g.c+ch)*inP : (img*g.c+ch+1)*inP]
					out := row[ch*taps : (ch+1)*taps]
					for i, off := range byPos[q*taps : (q+1)*taps] {
						v := float32(0)
						if off >= 0 {
							v = plane[off]
						}
						out[i] = v
					}
				}
			}
		}
	})
}

// rowsForward computes y from x and w as one product over unrolled rows.
func (be *Backend) rowsForward(pr *convPrimitive, ws *workspace, xs []float32, w *Tensor, bs []float32, relu bool, ys []float32) {
	g, pl := pr.g, pr.plan
	k, rows := g.c*g.kh*g.kw, g.n*g.p()
	in := ws.take((rows + 1) * k)
	be.im2row(g, pr.byPosition, xs, in)
	clear(in[rows*k:])
	nr := be.kern.tileCols
	blocks := (g.o + nr - 1) / nr
	// Float32 in every precision: the stems' few channels are not worth
	// rounding.
	op := &tileOperands{kc: k, taps: 1, x: in}
	op.w, op.layout = be.forwardWeights(ws, w, g.o, k, 1)
	ldc := blocks * nr
	out := ws.take((len(pl.starts) - 1) * be.kern.tileRows * ldc)
	be.runTiles(pl, op, blocks, out)
	be.fromRows(out, ldc, g.n, g.o, g.p(), ys, bs, relu)
}

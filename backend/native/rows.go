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
	be.parallel(g.n, func(lo, hi int) {
		for img := lo; img < hi; img++ {
			im2rowImage(g, byPos, xs, g.n, img, dst)
		}
	})
}

// im2rowImage is im2row for image img alone of the n images in xs.
func im2rowImage(g convGeom, byPos []int32, xs []float32, n, img int, dst []float32) {
	taps, p, inP := g.kh*g.kw, g.p(), g.h*g.w
	k := g.c * taps
	for q := 0; q < p; q++ {
		row := dst[(q*n+img)*k : (q*n+img+1)*k]
		offs := byPos[q*taps : (q+1)*taps]
		for ch := 0; ch < g.c; ch++ {
			plane := xs[(img*g.c+ch)*inP : (img*g.c+ch+1)*inP]
			out := row[ch*taps : (ch+1)*taps]
			for t0 := 0; t0 < taps; t0 += g.kw {
				// A kernel row inside the map reads kw neighbours.
				if first := offs[t0]; first >= 0 && offs[t0+g.kw-1] == first+int32(g.kw-1) {
					copy(out[t0:t0+g.kw], plane[first:])
					continue
				}
				for i, off := range offs[t0 : t0+g.kw] {
					v := float32(0)
					if off >= 0 {
						v = plane[off]
					}
					out[t0+i] = v
				}
			}
		}
	}
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

// rowsFilterGroupFloats bounds a group's unrolled rows and output
// gradients in PNC rows (floats), to stay in a core's L2 cache.
const rowsFilterGroupFloats = 128 << 10

// rowsFilterGroup is how many images rowsBackwardFilter takes together.
func rowsFilterGroup(g convGeom) int {
	return max(1, min(g.n, rowsFilterGroupFloats/(g.p()*(g.k()+g.o))))
}

// rowsBackwardFilter computes dw [O, C*taps] (and db, if not nil) as
// sums over output positions of dY[pos][o] X[pos][k], X the unrolled rows
// of im2row and dY the output gradients in PNC rows: few input channels
// make the rows short, so the product reads both as they are on the
// strided micro-kernel (filterPoint), group of images by group
// (sumOverSlots) in buffers that stay in cache. im2col's GEMM, with the
// positions as its k, packed both operands for a single use (the 28x28
// stem: 21 ms).
func (be *Backend) rowsBackwardFilter(pr *convPrimitive, ws *workspace, xs, dys, dws, dbs []float32) {
	g, kern := pr.g, be.kern
	n, o, p := g.n, g.o, g.p()
	k := g.c * g.kh * g.kw
	group := pr.group
	groups := (n + group - 1) / group
	workers := min(be.opts.Threads, sumSlots, groups)
	// Spare floats after each: the kernels read whole blocks of mr (nr)
	// columns past the last real one.
	l := be.filterLayoutOf(k, o)
	inSize, dySize := group*p*k+l.ld, group*p*o+l.mBlocks*kern.mr
	work := ws.take(workers * (inSize + dySize))
	sums := be.sumOverSlots(ws, groups, l.plane+o, func(worker, grp int, acc []float32, first bool) {
		buf := work[worker*(inSize+dySize) : (worker+1)*(inSize+dySize)]
		in, dy := buf[:inSize], buf[inSize:]
		img0 := grp * group
		cnt := min(group, n-img0)
		xg, dyg := xs[img0*g.c*g.h*g.w:(img0+cnt)*g.c*g.h*g.w], dys[img0*o*p:(img0+cnt)*o*p]
		for img := 0; img < cnt; img++ {
			im2rowImage(g, pr.byPosition, xg, cnt, img, in)
			sliverImage(kern, dyg, cnt, o, p, o, dy, img)
		}
		be.filterPoint(filterScratch{}, dy, in, cnt*p, k, o, l, acc, !first)
		db := acc[l.plane:]
		if first {
			clear(db)
		}
		biasGrads(kern, dy, cnt*p, o, db)
	})
	for i := 0; i < o; i++ {
		copy(dws[i*k:(i+1)*k], sums[i*l.ld:])
	}
	if dbs != nil {
		copy(dbs, sums[l.plane:])
	}
}

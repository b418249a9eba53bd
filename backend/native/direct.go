package native

import (
	"os"
	"unsafe"
	"weak"
)

// Direct convolution: no unrolled (im2col) copy of the input.
//
// Activations are moved to a position-major layout, [P][N][C] rows of C
// channels ("PNC"), so that the rows for one pixel position in every image
// sit together. Output rows are taken tileRows at a time in that order
// (mostly one position in 12 images), and for each kernel tap the tile
// kernel reads each output row's input row straight from the PNC buffer,
// broadcasting one channel at a time against a vector of tileCols output
// channels of the packed weights:
//
//	Y[row, o] = sum over taps t, channels k of X[src(row, t), k] * W_t[k, o]
//
// A table lists, per tile, the taps that reach at least one real input row
// and where each of the tile's rows reads (a zero row where the tap falls
// in the padding). Because a tile holds one position of many images, a tap
// is usually in the padding for all of its rows or for none, so the taps
// that only multiply padding are skipped outright: at 4x4 and 2x2 maps that
// is a third to a half of the work of im2col + GEMM.
//
// Backward-data is the same computation on dy with the transposed weights
// and the inverse tap table (which output position each input position
// feeds through tap t). Backward-filter sums, per tap, dy[row]^T x[src]
// over the row pairs the tap joins. Those pairs come in long runs of
// consecutive rows on both sides (all images of a position, and
// neighbouring positions of a map row), so with dy and x laid out as the
// GEMM micro-kernel's packed slivers ([C/w][rows][w]) each run is passed
// to the micro-kernel as it is: no packing at all.

// tileFunc computes C[mr x nr] = sum over taps entries of tbl and k < kc of
// x[row_r + k] * w[t*tapStride + k*ldb + col], t being the entry's tap:
// see tilePlan for the table's layout. ldc is C's row stride, ldb and
// tapStride the packed weights' strides (see packTaps), in elements.
type tileFunc func(tbl *int32, taps, kc int, x, w, c *float32, ldc, ldb, tapStride int)

// tilePlan is the table of one direct convolution pass.
type tilePlan struct {
	// Tile i's entries are entries [starts[i], starts[i+1]). Each entry is
	// tileRows+1 int32: the offset (in floats) of every row's input, plus
	// kc (the kernel counts its index up from -kc), then the tap's index.
	starts []int32
	table  []int32
	// Backward-filter: the runs of (output row, input row) pairs that
	// each tap joins.
	runs [][]rowRun
}

// rowRun is n consecutive output rows from out joined with n consecutive
// input rows from in.
type rowRun struct{ out, in, n int }

type planKey struct {
	table        tableKey
	n, kc, nr    int
	backwardData bool
	unrolled     bool // rowPlan: n is the row count
	winograd     bool // winoPlan: n is the row count
	planar       bool // planarTable: kc is C, nr is O
}

// maxPlanEntries bounds a plan's table (4 bytes each): beyond it (ImageNet
// sizes at large batches) convolutions go through im2col instead.
const maxPlanEntries = 1 << 23

// minDirectChannels is the fewest channels for which the direct kernels
// beat im2col + GEMM: with fewer (the stem's one input channel) the
// per-tap set-up of the tile kernel outweighs its few multiply-adds.
const minDirectChannels = 16

// useDirect reports whether convolution g runs on the direct kernels:
// kernels larger than 1x1 (a 1x1 convolution's im2col is a cheap copy) on
// enough channels, with a plan of reasonable size.
func (g convGeom) useDirect() bool {
	if forceIm2col || g.kh*g.kw == 1 || min(g.c, g.o) < minDirectChannels {
		return false
	}
	rows := g.n * g.p()
	tiles := (rows + kern.tileRows - 1) / kern.tileRows
	return tiles*g.kh*g.kw*(kern.tileRows+1) <= maxPlanEntries &&
		(g.n*g.h*g.w+1)*max(g.c, g.o) < 1<<31-1
}

// forceIm2col (RESGO_CONV=im2col) routes every convolution through
// im2col + GEMM, for benchmarks and tests of that path.
var forceIm2col = convMode == "im2col"

// convMode is RESGO_CONV: "im2col" (everything on im2col + GEMM), "direct"
// (no Winograd), or empty (the default choice: Winograd, direct, im2col).
var convMode = os.Getenv("RESGO_CONV")

// inverseTaps returns, for every tap and input position, the output
// position that reads it through that tap, or -1.
func (be *Backend) inverseTaps(g convGeom) []int32 {
	key := g.key()
	key.kind = kindInverse
	if t, ok := be.tables[key]; ok {
		return t
	}
	fwd := be.tapTable(g)
	taps, p, inP := g.kh*g.kw, g.p(), g.h*g.w
	inv := make([]int32, taps*inP)
	for i := range inv {
		inv[i] = -1
	}
	for t := 0; t < taps; t++ {
		for o, s := range fwd[t*p : (t+1)*p] {
			if s >= 0 {
				inv[t*inP+int(s)] = int32(o)
			}
		}
	}
	be.tables[key] = inv
	return inv
}

// plan returns the tile table for the forward pass of g (kc = C input
// channels, reading x) or its backward-data pass (kc = O, reading dy).
func (be *Backend) plan(g convGeom, backwardData bool) *tilePlan {
	kc := g.c
	if backwardData {
		kc = g.o
	}
	key := planKey{table: g.key(), n: g.n, kc: kc, nr: kern.tileCols, backwardData: backwardData}
	if p, ok := be.plans[key]; ok {
		return p
	}
	var src []int32
	outP, inP := g.p(), g.h*g.w
	if backwardData {
		src, outP, inP = be.inverseTaps(g), g.h*g.w, g.p()
	} else {
		src = be.tapTable(g)
	}
	mr, taps, n := kern.tileRows, g.kh*g.kw, g.n
	rows, zero := outP*n, inP*n
	pl := &tilePlan{}
	entry := make([]int32, mr+1)
	for r0 := 0; r0 < rows; r0 += mr {
		pl.starts = append(pl.starts, int32(len(pl.table)/(mr+1)))
		for t := 0; t < taps; t++ {
			live := false
			for i := range mr {
				row := zero
				if r := r0 + i; r < rows {
					if s := src[t*outP+r/n]; s >= 0 {
						row, live = int(s)*n+r%n, true
					}
				}
				entry[i] = int32(row*kc + kc)
			}
			entry[mr] = int32(t)
			if live {
				pl.table = append(pl.table, entry...)
			}
		}
	}
	pl.starts = append(pl.starts, int32(len(pl.table)/(mr+1)))
	if !backwardData {
		pl.runs = make([][]rowRun, taps)
		for t := 0; t < taps; t++ {
			for p := 0; p < outP; p++ {
				s := int(src[t*outP+p])
				if s < 0 {
					continue
				}
				runs := pl.runs[t]
				if k := len(runs) - 1; k >= 0 && runs[k].out+runs[k].n == p*n && runs[k].in+runs[k].n == s*n {
					runs[k].n += n
					continue
				}
				pl.runs[t] = append(runs, rowRun{out: p * n, in: s * n, n: n})
			}
		}
	}
	if be.plans == nil {
		be.plans = map[planKey]*tilePlan{}
	}
	be.plans[key] = pl
	return pl
}

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
			sliverImage(src, n, c, p, w, dst, img)
		}
	})
}

// sliverImage is toSlivers for image img alone.
func sliverImage(src []float32, n, c, p, w int, dst []float32, img int) {
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
			transpose8x8(s[(sl*w+k)*p:], p, base[img*w+k:], n*w, full)
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
			rowsImage(src, ld, n, c, p, dst, bias, relu, img)
		}
	})
}

// rowsImage is fromRows for image img alone.
func rowsImage(src []float32, ld, n, c, p int, dst, bias []float32, relu bool, img int) {
	full := c / 8
	d := dst[img*c*p : (img+1)*c*p]
	q := 0
	for ; q+8 <= p && full > 0; q += 8 {
		transpose8x8(src[(q*n+img)*ld:], n*ld, d[q:], p, full)
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
		biasReLU(d[ch*p:(ch+1)*p], b, relu)
	}
}

// weightLayout is how packTaps orders a block of packed weights.
type weightLayout struct {
	// tapMajor: [t][k][col], each tap's rows consecutive (read in
	// sequence by the kernel: best when the weights stream from memory, at
	// small batches); otherwise [k][t][col] (the forward pack is then a
	// plain transpose: best when the weights change every step).
	tapMajor bool
}

// strides returns the kernel's ldb and tapStride for a block of kc rows
// per tap.
func (l weightLayout) strides(kc, taps, nr int) (ldb, tapStride int) {
	if l.tapMajor {
		return nr, kc * nr
	}
	return taps * nr, nr
}

// packTaps packs weights [O, C, taps] into blocks of nr output columns,
// dst[j][k][t][col] or, tap-major, dst[j][t][k][col]. Forward: k runs over
// C, columns over O: block j is then the transpose of weight rows
// [j*nr, j*nr+nr) ([nr][C*taps]), done in 8x8 blocks. Transposed
// (backward-data, never tap-major): k runs over O, columns over C. Missing
// columns are 0.
func (be *Backend) packTaps(w []float32, o, c, taps, nr int, transposed bool, layout weightLayout, dst []float32) {
	kc, cols := c, o
	if transposed {
		kc, cols = o, c
	}
	blocks := (cols + nr - 1) / nr
	size := kc * taps * nr
	be.parallel(blocks, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			blk := dst[j*size : (j+1)*size]
			valid := min(nr, cols-j*nr)
			if valid < nr {
				clear(blk)
			}
			if transposed {
				// Per k, the [valid][taps] slab of columns becomes taps
				// rows of nr: 8x8 blocks, then the edges.
				full := taps / 8
				for k := 0; k < kc; k++ {
					src := w[(k*c+j*nr)*taps : (k*c+j*nr+valid)*taps]
					rows := blk[k*taps*nr : (k+1)*taps*nr]
					col := 0
					for ; col+8 <= valid && full > 0; col += 8 {
						transpose8x8(src[col*taps:], taps, rows[col:], nr, full)
					}
					for ; col < valid; col++ {
						for t, v := range src[col*taps : col*taps+8*full] {
							rows[t*nr+col] = v
						}
					}
					for col := 0; col < valid; col++ {
						for t := 8 * full; t < taps; t++ {
							rows[t*nr+col] = src[col*taps+t]
						}
					}
				}
				continue
			}
			width := c * taps // one weight row; packed row index k*taps+t
			if layout.tapMajor {
				for col := 0; col < valid; col++ {
					src := w[(j*nr+col)*width : (j*nr+col+1)*width]
					for k := 0; k < kc; k++ {
						for t, v := range src[k*taps : (k+1)*taps] {
							blk[(t*kc+k)*nr+col] = v
						}
					}
				}
				continue
			}
			full := width / 8
			col := 0
			for ; col+8 <= valid && full > 0; col += 8 {
				transpose8x8(w[(j*nr+col)*width:], width, blk[col:], nr, full)
			}
			for ; col < valid; col++ {
				for i, v := range w[(j*nr+col)*width : (j*nr+col)*width+8*full] {
					blk[i*nr+col] = v
				}
			}
			for col := 0; col < valid; col++ {
				for i := 8 * full; i < width; i++ {
					blk[i*nr+col] = w[(j*nr+col)*width+i]
				}
			}
		}
	})
}

// runTiles computes out [tiles*mr rows][blocks*nr] from the PNC input in
// (with a zero row after its last row) and the packed weights wp.
func (be *Backend) runTiles(pl *tilePlan, kc, taps, blocks int, in, wp []float32, layout weightLayout, out []float32) {
	mr, nr := kern.tileRows, kern.tileCols
	ldb, tapStride := layout.strides(kc, taps, nr)
	ldc := blocks * nr
	tiles := len(pl.starts) - 1
	// Tiles go in chunks whose input rows stay in cache while every block
	// of output columns passes over them.
	chunk := max(1, (64<<10)/(4*mr*kc))
	be.parallel(tiles, func(lo, hi int) {
		for c0 := lo; c0 < hi; c0 += chunk {
			c1 := min(hi, c0+chunk)
			for j := 0; j < blocks; j++ {
				w := &wp[j*taps*kc*nr]
				for ti := c0; ti < c1; ti++ {
					s, e := int(pl.starts[ti]), int(pl.starts[ti+1])
					c := out[ti*mr*ldc+j*nr:]
					if s == e {
						for r := 0; r < mr; r++ {
							clear(c[r*ldc : r*ldc+nr])
						}
						continue
					}
					kern.tile(&pl.table[s*(mr+1)], e-s, kc, &in[0], w, &c[0], ldc, ldb, tapStride)
				}
			}
		}
	})
}

// packEntry remembers a weight tensor's version when it was last packed,
// and the packed copy once the same version has been packed twice.
type packEntry struct {
	version uint64
	packed  []float32
}

// forwardWeights returns w packed for the forward pass, and its layout.
func (be *Backend) forwardWeights(w *Tensor, o, c, taps int) ([]float32, weightLayout) {
	nr := kern.tileCols
	size := (o + nr - 1) / nr * taps * c * nr
	return be.cachedPack(w, packDirect, size, func(layout weightLayout, dst []float32) {
		be.packTaps(w.Data, o, c, taps, nr, false, layout, dst)
	})
}

// packKind tells apart the packed copies kept of one weight tensor.
type packKind uint8

const (
	packDirect   packKind = iota // packTaps of the weights
	packWinograd                 // packTaps of their Winograd transform
)

type packKey struct {
	w    weak.Pointer[uint64]
	kind packKind
}

// cachedPack returns w packed by pack (size floats), and its layout.
// Weights packed twice without a change in between (inference) keep a
// tap-major packed copy; training changes them every step and packs them
// by transposing into scratch, holding no extra memory.
func (be *Backend) cachedPack(w *Tensor, kind packKind, size int, pack func(layout weightLayout, dst []float32)) ([]float32, weightLayout) {
	key, version := packKey{weakKey(w), kind}, *w.counter()
	e, ok := be.packs[key]
	switch {
	case !ok:
		be.sweepPacks()
		e = &packEntry{version: version}
		be.packs[key] = e
	case e.version != version:
		e.version, e.packed = version, nil
	case len(e.packed) != size:
		e.packed = make([]float32, size)
		pack(weightLayout{tapMajor: true}, e.packed)
		return e.packed, weightLayout{tapMajor: true}
	default:
		return e.packed, weightLayout{tapMajor: true}
	}
	wp := be.scratch(1, size)
	pack(weightLayout{}, wp)
	return wp, weightLayout{}
}

// sweepPacks drops the entries of weight tensors that are gone.
func (be *Backend) sweepPacks() {
	if be.packs == nil {
		be.packs = map[packKey]*packEntry{}
	}
	for k := range be.packs {
		if k.w.Value() == nil {
			delete(be.packs, k)
		}
	}
}

func (be *Backend) directForward(g convGeom, xs []float32, w *Tensor, bs, ys []float32) {
	pl := be.plan(g, false)
	nr, taps, p := kern.tileCols, g.kh*g.kw, g.p()
	blocks := (g.o + nr - 1) / nr
	inRows := g.n * g.h * g.w
	in := be.scratch(0, (inRows+1)*g.c)
	be.toPNC(xs, g.n, g.c, g.h*g.w, in)
	clear(in[inRows*g.c:])
	wp, layout := be.forwardWeights(w, g.o, g.c, taps)
	ldc := blocks * nr
	out := be.scratch(2, (len(pl.starts)-1)*kern.tileRows*ldc)
	be.runTiles(pl, g.c, taps, blocks, in, wp, layout, out)
	be.fromRows(out, ldc, g.n, g.o, p, ys, bs, g.d.ReLU)
}

func (be *Backend) directBackwardData(g convGeom, dys, ws, dxs []float32) {
	pl := be.plan(g, true)
	nr, taps, p, inP := kern.tileCols, g.kh*g.kw, g.p(), g.h*g.w
	blocks := (g.c + nr - 1) / nr
	dyRows := g.n * p
	in := be.scratch(0, (dyRows+1)*g.o)
	be.toPNC(dys, g.n, g.o, p, in)
	clear(in[dyRows*g.o:])
	wp := be.scratch(1, blocks*taps*g.o*nr)
	be.packTaps(ws, g.o, g.c, taps, nr, true, weightLayout{}, wp)
	ldc := blocks * nr
	out := be.scratch(2, (len(pl.starts)-1)*kern.tileRows*ldc)
	be.runTiles(pl, g.o, taps, blocks, in, wp, weightLayout{}, out)
	be.fromRows(out, ldc, g.n, g.c, inP, dxs, nil, false)
}

func (be *Backend) directBackwardFilter(g convGeom, xs, dys, dws, dbs []float32) {
	pl := be.plan(g, false)
	mr, nr := kern.mr, kern.nr
	p, inP := g.p(), g.h*g.w
	dyRows, xRows := g.n*p, g.n*inP
	dyS := be.scratch(2, (g.o+mr-1)/mr*dyRows*mr)
	be.toSlivers(dys, g.n, g.o, p, mr, dyS)
	xS := be.scratch(0, (g.c+nr-1)/nr*xRows*nr)
	be.toSlivers(xs, g.n, g.c, inP, nr, xS)
	be.filterProduct(dyS, xS, dyRows, xRows, g.o, g.c, g.kh*g.kw, pl.runs, dws, dbs)
}

// filterProduct computes dw [o, c, taps] = sum over each tap's runs of
// dy[row]^T x[row'], and db (if not nil) = the column sums of dy, from dy
// in slivers of kern.mr channels (dyRows rows) and x in slivers of kern.nr
// (xRows rows).
func (be *Backend) filterProduct(dyS, xS []float32, dyRows, xRows, o, c, taps int, runs [][]rowRun, dws, dbs []float32) {
	mr, nr := kern.mr, kern.nr
	ms, ns := (o+mr-1)/mr, (c+nr-1)/nr
	// dW^T per tap is [ms*mr][ns*nr] (ld columns). With many pairs per tap
	// the pairs of each run are split into two halves summed into two
	// copies, added after; with few (small maps) there is one. The split
	// does not depend on the thread count, so neither do the sums: threads
	// take slivers of O within a half.
	ld := ns * nr
	size := taps * ms * mr * ld
	parts := 1
	if dyRows >= 2*o {
		parts = 2
	}
	partial := be.scratch(1, parts*size)
	clear(partial)
	groups := max(1, (be.threads+parts-1)/parts)
	be.parallel(parts*groups, func(lo, hi int) {
		for task := lo; task < hi; task++ {
			part, group := task/groups, task%groups
			i0, i1 := group*ms/groups, (group+1)*ms/groups
			for t := 0; t < taps; t++ {
				dwt := partial[part*size+t*ms*mr*ld:]
				for _, run := range runs[t] {
					k0, k1 := run.n*part/parts, run.n*(part+1)/parts
					for kb := k0; kb < k1; kb += blockK {
						kc := min(blockK, k1-kb)
						out, in := run.out+kb, run.in+kb
						for j := 0; j < ns; j++ {
							b := &xS[(j*xRows+in)*nr]
							for i := i0; i < i1; i++ {
								kern.fn(kc, &dyS[(i*dyRows+out)*mr], b, &dwt[i*mr*ld+j*nr], ld)
							}
						}
					}
				}
			}
		}
	})
	be.parallel(o, func(lo, hi int) {
		for oc := lo; oc < hi; oc++ {
			dst := dws[oc*c*taps : (oc+1)*c*taps]
			for t := 0; t < taps; t++ {
				off := (t*ms*mr + oc) * ld
				for ch, v := range partial[off : off+c] {
					for part := 1; part < parts; part++ {
						v += partial[part*size+off+ch]
					}
					dst[ch*taps+t] = v
				}
			}
		}
	})
	if dbs != nil {
		// Row by row through each sliver (memory order), mr sums at once.
		be.parallel(ms, func(lo, hi int) {
			var buf [16]float32 // mr is at most 12
			sums := buf[:mr]
			for sl := lo; sl < hi; sl++ {
				clear(sums)
				block := dyS[sl*dyRows*mr : (sl+1)*dyRows*mr]
				for r := 0; r < dyRows; r++ {
					for k, v := range block[r*mr : (r+1)*mr] {
						sums[k] += v
					}
				}
				copy(dbs[sl*mr:min(o, (sl+1)*mr)], sums)
			}
		})
	}
}

// Convolutions with few input channels and many taps (the stem: one
// channel, 7x7) give the tile kernel too little to do per tap. They run as
// a single product over unrolled rows instead ("im2row"): row q*n+img
// holds the C*taps values that output position q of image img reads,
// channel-major like the weights [O, C*taps], so the weights pack as a 1x1
// convolution's.

// maxUnrolled bounds C*taps for im2row: the rows must stay small.
const maxUnrolled = 1024

// useIm2row reports whether the forward pass of convolution g runs as a
// product over unrolled rows. (Its backward-filter stays on im2col + GEMM:
// unrolling into the micro-kernel's slivers measured slower, 13 ms
// against 8 ms for the stem at batch 100.)
func (g convGeom) useIm2row() bool {
	k := g.c * g.kh * g.kw
	rows := g.n * g.p()
	return !forceIm2col && g.c < minDirectChannels && g.o >= minDirectChannels && g.kh*g.kw > 1 &&
		k <= maxUnrolled && (rows+1)*k < 1<<31-1 &&
		(rows+kern.tileRows-1)/kern.tileRows*(kern.tileRows+1) <= maxPlanEntries
}

// im2row unrolls x into dst as rows q*n+img of C*taps values.
func (be *Backend) im2row(g convGeom, xs []float32, dst []float32) {
	byPos := be.tapsByPosition(g)
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

// tapsByPosition is tapTable transposed: for every output position, the
// input offset each tap reads, or -1.
func (be *Backend) tapsByPosition(g convGeom) []int32 {
	key := g.key()
	key.kind = kindByPosition
	if t, ok := be.tables[key]; ok {
		return t
	}
	table, taps, p := be.tapTable(g), g.kh*g.kw, g.p()
	t := make([]int32, len(table))
	for tap := 0; tap < taps; tap++ {
		for q := 0; q < p; q++ {
			t[q*taps+tap] = table[tap*p+q]
		}
	}
	be.tables[key] = t
	return t
}

// rowPlan is the tile table of a product over rows of kc values: one
// entry per tile, reading its rows in order.
func (be *Backend) rowPlan(rows, kc int) *tilePlan {
	key := planKey{n: rows, kc: kc, nr: kern.tileCols, unrolled: true}
	if p, ok := be.plans[key]; ok {
		return p
	}
	mr := kern.tileRows
	pl := &tilePlan{}
	for r0 := 0; r0 < rows; r0 += mr {
		pl.starts = append(pl.starts, int32(r0/mr))
		for i := range mr {
			pl.table = append(pl.table, int32(min(r0+i, rows)*kc+kc))
		}
		pl.table = append(pl.table, 0)
	}
	pl.starts = append(pl.starts, int32(len(pl.table)/(mr+1)))
	if be.plans == nil {
		be.plans = map[planKey]*tilePlan{}
	}
	be.plans[key] = pl
	return pl
}

func (be *Backend) im2rowForward(g convGeom, xs []float32, w *Tensor, bs, ys []float32) {
	k, rows := g.c*g.kh*g.kw, g.n*g.p()
	in := be.scratch(0, (rows+1)*k)
	be.im2row(g, xs, in)
	clear(in[rows*k:])
	pl := be.rowPlan(rows, k)
	nr := kern.tileCols
	blocks := (g.o + nr - 1) / nr
	wp, layout := be.forwardWeights(w, g.o, k, 1)
	ldc := blocks * nr
	out := be.scratch(2, (len(pl.starts)-1)*kern.tileRows*ldc)
	be.runTiles(pl, k, 1, blocks, in, wp, layout, out)
	be.fromRows(out, ldc, g.n, g.o, g.p(), ys, bs, g.d.ReLU)
}

// tile4x8Go is the portable tile kernel (tileFunc).
func tile4x8Go(tbl *int32, taps, kc int, x, w, c *float32, ldc, ldb, tapStride int) {
	var acc [4][8]float32
	entries := unsafe.Slice(tbl, taps*5)
	for t := 0; t < taps; t++ {
		e := entries[t*5 : t*5+5]
		bs := unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(w), 4*int(e[4])*tapStride)), (kc-1)*ldb+8)
		for r := 0; r < 4; r++ {
			xs := unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(x), 4*(int(e[r])-kc))), kc)
			a := &acc[r]
			for k, v := range xs {
				b := bs[k*ldb : k*ldb+8 : k*ldb+8]
				a[0] += v * b[0]
				a[1] += v * b[1]
				a[2] += v * b[2]
				a[3] += v * b[3]
				a[4] += v * b[4]
				a[5] += v * b[5]
				a[6] += v * b[6]
				a[7] += v * b[7]
			}
		}
	}
	cs := unsafe.Slice(c, 3*ldc+8)
	for r := 0; r < 4; r++ {
		copy(cs[r*ldc:r*ldc+8], acc[r][:])
	}
}

// weakKey is the pack cache's key for weight tensor w.
func weakKey(w *Tensor) weak.Pointer[uint64] { return weak.Make(w.counter()) }

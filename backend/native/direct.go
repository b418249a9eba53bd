package native

import (
	"unsafe"

	"github.com/resgo/resgo/backend"
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

// tileOperands are a tile pass's input rows (PNC, with a zero row after
// the last) and packed weights (taps blocks of kc rows per block of
// output columns, in layout): float32, or bfloat16 when x16 is set (the
// same rows rounded, the weights as pairs of k: see packTapsBF16), or bytes
// when x8 is set (rows of kc bytes, the weights as quads of k: see
// u8s8Weights; the int32 sums turned into float32 by int8's epilogue).
type tileOperands struct {
	kc, taps int
	layout   weightLayout
	x, w     []float32
	x16      []uint16
	w16      []uint32
	x8       []uint8
	w8       []uint32
	int8     *int8Epilogues
}

// int8Epilogues are what the int8 tiles apply to their sums, per output
// column (blocks of tileCols): zw[(block·taps + t)·tileCols + col] is the
// zero points' share of tap t, taken off the sums of every tile running
// it; then the scale, the bias and, when relu, the ReLU.
type int8Epilogues struct {
	zw          []int32
	scale, bias []float32
	relu        bool
	// out, when set, takes the outputs as bytes for the next convolution
	// (rows ld bytes apart, quantized with next) instead of runTiles'
	// float32 rows.
	out  []uint8
	ld   int
	next backend.InputQuant
}

// tile runs the tile kernel (the half-height one when half and the set
// has it) over taps entries of a table at tbl, with block j of the
// weights, into c (row stride ldc).
func (op *tileOperands) tile(kern *kernels, half bool, tbl *int32, taps, j int, c *float32, ldc int) {
	nr := kern.tileCols
	if op.x8 != nil {
		kq, ep := op.kc/4, op.int8
		kern.u8s8(tbl, taps, kq, &op.x8[0], &op.w8[j*op.taps*kq*nr], c, ldc, nr, kq*nr,
			&ep.zw[j*op.taps*nr], &ep.scale[j*nr], &ep.bias[j*nr], ep.relu)
		return
	}
	if op.x16 != nil {
		kp := op.kc / 2
		ldb, tapStride := op.layout.strides(kp, op.taps, nr)
		f := kern.bf16.tile
		if half && kern.bf16.tileHalf != nil {
			f = kern.bf16.tileHalf
		}
		f(tbl, taps, kp, &op.x16[0], &op.w16[j*op.taps*kp*nr], c, ldc, ldb, tapStride)
		return
	}
	ldb, tapStride := op.layout.strides(op.kc, op.taps, nr)
	f := kern.tile
	if half && kern.tileHalf != nil {
		f = kern.tileHalf
	}
	f(tbl, taps, op.kc, &op.x[0], &op.w[j*op.taps*op.kc*nr], c, ldc, ldb, tapStride)
}

// tileInput returns the operands of a tile pass over in (PNC rows of kc
// channels): in itself, or in rounded to bfloat16 when bf16. The caller
// adds the weights in the same precision.
func (be *Backend) tileInput(ws *workspace, in []float32, kc, taps int, bf16 bool) *tileOperands {
	op := &tileOperands{kc: kc, taps: taps}
	if bf16 {
		op.x16 = be.roundBF16(ws, in)
	} else {
		op.x = in
	}
	return op
}

// tileBytes runs the int8 tile kernel that stores bytes (op.int8.out)
// for the tile whose first row is row0.
func (op *tileOperands) tileBytes(kern *kernels, tbl *int32, taps, j, row0 int) {
	nr, ep := kern.tileCols, op.int8
	kq := op.kc / 4
	kern.u8s8Bytes(tbl, taps, kq, &op.x8[0], &op.w8[j*op.taps*kq*nr], &ep.out[row0*ep.ld+j*nr], ep.ld, nr, kq*nr,
		&ep.zw[j*op.taps*nr], &ep.scale[j*nr], &ep.bias[j*nr], ep.relu, ep.next.Inverse(), int32(ep.next.Zero))
}

// emptyBytes is empty for a tile storing bytes.
func (op *tileOperands) emptyBytes(mr, nr, j, row0 int) {
	ep := op.int8
	for r := range mr {
		row := ep.out[(row0+r)*ep.ld+j*nr : (row0+r)*ep.ld+(j+1)*nr]
		for col := range row {
			row[col] = ep.next.Quantize(int8Epilogue(0, 0, ep.bias[j*nr+col], ep.relu))
		}
	}
}

// empty writes the outputs of a tile that runs no tap (every row past the
// output's end, or reading only padding): 0, or for int8 the bias (and
// ReLU) its epilogue would add to a zero sum.
func (op *tileOperands) empty(c []float32, j, nr, ldc int) {
	for r := 0; r*ldc < len(c); r++ {
		row := c[r*ldc : r*ldc+nr]
		if op.int8 == nil {
			clear(row)
			continue
		}
		for col := range row {
			row[col] = int8Epilogue(0, 0, op.int8.bias[j*nr+col], op.int8.relu)
		}
	}
}

// runTiles computes out [tiles*mr rows][blocks*nr] from op (or, for int8
// tiles storing bytes, op.int8.out; out is then unused).
func (be *Backend) runTiles(pl *tilePlan, op *tileOperands, blocks int, out []float32) {
	mr, nr := be.kern.tileRows, be.kern.tileCols
	ldc := blocks * nr
	tiles := len(pl.starts) - 1
	// Tiles go in chunks whose input rows stay in cache while every block
	// of output columns passes over them.
	rowBytes := 4 * op.kc
	if op.x8 != nil {
		rowBytes = op.kc
	}
	chunk := max(1, (64<<10)/(mr*rowBytes))
	be.parallel(tiles, func(lo, hi int) {
		for c0 := lo; c0 < hi; c0 += chunk {
			c1 := min(hi, c0+chunk)
			for j := 0; j < blocks; j++ {
				for ti := c0; ti < c1; ti++ {
					s, e := int(pl.starts[ti]), int(pl.starts[ti+1])
					if op.int8 != nil && op.int8.out != nil {
						if s == e {
							op.emptyBytes(mr, nr, j, ti*mr)
						} else {
							op.tileBytes(be.kern, &pl.table[s*(mr+1)], e-s, j, ti*mr)
						}
						continue
					}
					c := out[ti*mr*ldc+j*nr:]
					if s == e {
						op.empty(c[:(mr-1)*ldc+nr], j, nr, ldc)
						continue
					}
					op.tile(be.kern, false, &pl.table[s*(mr+1)], e-s, j, &c[0], ldc)
				}
			}
		}
	})
}

func (be *Backend) directForward(pr *convPrimitive, ws *workspace, xs []float32, w *Tensor, bs []float32, relu bool, ys []float32) {
	g, pl := pr.g, pr.plan
	nr, p := be.kern.tileCols, g.p()
	blocks := (g.o + nr - 1) / nr
	op := be.directOperands(pr, ws, be.directInput(ws, g, xs), w)
	ldc := blocks * nr
	out := ws.take((len(pl.starts) - 1) * be.kern.tileRows * ldc)
	be.runTiles(pl, op, blocks, out)
	be.fromRows(out, ldc, g.n, g.o, p, ys, bs, relu)
}

// directInput returns the input rows of g's direct tiles: xs in PNC rows,
// then the padding row of zeros.
func (be *Backend) directInput(ws *workspace, g convGeom, xs []float32) []float32 {
	inRows := g.n * g.h * g.w
	in := ws.take((inRows + 1) * g.c)
	be.toPNC(xs, g.n, g.c, g.h*g.w, in)
	clear(in[inRows*g.c:])
	return in
}

// directOperands are the forward pass of pr's operands for the tile
// kernels: input rows in (the padding row after them) and the weights,
// both in bfloat16 where pr multiplies in it.
func (be *Backend) directOperands(pr *convPrimitive, ws *workspace, in []float32, w *Tensor) *tileOperands {
	g, taps := pr.g, pr.g.kh*pr.g.kw
	op := be.tileInput(ws, in, g.c, taps, be.bf16(pr))
	if op.x16 != nil {
		op.w16, op.layout = be.forwardWeightsBF16(ws, w, g.o, g.c, taps)
	} else {
		op.w, op.layout = be.forwardWeights(ws, w, g.o, g.c, taps)
	}
	return op
}

// directChain is ConvForwardChain on the direct tile kernels, over the
// whole batch: each convolution's output rows (its channels a whole
// number of tile columns, but for the last) take their bias and ReLU in
// place, and a block's shortcut (its input rows) is added to them, and
// they are the next convolution's input rows as they are, so that no
// activation between them goes to NCHW.
func (be *Backend) directChain(ws *workspace, plan []chainBlock, prs [][2]*convPrimitive, xs, ys []float32) {
	in := be.directInput(ws, plan[0].g1, xs)
	var out []float32
	var ld int
	for i, cb := range plan {
		b := cb.b
		mid, _ := be.directStep(ws, prs[i][0], in, b.W1.(*Tensor), data(b.B1), b.D1.ReLU)
		out, ld = be.directStep(ws, prs[i][1], mid, b.W2.(*Tensor), data(b.B2), b.D2.ReLU)
		if b.Shortcut {
			be.addRowsParallel(out, ld, in, cb.c, cb.g2.n*cb.g2.p(), b.Before, b.ReLU)
		}
		in = out
	}
	g := plan[len(plan)-1].g2
	be.fromRows(out, ld, g.n, g.o, g.p(), ys, nil, false)
}

// directStep runs pr's tiles on input rows in (their padding row after
// them) into new rows of ld columns (the output channels rounded up to
// whole tiles), adds the bias and applies the ReLU there, and clears the
// padding row after the n*P real ones, so that they can be the next
// convolution's input rows when ld is the channel count.
func (be *Backend) directStep(ws *workspace, pr *convPrimitive, in []float32, w *Tensor, bs []float32, relu bool) ([]float32, int) {
	g, mr, nr := pr.g, be.kern.tileRows, be.kern.tileCols
	blocks := (g.o + nr - 1) / nr
	ld, rows := blocks*nr, g.n*g.p()
	// Every row the tiles write (the last tile may run past the images'
	// rows), and the padding row.
	out := ws.take(max((len(pr.plan.starts)-1)*mr, rows+1) * ld)
	be.runTiles(pr.plan, be.directOperands(pr, ws, in, w), blocks, out)
	be.rowsBiasReLU(out[:rows*ld], ld, g.o, bs, relu)
	clear(out[rows*ld : (rows+1)*ld])
	return out, ld
}

// rowsBiasReLU adds bias (nil: none) to the first c columns of every row
// (ld apart) of rows and applies the ReLU (if relu), as fromRows does on
// its way to NCHW.
func (be *Backend) rowsBiasReLU(rows []float32, ld, c int, bias []float32, relu bool) {
	if bias == nil && !relu {
		return
	}
	n := len(rows) / ld
	be.parallel(n, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := rows[r*ld : r*ld+c]
			if bias != nil {
				for j, b := range bias[:c] {
					row[j] += b
				}
			}
			if relu {
				for j, v := range row {
					row[j] = max(v, 0)
				}
			}
		}
	})
}

func (be *Backend) directBackwardData(pr *convPrimitive, ws *workspace, dys, wd, dxs []float32) {
	g, pl := pr.g, pr.plan
	nr, taps, p, inP := be.kern.tileCols, g.kh*g.kw, g.p(), g.h*g.w
	blocks := (g.c + nr - 1) / nr
	dyRows := g.n * p
	in := ws.take((dyRows + 1) * g.o)
	be.toPNC(dys, g.n, g.o, p, in)
	clear(in[dyRows*g.o:])
	op := be.tileInput(ws, in, g.o, taps, be.bf16(pr))
	size := blocks * taps * g.o * nr
	if op.x16 != nil {
		op.w16 = asWords(ws.take(size / 2))
		be.packTapsBF16(ws, wd, g.o, g.c, taps, true, weightLayout{}, op.w16)
	} else {
		op.w = ws.take(size)
		be.packTaps(wd, g.o, g.c, taps, nr, true, weightLayout{}, op.w)
	}
	ldc := blocks * nr
	out := ws.take((len(pl.starts) - 1) * be.kern.tileRows * ldc)
	be.runTiles(pl, op, blocks, out)
	be.fromRows(out, ldc, g.n, g.c, inP, dxs, nil, false)
}

func (be *Backend) directBackwardFilter(pr *convPrimitive, ws *workspace, xs, dys, dws, dbs []float32) {
	g := pr.g
	mr, nr := be.kern.mr, be.kern.nr
	p, inP := g.p(), g.h*g.w
	dyRows, xRows := g.n*p, g.n*inP
	taps := g.kh * g.kw
	if be.bf16(pr) {
		// Rows in pairs: every run starts at a multiple of n and spans a
		// multiple of n rows, so with n even no pair straddles two runs.
		dy := ws.take(dyRows * g.o)
		be.toPNC(dys, g.n, g.o, p, dy)
		x := ws.take(xRows * g.c)
		be.toPNC(xs, g.n, g.c, inP, x)
		dy2 := asWords(ws.take(dyRows/2*g.o + 2*mr))
		x2 := asWords(ws.take(xRows/2*g.c + 2*nr))
		be.parallel(2, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				if i == 0 {
					be.pairPlane(dy, dyRows, g.o, dy2)
				} else {
					be.pairPlane(x, xRows, g.c, x2)
				}
			}
		})
		be.filterProduct(ws, dyRows, g.o, g.c, taps, pr.runs, true, func(kc, out, in, i, j int, c *float32, ld int) {
			be.kern.bf16.stridedAdd(kc/2, &dy2[out/2*g.o+i*mr], &x2[in/2*g.c+j*nr], c, ld, g.o, g.c)
		}, dws)
		if dbs != nil {
			be.columnSums(dy, dyRows, g.o, dbs)
		}
		return
	}
	dyS := ws.take((g.o + mr - 1) / mr * dyRows * mr)
	be.toSlivers(dys, g.n, g.o, p, mr, dyS)
	xS := ws.take((g.c + nr - 1) / nr * xRows * nr)
	be.toSlivers(xs, g.n, g.c, inP, nr, xS)
	be.filterProduct(ws, dyRows, g.o, g.c, taps, pr.runs, false, func(kc, out, in, i, j int, c *float32, ld int) {
		be.kern.fn(kc, &dyS[(i*dyRows+out)*mr], &xS[(j*xRows+in)*nr], c, ld)
	}, dws)
	if dbs != nil {
		be.sliverSums(dyS, dyRows, g.o, dbs)
	}
}

// filterProduct computes dw [o, c, taps] = sum over each tap's runs of
// dy[row]^T x[row'] (dyRows rows of dy), through product, which adds the mr x nr block (i, j)
// (slivers of the micro-kernel's mr output and nr input channels) of
// dy[out:out+kc]^T x[in:in+kc] to c (row stride ld). Where even, every
// split of the rows falls on an even row (for products over pairs).
func (be *Backend) filterProduct(ws *workspace, dyRows, o, c, taps int, runs [][]rowRun, even bool, product func(kc, out, in, i, j int, c *float32, ld int), dws []float32) {
	kern := be.kern
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
	split := func(n, part int) int {
		k := n * part / parts
		if even {
			k &^= 1
		}
		return k
	}
	partial := ws.take(parts * size)
	be.clear(partial)
	groups := max(1, (be.opts.Threads+parts-1)/parts)
	be.parallel(parts*groups, func(lo, hi int) {
		for task := lo; task < hi; task++ {
			part, group := task/groups, task%groups
			i0, i1 := group*ms/groups, (group+1)*ms/groups
			for t := 0; t < taps; t++ {
				dwt := partial[part*size+t*ms*mr*ld:]
				for _, run := range runs[t] {
					k0, k1 := split(run.n, part), split(run.n, part+1)
					for kb := k0; kb < k1; kb += blockK {
						kc := min(blockK, k1-kb)
						out, in := run.out+kb, run.in+kb
						for j := 0; j < ns; j++ {
							for i := i0; i < i1; i++ {
								product(kc, out, in, i, j, &dwt[i*mr*ld+j*nr], ld)
							}
						}
					}
				}
			}
		}
	})
	if parts > 1 {
		const span = 4 << 10
		be.parallel((size+span-1)/span, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				sum := partial[i*span : min(size, (i+1)*span)]
				for part := 1; part < parts; part++ {
					kern.add(sum, partial[part*size+i*span:][:len(sum)])
				}
			}
		})
	}
	// Each output channel's taps rows of c sums become its [c][taps]:
	// 8 taps at a time through the 8x8 transpose, then the rest.
	plane, blocks := ms*mr*ld, c/8
	be.parallel(o, func(lo, hi int) {
		for oc := lo; oc < hi; oc++ {
			dst := dws[oc*c*taps : (oc+1)*c*taps]
			t := 0
			for ; t+8 <= taps && blocks > 0; t += 8 {
				kern.transpose8x8(partial[t*plane+oc*ld:], plane, dst[t:], taps, blocks)
			}
			for ; t < taps; t++ {
				for ch, v := range partial[t*plane+oc*ld : t*plane+oc*ld+8*blocks] {
					dst[ch*taps+t] = v
				}
			}
			for t := 0; t < taps; t++ {
				for ch := 8 * blocks; ch < c; ch++ {
					dst[ch*taps+t] = partial[t*plane+oc*ld+ch]
				}
			}
		}
	})
}

// sliverSums writes db, the column sums of dy in slivers of the
// micro-kernel's mr channels (dyRows rows each): row by row through each
// sliver (memory order), mr sums at once.
func (be *Backend) sliverSums(dyS []float32, dyRows, o int, dbs []float32) {
	mr := be.kern.mr
	be.parallel((o+mr-1)/mr, func(lo, hi int) {
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

// columnSums writes db, the column sums of rows rows of o values.
func (be *Backend) columnSums(dy []float32, rows, o int, dbs []float32) {
	be.parallel(o, func(lo, hi int) {
		sums := dbs[lo:hi]
		clear(sums)
		for r := 0; r < rows; r++ {
			for k, v := range dy[r*o+lo : r*o+hi] {
				sums[k] += v
			}
		}
	})
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

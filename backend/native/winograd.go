package native

import "sync"

// Winograd convolution, F(4x4, 3x3): each 4x4 block of outputs of a 3x3,
// stride-1, pad-1 convolution is computed from the 6x6 block of inputs
// around it as
//
//	Y = A^T [ sum over input channels of (G g G^T) ⊙ (B^T d B) ] A
//
// so a block costs 36 multiply-adds per channel pair instead of 144: 4x
// fewer on big maps, 2.5-2.8x on this model's 14x14, 7x7 and 4x4 maps once
// the tiles that stick out of the map are counted (2x2 maps gain nothing
// and keep the direct kernels).
//
// With the activations in PNC rows (see direct.go) the three steps are:
//   - input transform: every (tile, image) row's 6x6 patch of C-vectors
//     becomes 36 C-vectors V[ξ][row] (ξ = one of the 36 transform points),
//   - 36 independent products M[ξ] = V[ξ] U[ξ], U[ξ] the transformed
//     weights [C x O]; these run on the direct path's tile kernel, the 36
//     points standing in for its taps (one tap per tile),
//   - output transform: the 36 O-vectors of each row become its 4x4 block
//     of output pixels (those inside the map), in PNC rows again.
//
// The weight transform G g G^T is a product with a constant 36x9 matrix,
// so it runs on the GEMM, straight into the packed layout. Backward-data
// is the same convolution on dy with the weights flipped and transposed;
// backward-filter works in the transformed domain too (see
// winoBackwardFilter). The transforms' constants (1/6, 1/12, 1/24, and the
// 4s, 5s, 8s of B and A) cost a little precision: the results agree with
// the direct kernels to a few parts in 10^5 of the outputs' root mean
// square at worst.

const winoPoints = 36 // transform points per tile: (4+3-1)^2

// winoTiles is the 4x4-block tiling of one map size: for every tile, the
// pixel (index in the map) of each of its 36 input taps, -1 in the
// padding, and of each of its 16 outputs, -1 outside the map.
type winoTiles struct {
	count  int
	pixels int // of the map
	in     [][36]int32
	out    [][16]int32
}

// rowOffsets fills offs with where row (tile t, image img of n) finds each
// of pixels' entries (tl.in[t] or tl.out[t]) in PNC rows of c channels:
// the pixel's row, or the spare row after the n*P real ones (zeros for
// the input, a sink for the output) where there is no pixel.
func (tl *winoTiles) rowOffsets(pixels []int32, t, img, n, c int, offs []int32) {
	spare := int32(n * tl.pixels * c)
	for k, px := range pixels {
		offs[k] = spare
		if px >= 0 {
			offs[k] = (px*int32(n) + int32(img)) * int32(c)
		}
	}
}

// winoTiling returns the 4x4 tiling of an h x w map.
func winoTiling(h, w int) *winoTiles {
	th, tw := (h+3)/4, (w+3)/4
	t := &winoTiles{count: th * tw, pixels: h * w, in: make([][36]int32, th*tw), out: make([][16]int32, th*tw)}
	pixel := func(y, x int) int32 {
		if y < 0 || y >= h || x < 0 || x >= w {
			return -1
		}
		return int32(y*w + x)
	}
	for ty := 0; ty < th; ty++ {
		for tx := 0; tx < tw; tx++ {
			i := ty*tw + tx
			for k := 0; k < 36; k++ {
				t.in[i][k] = pixel(4*ty-1+k/6, 4*tx-1+k%6)
			}
			for k := 0; k < 16; k++ {
				t.out[i][k] = pixel(4*ty+k/4, 4*tx+k%4)
			}
		}
	}
	return t
}

// winoWeightMatrices are the weight transforms as [9][36] matrices: U[o,c]
// (36 points) = g[o,c] (9 taps) times the matrix; the second one flips
// the kernel first (backward-data).
var winoWeightMatrices = sync.OnceValue(func() [2][]float32 {
	gm := [6][3]float64{
		{1.0 / 4, 0, 0},
		{-1.0 / 6, -1.0 / 6, -1.0 / 6},
		{-1.0 / 6, 1.0 / 6, -1.0 / 6},
		{1.0 / 24, 1.0 / 12, 1.0 / 6},
		{1.0 / 24, -1.0 / 12, 1.0 / 6},
		{0, 0, 1},
	}
	var m [2][]float32
	for flip := range 2 {
		m[flip] = make([]float32, 9*winoPoints)
		for a := 0; a < 3; a++ {
			for b := 0; b < 3; b++ {
				tap := a*3 + b
				if flip == 1 {
					tap = 8 - tap
				}
				for xi := 0; xi < winoPoints; xi++ {
					m[flip][tap*winoPoints+xi] = float32(gm[xi/6][a] * gm[xi%6][b])
				}
			}
		}
	}
	return m
})

// winoPackWeights writes the Winograd transform of weights w [o][c][3][3]
// packed tap-major for the tile kernel, the 36 points standing in for the
// taps: dst[j][ξ][k][col] (see packTaps), k over c and columns over o, or,
// for backward-data (transposed), k over o and columns over c with the
// kernels flipped. With pairs set (kc even), the points are rounded to
// bfloat16 pairs into pairs, half as many words as dst would take floats;
// dst is then unused.
//
// Each worker takes whole blocks of columns: packTaps' block
// [k][tap][col] into a scratch of its own, then per row k a product
// [36 x 9] x [9 x col] on the strided micro-kernel, reading the 9 taps
// where the pack put them and writing each point's row in place, mr
// points at a time (in bfloat16: into a second scratch, rounded into
// pairs while in cache). Neither scratch goes to memory.
func (be *Backend) winoPackWeights(ws *workspace, w []float32, o, c int, transposed bool, dst []float32, pairs []uint32) {
	kern := be.kern
	mr, nr, tc := kern.mr, kern.nr, kern.tileCols
	if winoPoints%mr != 0 || tc%nr != 0 {
		panic("native: Winograd's weight transform needs mr | 36 and nr | tileCols")
	}
	kc, cols := c, o
	if transposed {
		kc, cols = o, c
	}
	blocks, block, out := (cols+tc-1)/tc, kc*9*tc, kc*tc*winoPoints
	mat := winoWeightMatrices()[b2i(transposed)] // [tap][ξ]
	workers := min(be.opts.Threads, blocks)
	defer ws.release(ws.mark())
	raws := ws.take(workers * block)
	var scratch []float32
	if pairs != nil {
		scratch = ws.take(workers * mr * kc * tc)
	}
	ldc, kp := kc*tc, kc/2
	be.parallelWorkers(blocks, func(worker, lo, hi int) {
		raw := raws[worker*block : (worker+1)*block]
		for j := lo; j < hi; j++ {
			be.packTapsBlock(w, o, c, 9, tc, transposed, weightLayout{}, j, raw)
			for g := 0; g < winoPoints/mr; g++ {
				var dstRows []float32
				if pairs != nil {
					dstRows = scratch[worker*mr*kc*tc : (worker+1)*mr*kc*tc]
				} else {
					dstRows = dst[j*out+g*mr*kc*tc:]
				}
				for k := 0; k < kc; k++ {
					for s := 0; s < tc; s += nr {
						kern.strided(9, &mat[g*mr], &raw[k*9*tc+s], &dstRows[k*tc+s], ldc, winoPoints, tc)
					}
				}
				if pairs == nil {
					continue
				}
				for xi := g * mr; xi < (g+1)*mr; xi++ {
					base := dstRows[(xi-g*mr)*kc*tc:]
					kern.bf16.pairRows(kp, base, base[tc:], 2*tc, pairs[(j*winoPoints+xi)*kp*tc:], tc)
				}
			}
		}
	})
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// winoBlock is how rows (tile x image pairs) are processed: blocks of
// rows rows, whose 36 planes of transformed inputs (vPlane floats apart)
// and of products (mPlane apart) stay in a core's L2 cache while the
// transformed weights stream past them; table lists the tile kernel's
// entries, point by point, tile by tile.
type winoBlock struct {
	rows, vPlane, mPlane int
	table                []int32
}

// Block sizes, in floats of a block's transformed inputs and products
// together. With few channels the transformed weights fit in L2 beside a
// block of winoL2Budget; with many, every block streams all of them from
// L3, so blocks grow (up to winoL3Budget, and to a share per thread) to
// read them fewer times.
const (
	winoL2Budget = 128 << 10
	winoL3Budget = 1 << 20
)

func (be *Backend) winoBlocking(totalRows, kc, ldc int) *winoBlock {
	mr := be.kern.tileRows
	perRow := winoPoints * (kc + ldc)
	rows := winoL2Budget / perRow
	if winoPoints*kc*ldc > winoL2Budget {
		share := (totalRows + be.opts.Threads - 1) / be.opts.Threads
		rows = max(rows, min(share, winoL3Budget/perRow))
	}
	rows = max(mr, (rows+mr/2)/mr*mr)
	rows = min(rows, (totalRows+mr-1)/mr*mr)
	// Planes a whole number of pages apart would fall on the same cache
	// sets: 16 floats more moves each plane to the next line.
	b := &winoBlock{rows: rows, vPlane: rows*kc + 16, mPlane: rows*ldc + 16}
	for xi := 0; xi < winoPoints; xi++ {
		for t := 0; t < rows/mr; t++ {
			for i := range mr {
				b.table = append(b.table, int32(xi*b.vPlane+(t*mr+i)*kc+kc))
			}
			b.table = append(b.table, int32(xi))
		}
	}
	return b
}

// winoStep is one convolution of the chain winoChain takes each group of
// images through: its primitive (tiling, blocking), its channels in and
// out, its packed transformed weights, bias and ReLU; keep marks a
// residual block's first step (its input is kept for the shortcut), add
// its last (the kept input is added from channel before on, then the ReLU
// if sumReLU).
type winoStep struct {
	pr        *convPrimitive
	ci, co    int
	wp        *tileOperands
	bs        []float32
	relu      bool
	keep, add bool
	before    int
	sumReLU   bool
}

// winoConv computes ys (NCHW [n, co, h, w]) from xs (NCHW [n, ci, h, w])
// and the transformed weights wp, packed tap-major: the shared body of
// forward and backward-data.
func (be *Backend) winoConv(pr *convPrimitive, ws *workspace, ci, co int, xs []float32, wp *tileOperands, bs []float32, relu bool, ys []float32) {
	be.winoChain(ws, pr.g.n, pr.group, xs, []winoStep{{pr: pr, ci: ci, co: co, wp: wp, bs: bs, relu: relu}}, ys)
}

// winoChain computes ys (NCHW) from xs (NCHW) through steps, convolutions
// on maps of one size, each step's output the next one's input (and
// residual blocks' shortcuts added, see winoStep). Images go in groups,
// each thread taking whole groups through every step in buffers of its
// own: into PNC rows, then every step's blocks of rows through the three
// Winograd steps, its output rows in PNC being the next step's input rows
// as they are, then back to NCHW. The PNC copies stay in cache instead of
// making a round trip to memory, and between two steps the activation
// never goes to NCHW at all.
func (be *Backend) winoChain(ws *workspace, n, group int, xs []float32, steps []winoStep, ys []float32) {
	kern := be.kern
	p := steps[0].pr.g.h * steps[0].pr.g.w
	first, last := steps[0].ci, steps[len(steps)-1].co
	groups := (n + group - 1) / group
	parts := min(be.opts.Threads, groups)
	width, vSize, mSize, bf16, nbuf := 0, 0, 0, false, 2
	for _, s := range steps {
		width = max(width, s.ci, s.co)
		vSize = max(vSize, winoPoints*s.pr.block.vPlane)
		mSize = max(mSize, winoPoints*s.pr.block.mPlane)
		bf16 = bf16 || s.wp.w16 != nil
		if s.keep {
			nbuf = 3 // input, output, and a block's input kept
		}
	}
	bufSize := (group*p + 1) * width // PNC rows of a group, and the spare row
	bufs := ws.take(nbuf * parts * bufSize)
	vAll, mAll := ws.take(parts*vSize), ws.take(parts*mSize)
	// In bfloat16 the transformed inputs are rounded into a copy of the
	// planes (same element offsets, half the bytes) before the products.
	var v16All []uint16
	if bf16 {
		v16All = asBF16(ws.take(parts * vSize / 2))
	}
	// The threads claim groups one at a time: a thread whose core runs
	// slower takes fewer, instead of holding the other up at the end.
	be.parallelClaim(groups, func(part, grp int) {
		var scr winoScratch
		buf := make([][]float32, nbuf)
		for i := range buf {
			buf[i] = bufs[(nbuf*part+i)*bufSize : (nbuf*part+i+1)*bufSize]
		}
		scr.v, scr.m = vAll[part*vSize:(part+1)*vSize], mAll[part*mSize:(part+1)*mSize]
		if bf16 {
			scr.v16 = v16All[part*vSize : (part+1)*vSize]
		}
		img0 := grp * group
		cnt := min(group, n-img0)
		src, dst := xs[img0*first*p:(img0+cnt)*first*p], ys[img0*last*p:(img0+cnt)*last*p]
		for img := 0; img < cnt; img++ {
			sliverImage(kern, src, cnt, first, p, first, buf[0], img)
		}
		in, kept, keptC := 0, -1, 0
		for i := range steps {
			s := &steps[i]
			// The spare row: zeros for the input transform (after
			// a step, it holds what fell outside the map).
			clear(buf[in][cnt*p*s.ci : (cnt*p+1)*s.ci])
			if s.keep {
				kept, keptC = in, s.ci
			}
			out := 0
			for out == in || out == kept {
				out++
			}
			be.winoGroup(s, cnt, buf[in], &scr, buf[out])
			if s.add {
				addRows(kern, buf[out], s.co, buf[kept], keptC, cnt*p, s.before, s.sumReLU)
				kept = -1
			}
			in = out
		}
		for img := 0; img < cnt; img++ {
			rowsImage(kern, buf[in], last, cnt, last, p, dst, nil, false, img)
		}
	})
}

// winoScratch is a thread's buffers for winoGroup: the transformed
// inputs (float32, and their bfloat16 copy) and the products, plus the
// row offsets of the transforms.
type winoScratch struct {
	v, m    []float32
	v16     []uint16
	inOffs  [36]int32
	outOffs [16]int32
}

// winoGroup runs step s on a group of cnt images: in holds their PNC rows
// of s.ci channels and a spare row of zeros; their PNC rows of s.co
// channels go to out (and what falls outside the map to its spare row).
func (be *Backend) winoGroup(s *winoStep, cnt int, in []float32, sc *winoScratch, out []float32) {
	kern, tl, blk := be.kern, s.pr.tiling, s.pr.block
	mr, nr := kern.tileRows, kern.tileCols
	ci, co := s.ci, s.co
	blocks := (co + nr - 1) / nr
	ldc := blocks * nr
	v, m := sc.v, sc.m
	op := *s.wp
	bf16 := op.w16 != nil
	if bf16 {
		op.x16 = sc.v16
	} else {
		op.x = v
	}
	// Where the kernels have it, the input transform writes bfloat16
	// itself: no float32 planes, no rounding pass.
	fused := bf16 && kern.bf16.winoInput != nil && ci%kern.bf16.winoInputLanes == 0
	rows := tl.count * cnt
	for r0 := 0; r0 < rows; r0 += blk.rows {
		r1 := min(rows, r0+blk.rows)
		for r := r0; r < r1; r++ {
			tl.rowOffsets(tl.in[r/cnt][:], r/cnt, r%cnt, cnt, ci, sc.inOffs[:])
			if fused {
				kern.bf16.winoInput(in, &sc.inOffs, ci, op.x16[(r-r0)*ci:], blk.vPlane)
			} else {
				kern.winoInput(in, &sc.inOffs, ci, v[(r-r0)*ci:], blk.vPlane)
			}
		}
		if bf16 && !fused {
			for xi := 0; xi < winoPoints; xi++ {
				plane := xi*blk.vPlane + (r1-r0)*ci
				kern.bf16.round(op.x16[xi*blk.vPlane:plane], v[xi*blk.vPlane:plane])
			}
		}
		tiles := (r1 - r0 + mr - 1) / mr
		// A last tile at most half full takes the half-height kernel.
		lastHalf := r1-r0-(tiles-1)*mr <= mr/2
		for xi := 0; xi < winoPoints; xi++ {
			for j := 0; j < blocks; j++ {
				for t := 0; t < tiles; t++ {
					e := (xi*(blk.rows/mr) + t) * (mr + 1)
					op.tile(kern, lastHalf && t == tiles-1, &blk.table[e], 1, j, &m[xi*blk.mPlane+t*mr*ldc+j*nr], ldc)
				}
			}
		}
		for r := r0; r < r1; r++ {
			tl.rowOffsets(tl.out[r/cnt][:], r/cnt, r%cnt, cnt, co, sc.outOffs[:])
			kern.winoOutput(m[(r-r0)*ldc:], blk.mPlane, co, out, &sc.outOffs, s.bs, s.relu)
		}
	}
}

// winoGroupBudget is the size in floats of one group's two PNC copies
// (input and output), to stay in a core's L2 cache.
const winoGroupBudget = 256 << 10

// winoGroupSize returns how many images winoConv takes through its steps
// together: as many as fit winoGroupBudget (at least a few kernel tiles of
// rows); when the transformed weights are too large to stay in L2, as
// many as each thread's share, so that they stream past fewer groups.
// The groups are then evened out to a multiple of the thread count: the
// threads take whole groups, and 5 groups on 2 threads (128 channels on
// 7x7 at batch 100) left one thread waiting for a third of the pass.
func (be *Backend) winoGroupSize(n, p, tiles, ci, co int) int {
	threads := be.opts.Threads
	share := (n + threads - 1) / threads
	if winoPoints*ci*co > winoL2Budget {
		return share
	}
	group := max(1, min(share, max(winoGroupBudget/(p*(ci+co)), (4*be.kern.tileRows+tiles-1)/tiles)))
	groups := (n + group - 1) / group
	groups = (groups + threads - 1) / threads * threads
	return (n + groups - 1) / groups
}

func (be *Backend) winoForward(pr *convPrimitive, ws *workspace, xs []float32, w *Tensor, bs []float32, relu bool, ys []float32) {
	step := be.winoForwardStep(pr, ws, w, bs, relu)
	be.winoChain(ws, pr.g.n, pr.group, xs, []winoStep{step}, ys)
}

// winoForwardStep is the forward pass of pr as a step of winoChain, its
// transformed weights packed (or taken from the cache).
func (be *Backend) winoForwardStep(pr *convPrimitive, ws *workspace, w *Tensor, bs []float32, relu bool) winoStep {
	g, nr := pr.g, be.kern.tileCols
	size := (g.o + nr - 1) / nr * winoPoints * g.c * nr
	op := &tileOperands{kc: g.c, taps: winoPoints, layout: weightLayout{tapMajor: true}}
	if be.bf16(pr) {
		words, _ := be.cachedPack(ws, w, packWinogradBF16, size/2, func(_ weightLayout, dst []float32) {
			be.winoPackWeights(ws, w.Data, g.o, g.c, false, nil, asWords(dst))
		})
		op.w16 = asWords(words)
	} else {
		op.w, _ = be.cachedPack(ws, w, packWinograd, size, func(_ weightLayout, dst []float32) {
			be.winoPackWeights(ws, w.Data, g.o, g.c, false, dst, nil)
		})
	}
	return winoStep{pr: pr, ci: g.c, co: g.o, wp: op, bs: bs, relu: relu}
}

func (be *Backend) winoBackwardData(pr *convPrimitive, ws *workspace, dys, wd, dxs []float32) {
	g, nr := pr.g, be.kern.tileCols
	op := &tileOperands{kc: g.o, taps: winoPoints, layout: weightLayout{tapMajor: true}}
	size := (g.c + nr - 1) / nr * winoPoints * g.o * nr
	if be.bf16(pr) {
		op.w16 = asWords(ws.take(size / 2))
		be.winoPackWeights(ws, wd, g.o, g.c, true, nil, op.w16)
	} else {
		op.w = ws.take(size)
		be.winoPackWeights(ws, wd, g.o, g.c, true, op.w, nil)
	}
	be.winoConv(pr, ws, g.o, g.c, dys, op, nil, false, dxs)
}

// winoInputGo is the portable input transform: for channels k < c,
// v[ξ*planeStride + k] = (B^T d B)[ξ] with d[i][j] = x[offs[6i+j] + k].
func winoInputGo(x []float32, offs *[36]int32, c int, v []float32, planeStride int) {
	var d [36]float32
	for k := 0; k < c; k++ {
		for i, o := range offs {
			d[i] = x[int(o)+k]
		}
		for j := 0; j < 6; j++ {
			o := inputTransform6([6]float32{d[j], d[6+j], d[12+j], d[18+j], d[24+j], d[30+j]})
			for i := range 6 {
				d[6*i+j] = o[i]
			}
		}
		for i := 0; i < 6; i++ {
			o := inputTransform6([6]float32(d[6*i : 6*i+6]))
			for j := range 6 {
				v[(6*i+j)*planeStride+k] = o[j]
			}
		}
	}
}

// winoOutputGo is the portable output transform: for channels k < c,
// y[offs[4i+j] + k] = (A^T M A)[i][j] + bias[k] (bias nil: 0) with
// M[ξ] = m[ξ*planeStride + k], then the ReLU when relu.
func winoOutputGo(m []float32, planeStride, c int, y []float32, offs *[16]int32, bias []float32, relu bool) {
	var t [24]float32
	for k := 0; k < c; k++ {
		for i := 0; i < 6; i++ {
			var row [6]float32
			for j := range 6 {
				row[j] = m[(6*i+j)*planeStride+k]
			}
			o := outputTransform6(row)
			for l := range 4 {
				t[6*l+i] = o[l]
			}
		}
		b := float32(0)
		if bias != nil {
			b = bias[k]
		}
		for l := 0; l < 4; l++ {
			o := outputTransform6([6]float32(t[6*l : 6*l+6]))
			for i := range 4 {
				v := o[i] + b
				if relu && v < 0 {
					v = 0
				}
				y[int(offs[4*i+l])+k] = v
			}
		}
	}
}

// inputTransform6 applies B^T to six values.
func inputTransform6(d [6]float32) [6]float32 {
	a, b := d[4]-4*d[2], d[3]-4*d[1]
	c, e := d[4]-d[2], 2*(d[3]-d[1])
	return [6]float32{4*d[0] - 5*d[2] + d[4], a + b, a - b, c + e, c - e, 4*d[1] - 5*d[3] + d[5]}
}

// winoGradGo is the portable transform of output gradients: for channels
// k < c, v[ξ*planeStride + k] = (A d A^T)[ξ] with d[i][j] = dy[offs[4i+j] + k].
func winoGradGo(dy []float32, offs *[16]int32, c int, v []float32, planeStride int) {
	var t [24]float32
	for k := 0; k < c; k++ {
		for l := 0; l < 4; l++ {
			col := gradTransform4([4]float32{dy[int(offs[l])+k], dy[int(offs[4+l])+k], dy[int(offs[8+l])+k], dy[int(offs[12+l])+k]})
			for i := range 6 {
				t[4*i+l] = col[i]
			}
		}
		for i := 0; i < 6; i++ {
			row := gradTransform4([4]float32(t[4*i : 4*i+4]))
			for j := range 6 {
				v[(6*i+j)*planeStride+k] = row[j]
			}
		}
	}
}

// gradTransform4 applies A (the transpose of A^T) to four values.
func gradTransform4(y [4]float32) [6]float32 {
	s, d := y[0]+y[2], y[1]+y[3]
	s2, d2 := y[0]+4*y[2], 2*y[1]+8*y[3]
	return [6]float32{y[0], s + d, s - d, s2 + d2, s2 - d2, y[3]}
}

// outputTransform6 applies A^T to six values.
func outputTransform6(m [6]float32) [4]float32 {
	s1, d1 := m[1]+m[2], m[1]-m[2]
	s2, d2 := m[3]+m[4], m[3]-m[4]
	return [4]float32{m[0] + s1 + s2, d1 + 2*d2, s1 + 4*s2, d1 + 8*d2 + m[5]}
}

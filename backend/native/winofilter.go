package native

// Winograd's backward-filter pass. With V the transformed inputs and
// D = A dY A^T the transformed output gradients (the adjoint of the output
// transform), per point dU[ξ] = D[ξ]^T V[ξ] summed over tiles and images
// (the rows being the long side), and dw = dU through the adjoint of the
// weight transform.
//
// Two schedules. On big maps with few channels (64 on 14x14) the
// transformed planes of a whole batch are tens of megabytes while dU is
// small: images then go in groups, a worker taking a group through every
// step in buffers that stay in cache and adding into one of a fixed number
// of partial dUs (winoFilterGroups). Otherwise the whole batch is
// transformed at once and the workers split the 36 points
// (winoFilterBatch).

// winoFilterGroupFloats bounds a group's transformed planes (V and D, in
// floats), to stay in a core's L2 cache beside its dU.
const winoFilterGroupFloats = 160 << 10

// winoFilterGroup returns how many images winoFilterGroups takes
// together for g, or 0 where the whole batch goes at once: grouping pays
// where a dU (36 x o x c) stays in L2 and is small beside the batch's
// planes. Measured 2026-12-02 (BenchmarkConvPasses, batch 100, float32 and
// bf16): 64 x 14x14 5.1 and 4.4 ms a pass at once, 3.2 and 3.0 in groups;
// 128 x 7x7 3.3 and 2.6 at once, 5.0 and 4.5 in groups (each group's
// products add into a 2.4 MB dU), 256 x 4x4 worse still.
func winoFilterGroup(g convGeom, tiles int) int {
	du := winoPoints * g.o * g.c
	planes := winoPoints * tiles * g.n * (g.c + g.o)
	if du > 2*winoL2Budget || 8*du > planes {
		return 0
	}
	return max(1, winoFilterGroupFloats/(winoPoints*tiles*(g.c+g.o)))
}

// filterLayout is where dU lives: [36][o rounded up to mr][ld], ld the
// input channels rounded up to nr, so that the strided kernels write
// whole blocks with no edge copies.
type filterLayout struct {
	mBlocks, nBlocks, ld, plane int
}

func (be *Backend) filterLayoutOf(ci, co int) filterLayout {
	mr, nr := be.kern.mr, be.kern.nr
	l := filterLayout{mBlocks: (co + mr - 1) / mr, nBlocks: (ci + nr - 1) / nr}
	l.ld = l.nBlocks * nr
	l.plane = l.mBlocks * mr * l.ld
	return l
}

func (be *Backend) winoBackwardFilter(pr *convPrimitive, ws *workspace, xs, dys, dws, dbs []float32) {
	g := pr.g
	l := be.filterLayoutOf(g.c, g.o)
	var du []float32
	if pr.group > 0 {
		du = be.winoFilterGroups(pr, ws, pr.group, xs, dys, l, dbs)
	} else {
		// The adjoint reads whole blocks of nr columns: nr more floats.
		du = ws.take(winoPoints*l.plane + be.kern.nr)
		be.winoFilterBatch(pr, ws, xs, dys, l, du, dbs)
	}
	be.winoFilterAdjoint(du, l, g.o, g.c, dws)
}

// winoFilterBatch computes dU (layout l) and db (if not nil) transforming
// the whole batch at once: the workers split the rows for the transforms,
// then the 36 points for the products.
func (be *Backend) winoFilterBatch(pr *convPrimitive, ws *workspace, xs, dys []float32, l filterLayout, du, dbs []float32) {
	g, kern := pr.g, be.kern
	n, ci, co, p := g.n, g.c, g.o, g.h*g.w
	tl := pr.tiling
	rows, pixels := tl.count*n, n*p
	nr := kern.nr
	// Each plane is followed by a few spare rows: the strided kernel
	// reads whole blocks of mr (nr) channels past the last real one.
	vPlane, dPlane := rows*ci+2*nr, rows*co+2*nr
	in := ws.take((pixels + 1) * ci)
	be.toPNC(xs, n, ci, p, in)
	clear(in[pixels*ci:])
	dy := ws.take((pixels + 1) * co)
	be.toPNC(dys, n, co, p, dy)
	clear(dy[pixels*co:])
	v := ws.take(winoPoints * vPlane)
	d := ws.take(winoPoints * dPlane)
	be.parallel(rows, func(lo, hi int) {
		var inOffs [36]int32
		var dyOffs [16]int32
		for r := lo; r < hi; r++ {
			tl.rowOffsets(tl.in[r/n][:], r/n, r%n, n, ci, inOffs[:])
			kern.winoInput(in, &inOffs, ci, v[r*ci:], vPlane)
			tl.rowOffsets(tl.out[r/n][:], r/n, r%n, n, co, dyOffs[:])
			kern.winoGrad(dy, &dyOffs, co, d[r*co:], dPlane)
		}
	})
	pairs := be.filterPairs(pr, rows, ci, co, ws)
	be.parallelClaim(winoPoints, func(worker, xi int) {
		be.filterPoint(pairs.of(worker), d[xi*dPlane:], v[xi*vPlane:], rows, ci, co, l, du[xi*l.plane:], false)
	})
	if dbs != nil {
		clear(dbs)
		biasGrads(kern, d[7*dPlane:], rows, co, dbs)
	}
}

// winoFilterGroups returns dU (layout l, and nr floats to spare) and
// computes db (if not nil) group of images by group (sumOverSlots): a
// worker takes a group into PNC rows, through both transforms and into
// the products added to its slot's dU, all in buffers of its own that
// stay in cache. Each slot's accumulator is its dU, nr spare floats, and
// its db.
func (be *Backend) winoFilterGroups(pr *convPrimitive, ws *workspace, group int, xs, dys []float32, l filterLayout, dbs []float32) []float32 {
	g, kern := pr.g, be.kern
	n, ci, co, p := g.n, g.c, g.o, g.h*g.w
	tl := pr.tiling
	nr := kern.nr
	groups := (n + group - 1) / group
	workers := min(be.opts.Threads, sumSlots, groups)
	maxRows := tl.count * group
	vPlane, dPlane := maxRows*ci+2*nr, maxRows*co+2*nr
	inSize, dySize := (group*p+1)*ci, (group*p+1)*co
	workSize := inSize + dySize + winoPoints*(vPlane+dPlane)
	work := ws.take(workers * workSize)
	pairs := be.filterPairs(pr, maxRows, ci, co, ws)
	duSize := winoPoints*l.plane + nr
	sums := be.sumOverSlots(ws, groups, duSize+co, func(worker, grp int, acc []float32, first bool) {
		buf := work[worker*workSize : (worker+1)*workSize]
		in, buf := buf[:inSize], buf[inSize:]
		dy, buf := buf[:dySize], buf[dySize:]
		v, d := buf[:winoPoints*vPlane], buf[winoPoints*vPlane:]
		var inOffs [36]int32
		var dyOffs [16]int32
		img0 := grp * group
		cnt := min(group, n-img0)
		for img := 0; img < cnt; img++ {
			sliverImage(kern, xs[img0*ci*p:(img0+cnt)*ci*p], cnt, ci, p, ci, in, img)
			sliverImage(kern, dys[img0*co*p:(img0+cnt)*co*p], cnt, co, p, co, dy, img)
		}
		clear(in[cnt*p*ci : (cnt*p+1)*ci])
		clear(dy[cnt*p*co : (cnt*p+1)*co])
		rows := tl.count * cnt
		for r := 0; r < rows; r++ {
			tl.rowOffsets(tl.in[r/cnt][:], r/cnt, r%cnt, cnt, ci, inOffs[:])
			kern.winoInput(in, &inOffs, ci, v[r*ci:], vPlane)
			tl.rowOffsets(tl.out[r/cnt][:], r/cnt, r%cnt, cnt, co, dyOffs[:])
			kern.winoGrad(dy, &dyOffs, co, d[r*co:], dPlane)
		}
		for xi := 0; xi < winoPoints; xi++ {
			be.filterPoint(pairs.of(worker), d[xi*dPlane:], v[xi*vPlane:], rows, ci, co, l, acc[xi*l.plane:], !first)
		}
		db := acc[duSize:]
		if first {
			clear(db)
		}
		biasGrads(kern, d[7*dPlane:], rows, co, db)
	})
	if dbs != nil {
		copy(dbs, sums[duSize:])
	}
	return sums[:duSize]
}

// biasGrads adds the column sums of rows rows of co floats to db (on
// Winograd's plane 7: the sum of a tile's 16 output gradients is its
// transform's point (1, 1)).
func biasGrads(kern *kernels, rows []float32, n, co int, db []float32) {
	for r := 0; r < n; r++ {
		kern.add(db, rows[r*co:(r+1)*co])
	}
}

// filterScratch is the bfloat16 pairs of one point's planes, per worker
// (nil in float32).
type filterScratch struct {
	v2, d2 []uint32
}

// filterPairBuffers holds every worker's filterScratch.
type filterPairBuffers struct {
	words            []uint32
	vPlane2, dPlane2 int
}

func (b filterPairBuffers) of(worker int) filterScratch {
	if b.words == nil {
		return filterScratch{}
	}
	buf := b.words[worker*(b.vPlane2+b.dPlane2) : (worker+1)*(b.vPlane2+b.dPlane2)]
	return filterScratch{v2: buf[:b.vPlane2], d2: buf[b.vPlane2:]}
}

// filterPairs takes the bfloat16 pair buffers for planes of rows rows
// where pr runs in bfloat16 (odd row counts pair their last row with
// zeros).
func (be *Backend) filterPairs(pr *convPrimitive, rows, ci, co int, ws *workspace) filterPairBuffers {
	if !be.bf16(pr) {
		return filterPairBuffers{}
	}
	nr, pairs := be.kern.nr, (rows+1)/2
	b := filterPairBuffers{vPlane2: pairs*ci + 2*nr, dPlane2: pairs*co + 2*nr}
	b.words = asWords(ws.take(be.opts.Threads * (b.vPlane2 + b.dPlane2)))
	return b
}

// filterPoint computes one point's dU = D^T V (or adds it, if add) into
// out (layout l) from its planes d and v of rows rows (co and ci
// channels), on the micro-kernel reading them as they are, in chunks of
// rows that stay in L2 while every block of the result takes its share of
// them: each block is loaded and stored once a chunk, so chunks of 128 KB
// (64 rows of 256 + 256 channels) beat L1-sized ones (16 rows there; the
// 256x4 pass 2.95 -> 2.40 ms f32, 2.38 -> 1.84 bf16: BenchmarkConvPasses).
// In bfloat16 the planes are first rounded into pairs of rows (the k of
// these products) in sc, and chunks count pairs, as many as rows in
// float32 (a pair of rows is as many bytes as a row of floats).
func (be *Backend) filterPoint(sc filterScratch, d, v []float32, rows, ci, co int, l filterLayout, out []float32, add bool) {
	kern := be.kern
	mr, nr := kern.mr, kern.nr
	chunk := max(16, (128<<10)/(4*(ci+co)))
	k := rows
	bf16 := sc.v2 != nil
	if bf16 {
		k = (rows + 1) / 2
		be.pairPlane(d, rows, co, sc.d2)
		be.pairPlane(v, rows, ci, sc.v2)
	}
	for k0 := 0; k0 < k; k0 += chunk {
		kc := min(chunk, k-k0)
		set := k0 == 0 && !add
		for ob := 0; ob < l.mBlocks; ob++ {
			for cb := 0; cb < l.nBlocks; cb++ {
				c := &out[ob*mr*l.ld+cb*nr]
				ao, bo := k0*co+ob*mr, k0*ci+cb*nr
				switch {
				case bf16 && set:
					kern.bf16.strided(kc, &sc.d2[ao], &sc.v2[bo], c, l.ld, co, ci)
				case bf16:
					kern.bf16.stridedAdd(kc, &sc.d2[ao], &sc.v2[bo], c, l.ld, co, ci)
				case set:
					kern.strided(kc, &d[ao], &v[bo], c, l.ld, co, ci)
				default:
					kern.stridedAdd(kc, &d[ao], &v[bo], c, l.ld, co, ci)
				}
			}
		}
	}
}

// winoFilterAdjoint writes dw [o][c][9] from the kernels' gradients at the
// 36 points, du [36][o][c] in layout l (and nr floats to spare):
// dw[o][c][t] = sum over ξ of mat[t][ξ] du[ξ][o][c], the weight transform's
// adjoint. The strided micro-kernel reads du's planes as they are, nr
// columns (kernels) a time, against the matrix's 9 rows (padded to whole
// blocks of mr); each block of results is then written out kernel by
// kernel, the padding's skipped.
func (be *Backend) winoFilterAdjoint(du []float32, l filterLayout, co, ci int, dws []float32) {
	kern := be.kern
	mr, nr := kern.mr, kern.nr
	rows := (9 + mr - 1) / mr * mr
	mat := winoWeightMatrices()[0]
	a := make([]float32, winoPoints*rows) // [ξ][t], t padded with zeros
	for t := 0; t < 9; t++ {
		for xi := 0; xi < winoPoints; xi++ {
			a[xi*rows+t] = mat[t*winoPoints+xi]
		}
	}
	cols := co * l.ld
	be.parallel((cols+nr-1)/nr, func(lo, hi int) {
		tile := make([]float32, rows*nr)
		for j := lo; j < hi; j++ {
			for r := 0; r < rows; r += mr {
				kern.strided(winoPoints, &a[r], &du[j*nr], &tile[r*nr], nr, rows, l.plane)
			}
			if l.ld == ci && (j+1)*nr <= cols && nr%8 == 0 {
				// nr whole kernels in a row: taps 0-7 through the 8x8
				// transpose, tap 8 alone.
				d := dws[j*nr*9 : (j+1)*nr*9]
				kern.transpose8x8(tile, nr, d, 9, nr/8)
				for col, v := range tile[8*nr : 9*nr] {
					d[col*9+8] = v
				}
				continue
			}
			for col := 0; col < min(nr, cols-j*nr); col++ {
				o, c := (j*nr+col)/l.ld, (j*nr+col)%l.ld
				if c >= ci {
					continue
				}
				d := dws[(o*ci+c)*9 : (o*ci+c)*9+9]
				for t := range d {
					d[t] = tile[t*nr+col]
				}
			}
		}
	})
}

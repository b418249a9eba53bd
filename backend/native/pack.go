package native

import "weak"

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
			be.packTapsBlock(w, o, c, taps, nr, transposed, layout, j, dst[j*size:(j+1)*size])
		}
	})
}

// packChunk is how many output channels' slabs a transposed pack takes
// through the 8x8 transposes at a time: 16 slabs of 32 columns x 9 taps
// are 18 KB, in L1 with their packed rows while every tap block and
// column block reads them.
const packChunk = 16

// packTapsBlock writes block j of packTaps' output into blk.
func (be *Backend) packTapsBlock(w []float32, o, c, taps, nr int, transposed bool, layout weightLayout, j int, blk []float32) {
	kc, cols := c, o
	if transposed {
		kc, cols = o, c
	}
	valid := min(nr, cols-j*nr)
	if valid < nr {
		clear(blk)
	}
	if transposed {
		// Per k, the [valid][taps] slab of columns becomes taps rows of
		// nr: 8 columns by 8 taps at a time, each call taking the block
		// of packChunk k's (a weight row apart in w, taps*nr apart in
		// blk) while their slabs stay in L1. With taps not a multiple of
		// 8 the last tap block overlaps the one before it (taps 1-8 of
		// 9), writing rows again with the values they hold: whole blocks,
		// no element loop (which took a third of the pack's time).
		whole := 0
		if taps >= 8 {
			whole = valid / 8 * 8
		}
		for k0 := 0; k0 < kc; k0 += packChunk {
			ks := min(packChunk, kc-k0)
			for col := 0; col < whole; col += 8 {
				for t0 := 0; t0 < taps; t0 += 8 {
					t := min(t0, taps-8)
					be.kern.transpose8x8Steps(w[(k0*c+j*nr+col)*taps+t:], taps, c*taps, blk[(k0*taps+t)*nr+col:], nr, taps*nr, ks)
				}
			}
		}
		// Columns left over (all of them with fewer than 8 taps).
		for k := 0; k < kc; k++ {
			src := w[(k*c+j*nr)*taps : (k*c+j*nr+valid)*taps]
			rows := blk[k*taps*nr : (k+1)*taps*nr]
			for col := whole; col < valid; col++ {
				for t, v := range src[col*taps : (col+1)*taps] {
					rows[t*nr+col] = v
				}
			}
		}
		return
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
		return
	}
	full := width / 8
	col := 0
	for ; col+8 <= valid && full > 0; col += 8 {
		be.kern.transpose8x8(w[(j*nr+col)*width:], width, blk[col:], nr, full)
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

// packEntry remembers a weight tensor's version when it was last packed,
// and the packed copy once the same version has been packed twice.
type packEntry struct {
	version uint64
	packed  []float32
}

// forwardWeights returns w packed for the forward pass, and its layout.
func (be *Backend) forwardWeights(ws *workspace, w *Tensor, o, c, taps int) ([]float32, weightLayout) {
	nr := be.kern.tileCols
	size := (o + nr - 1) / nr * taps * c * nr
	return be.cachedPack(ws, w, packDirect, size, func(layout weightLayout, dst []float32) {
		be.packTaps(w.Data, o, c, taps, nr, false, layout, dst)
	})
}

// forwardWeightsBF16 is forwardWeights in bfloat16 pairs (c even).
func (be *Backend) forwardWeightsBF16(ws *workspace, w *Tensor, o, c, taps int) ([]uint32, weightLayout) {
	nr := be.kern.tileCols
	size := (o + nr - 1) / nr * taps * c * nr
	words, layout := be.cachedPack(ws, w, packDirectBF16, size/2, func(layout weightLayout, dst []float32) {
		be.packTapsBF16(ws, w.Data, o, c, taps, false, layout, asWords(dst))
	})
	return asWords(words), layout
}

// packKind tells apart the packed copies kept of one weight tensor.
type packKind uint8

const (
	packDirect       packKind = iota // packTaps of the weights
	packWinograd                     // packTaps of their Winograd transform
	packDirectBF16                   // packDirect in bfloat16 pairs (packTapsBF16)
	packWinogradBF16                 // packWinograd in bfloat16 pairs
	packU8S8                         // u8s8Weights: quads of signed bytes, then the steps
	packPlanarBF16                   // planarWeightsBF16: rows of bfloat16 padded to pairs
)

type packKey struct {
	w    weak.Pointer[uint64]
	kind packKind
}

// cachedPack returns w packed by pack (size floats), and its layout.
// Weights packed twice without a change in between (inference) keep a
// tap-major packed copy (chains, inference only, keep it at once: see
// packNow); training changes them every step and packs them by
// transposing into the workspace, holding no extra memory. The copies
// belong to the Backend, not to a primitive: the primitives of one layer
// at several batch sizes (a server's) share them.
func (be *Backend) cachedPack(ws *workspace, w *Tensor, kind packKind, size int, pack func(layout weightLayout, dst []float32)) ([]float32, weightLayout) {
	key, version := packKey{weakKey(w), kind}, *w.counter()
	e, ok := be.packs[key]
	keep := be.packNow
	switch {
	case !ok:
		be.sweepPacks()
		e = &packEntry{version: version}
		be.packs[key] = e
	case e.version != version:
		e.version = version
		if !keep {
			e.packed = nil // training: the copy would be stale every step
		}
	case len(e.packed) == size:
		return e.packed, weightLayout{tapMajor: true}
	default:
		keep = true // the second sight, unchanged: inference
	}
	if keep {
		if len(e.packed) != size {
			e.packed = make([]float32, size)
		}
		pack(weightLayout{tapMajor: true}, e.packed)
		return e.packed, weightLayout{tapMajor: true}
	}
	wp := ws.take(size)
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

// weakKey is the pack cache's key for weight tensor w.
func weakKey(w *Tensor) weak.Pointer[uint64] { return weak.Make(w.counter()) }

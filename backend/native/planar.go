package native

// Planar convolution, for few input channels at stride 1 (the stem: one
// channel, 7x7): outputs are computed where they live, in NCHW planes, with
// no unrolled or transposed copy of anything. The tile kernel's roles are
// swapped from the direct path: its mr "rows" are output channels, whose
// values it broadcasts from the raw weights (a row of KW taps at a time),
// and its nr columns are neighbouring output pixels of one row, loaded as a
// vector from the zero-padded input plane:
//
//	Y[o][oy][ox + col] = sum over c, ky, kx of W[o][c][ky][kx] * Xpad[c][oy + ky][ox + col + kx]
//
// One table entry per (c, ky) gives each output channel's weight row and,
// through the "tap" offset, where that input row starts; kx is the
// kernel's k index (B stride 1: the next kx is the next pixel). A row of
// the map is covered by blocks of nr columns; the last block writes past
// the row's end into the next rows, which are computed after it and
// overwrite those values, except where that would run past the plane:
// those blocks go through a small buffer.

// planarTable returns the tile table of g for weight rows row elements
// apart (the kernel's width, or in bfloat16 that width made even): for
// every block of mr output channels, one entry per (input channel, kernel
// row).
func (be *Backend) planarTable(g convGeom, row int) []int32 {
	mr := be.kern.tileRows
	wp := g.w + g.d.PadLeft + g.d.PadRight
	plane := (g.h + g.d.PadTop + g.d.PadBottom) * wp
	var table []int32
	for o0 := 0; o0 < g.o; o0 += mr {
		for c := 0; c < g.c; c++ {
			for ky := 0; ky < g.kh; ky++ {
				for r := 0; r < mr; r++ {
					o := min(o0+r, g.o-1) // rows past the last channel repeat it; their outputs are dropped
					table = append(table, int32(((o*g.c+c)*g.kh+ky)*row+row))
				}
				table = append(table, int32(c*plane+ky*wp))
			}
		}
	}
	return table
}

// planarRow is the length of a weight row (kernel width kw) in the
// planar path's layout: kw, or in bfloat16 kw rounded up to pairs.
func planarRow(kw int, bf16 bool) int {
	if bf16 {
		return (kw + 1) &^ 1
	}
	return kw
}

// In bfloat16 the roles keep their places: the weights, rounded, in rows
// padded with a zero tap to an even width, are broadcast a pair of taps
// at a time; the padded input plane is rounded into overlapping pairs,
// word j holding pixels j and j+1, so that the pair of taps (2i, 2i+1) at
// column col is word col + 2i: B's rows are 2 words apart.

// planarWeightsBF16 returns w [o][c][kh][kw] rounded to bfloat16 in rows
// of planarRow(kw, true), cached while w is unchanged.
func (be *Backend) planarWeightsBF16(ws *workspace, w *Tensor, g convGeom) []uint16 {
	row := planarRow(g.kw, true)
	rows := g.o * g.c * g.kh
	words, _ := be.cachedPack(ws, w, packPlanarBF16, (rows*row+1)/2, func(_ weightLayout, dst []float32) {
		h := asBF16(dst)
		for r := 0; r < rows; r++ {
			for k := 0; k < row; k++ {
				v := float32(0)
				if k < g.kw {
					v = w.Data[r*g.kw+k]
				}
				h[r*row+k] = bf16FromF32(v)
			}
		}
	})
	return asBF16(words)
}

// pairPixels rounds pad into overlapping pairs: dst[j] holds pad[j] in
// its low half and pad[j+1] (0 past the end) in its high; halves (as long
// as pad) takes the rounded values first.
func pairPixels(kern *kernels, pad []float32, halves []uint16, dst []uint32) {
	kern.bf16.round(halves, pad)
	last := len(pad) - 1
	for j, h := range halves[:last] {
		dst[j] = uint32(h) | uint32(halves[j+1])<<16
	}
	dst[last] = uint32(halves[last])
}

func (be *Backend) planarForward(pr *convPrimitive, ws *workspace, xs []float32, w *Tensor, bs []float32, relu bool, ys []float32) {
	g, kern := pr.g, be.kern
	mr, nr := kern.tileRows, kern.tileCols
	d := g.d
	hp, wp := g.h+d.PadTop+d.PadBottom, g.w+d.PadLeft+d.PadRight
	plane, p := hp*wp, g.oh*g.ow
	// A padded image, and slack for the last block's reads past the end.
	padSize := g.c*plane + nr + g.kw
	table := pr.planar
	entries := g.c * g.kh
	oBlocks := (g.o + mr - 1) / mr
	parts := min(be.opts.Threads, g.n*oBlocks)
	pads := ws.take(parts * padSize)
	bf16 := be.bf16(pr)
	var w16 []uint16
	var pairs []uint32
	var halves []uint16
	if bf16 {
		w16 = be.planarWeightsBF16(ws, w, g)
		pairs = asWords(ws.take(parts * padSize))
		halves = asBF16(ws.take(parts * (padSize + 1) / 2))
	}
	be.parallel(parts, func(lo, hi int) {
		edge := make([]float32, mr*nr)
		for part := lo; part < hi; part++ {
			pad := pads[part*padSize : (part+1)*padSize]
			var pair []uint32
			var half []uint16
			if bf16 {
				pair = pairs[part*padSize : (part+1)*padSize]
				half = halves[part*padSize : (part+1)*padSize]
			}
			tile := func(tbl *int32, src int, c *float32, ldc int) {
				if bf16 {
					kern.bf16.tile(tbl, entries, planarRow(g.kw, true)/2, &w16[0], &pair[src], c, ldc, 2, 1)
				} else {
					kern.tile(tbl, entries, g.kw, &w.Data[0], &pad[src], c, ldc, 1, 1)
				}
			}
			last := -1
			for task := part * g.n * oBlocks / parts; task < (part+1)*g.n*oBlocks/parts; task++ {
				img, ob := task/oBlocks, task%oBlocks
				if img != last {
					padImage(xs[img*g.c*g.h*g.w:(img+1)*g.c*g.h*g.w], g, hp, wp, pad)
					if bf16 {
						pairPixels(kern, pad, half, pair)
					}
					last = img
				}
				o0 := ob * mr
				rows := min(mr, g.o-o0)
				out := ys[(img*g.o+o0)*p:]
				tbl := &table[ob*entries*(mr+1)]
				for oy := 0; oy < g.oh; oy++ {
					for ox := 0; ox < g.ow; ox += nr {
						src := oy*wp + ox
						if rows == mr && oy*g.ow+ox+nr <= p {
							tile(tbl, src, &out[oy*g.ow+ox], p)
							continue
						}
						tile(tbl, src, &edge[0], nr)
						cols := min(nr, g.ow-ox)
						for r := 0; r < rows; r++ {
							copy(out[r*p+oy*g.ow+ox:r*p+oy*g.ow+ox+cols], edge[r*nr:])
						}
					}
				}
				for r := 0; r < rows; r++ {
					b := float32(0)
					if bs != nil {
						b = bs[o0+r]
					}
					if bs != nil || relu {
						kern.biasReLU(out[r*p:(r+1)*p], b, relu)
					}
				}
			}
		}
	})
}

// padImage copies one image's C planes [h][w] into pad as [hp][wp] planes
// with g's padding of zeros, and zeroes the slack after them.
func padImage(x []float32, g convGeom, hp, wp int, pad []float32) {
	d := g.d
	clear(pad)
	for c := 0; c < g.c; c++ {
		for y := 0; y < g.h; y++ {
			dst := pad[(c*hp+y+d.PadTop)*wp+d.PadLeft:]
			copy(dst[:g.w], x[(c*g.h+y)*g.w:(c*g.h+y+1)*g.w])
		}
	}
}

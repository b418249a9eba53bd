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

// planarTable returns the tile table of g: for every block of mr output
// channels, one entry per (input channel, kernel row).
func (be *Backend) planarTable(g convGeom) []int32 {
	mr := be.kern.tileRows
	wp := g.w + g.d.PadLeft + g.d.PadRight
	plane := (g.h + g.d.PadTop + g.d.PadBottom) * wp
	var table []int32
	for o0 := 0; o0 < g.o; o0 += mr {
		for c := 0; c < g.c; c++ {
			for ky := 0; ky < g.kh; ky++ {
				for r := 0; r < mr; r++ {
					o := min(o0+r, g.o-1) // rows past the last channel repeat it; their outputs are dropped
					table = append(table, int32(((o*g.c+c)*g.kh+ky)*g.kw+g.kw))
				}
				table = append(table, int32(c*plane+ky*wp))
			}
		}
	}
	return table
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
	be.parallel(parts, func(lo, hi int) {
		edge := make([]float32, mr*nr)
		for part := lo; part < hi; part++ {
			pad := pads[part*padSize : (part+1)*padSize]
			last := -1
			for task := part * g.n * oBlocks / parts; task < (part+1)*g.n*oBlocks/parts; task++ {
				img, ob := task/oBlocks, task%oBlocks
				if img != last {
					padImage(xs[img*g.c*g.h*g.w:(img+1)*g.c*g.h*g.w], g, hp, wp, pad)
					last = img
				}
				o0 := ob * mr
				rows := min(mr, g.o-o0)
				out := ys[(img*g.o+o0)*p:]
				tbl := &table[ob*entries*(mr+1)]
				for oy := 0; oy < g.oh; oy++ {
					for ox := 0; ox < g.ow; ox += nr {
						src := &pad[oy*wp+ox]
						if rows == mr && oy*g.ow+ox+nr <= p {
							kern.tile(tbl, entries, g.kw, &w.Data[0], src, &out[oy*g.ow+ox], p, 1, 1)
							continue
						}
						kern.tile(tbl, entries, g.kw, &w.Data[0], src, &edge[0], nr, 1, 1)
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

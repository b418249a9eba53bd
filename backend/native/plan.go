package native

// Plans: what a primitive works out from the shapes alone, once.

// tilePlan is the table of one direct (or rows) convolution pass.
type tilePlan struct {
	// Tile i's entries are entries [starts[i], starts[i+1]). Each entry is
	// tileRows+1 int32: the offset (in floats) of every row's input, plus
	// kc (the kernel counts its index up from -kc), then the tap's index.
	starts []int32
	table  []int32
}

// rowRun is n consecutive output rows from out joined with n consecutive
// input rows from in.
type rowRun struct{ out, in, n int }

// inverseTaps returns, for every tap and input position, the output
// position that reads it through that tap, or -1.
func inverseTaps(g convGeom) []int32 {
	fwd := tapTable(g)
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
	return inv
}

// tilePlanOf returns the tile table for the forward pass of g (kc = C
// input channels, reading x) or its backward-data pass (kc = O, reading
// dy).
func (be *Backend) tilePlanOf(g convGeom, backwardData bool) *tilePlan {
	kc := g.c
	var src []int32
	outP, inP := g.p(), g.h*g.w
	if backwardData {
		kc = g.o
		src, outP, inP = inverseTaps(g), g.h*g.w, g.p()
	} else {
		src = tapTable(g)
	}
	mr, taps, n := be.kern.tileRows, g.kh*g.kw, g.n
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
	return pl
}

// tapRuns returns, for every tap of g, the runs of (output row, input
// row) pairs it joins in PNC rows: backward-filter's plan.
func tapRuns(g convGeom) [][]rowRun {
	src := tapTable(g)
	taps, outP, n := g.kh*g.kw, g.p(), g.n
	runs := make([][]rowRun, taps)
	for t := 0; t < taps; t++ {
		for p := 0; p < outP; p++ {
			s := int(src[t*outP+p])
			if s < 0 {
				continue
			}
			rs := runs[t]
			if k := len(rs) - 1; k >= 0 && rs[k].out+rs[k].n == p*n && rs[k].in+rs[k].n == s*n {
				rs[k].n += n
				continue
			}
			runs[t] = append(rs, rowRun{out: p * n, in: s * n, n: n})
		}
	}
	return runs
}

// tapsByPosition is tapTable transposed: for every output position, the
// input offset each tap reads, or -1.
func tapsByPosition(g convGeom) []int32 {
	table, taps, p := tapTable(g), g.kh*g.kw, g.p()
	t := make([]int32, len(table))
	for tap := 0; tap < taps; tap++ {
		for q := 0; q < p; q++ {
			t[q*taps+tap] = table[tap*p+q]
		}
	}
	return t
}

// rowPlan is the tile table of a product over rows of kc values: one
// entry per tile, reading its rows in order.
func (be *Backend) rowPlan(rows, kc int) *tilePlan {
	mr := be.kern.tileRows
	pl := &tilePlan{}
	for r0 := 0; r0 < rows; r0 += mr {
		pl.starts = append(pl.starts, int32(r0/mr))
		for i := range mr {
			pl.table = append(pl.table, int32(min(r0+i, rows)*kc+kc))
		}
		pl.table = append(pl.table, 0)
	}
	pl.starts = append(pl.starts, int32(len(pl.table)/(mr+1)))
	return pl
}

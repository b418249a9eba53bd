package native

import (
	"fmt"
	"math"
	"testing"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/backend/reference"
)

// TestRowsBackwardFilter: the stems' backward-filter (unrolled rows on
// the strided kernel, summed over groups of images in slots) against the
// reference loops, with groups of 1 and 2 images (19 images: some slots
// sum several groups) and as planned, and the same bits on 1, 2 and 3
// threads.
func TestRowsBackwardFilter(t *testing.T) { forEachISA(t, testRowsBackwardFilter) }

func testRowsBackwardFilter(t *testing.T, k *kernels) {
	random := randomTensors(13)
	for _, s := range []struct{ n, c, h, o, kh, kw, stride int }{
		{19, 1, 12, 20, 7, 7, 1}, {19, 3, 15, 17, 5, 3, 2}, {4, 2, 9, 33, 3, 3, 1},
	} {
		t.Run(fmt.Sprintf("%dx%dx%d-to-%d-%dx%ds%d", s.n, s.c, s.h, s.o, s.kh, s.kw, s.stride), func(t *testing.T) {
			d := backend.ConvDesc{StrideH: s.stride, StrideW: s.stride}
			_, d.PadTop, d.PadBottom = backend.SamePadding(s.h, s.kh, s.stride)
			_, d.PadLeft, d.PadRight = backend.SamePadding(s.h, s.kw, s.stride)
			oh, _, _ := backend.SamePadding(s.h, s.kh, s.stride)
			ow, _, _ := backend.SamePadding(s.h, s.kw, s.stride)
			x, w, dy := random(s.n, s.c, s.h, s.h), random(s.o, s.c, s.kh, s.kw), random(s.n, s.o, oh, ow)
			g := newConvGeom(x, w, dy, d)
			wantDw, wantDb := oracle{reference.New()}.convBackwardFilter(x, dy, w.Shape(), d)
			var first []float32
			for _, threads := range []int{1, 2, 3} {
				be := mustNew(t, Options{Threads: threads, ISA: k.isa})
				pr := be.newPrimitive(g, backend.BackwardFilter, Rows, "test")
				planned := pr.group
				for _, group := range []int{1, 2, planned} {
					pr.group = group
					dw, db := NewTensor(w.Shape()...), NewTensor(s.o)
					be.convBackwardFilter(pr, x.Data, dy.Data, dw.Data, db.Data)
					if e := winoError(dw.Data, wantDw); e > 1e-5 || math.IsNaN(e) {
						t.Errorf("%d threads, groups of %d: weight gradient's worst error %.2g of the RMS", threads, group, e)
					}
					if e := winoError(db.Data, wantDb); e > 1e-5 || math.IsNaN(e) {
						t.Errorf("%d threads, groups of %d: bias gradient's worst error %.2g of the RMS", threads, group, e)
					}
					if group != 1 {
						continue
					}
					got := append(dw.Data, db.Data...)
					if first == nil {
						first = got
					}
					for i := range got {
						if got[i] != first[i] {
							t.Fatalf("%d threads: element %d = %v, with 1 thread %v", threads, i, got[i], first[i])
						}
					}
				}
			}
		})
	}
}

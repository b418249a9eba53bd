package native

import (
	"fmt"
	"math"
	"testing"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/backend/reference"
)

// winoError returns the largest |got - want| over the root mean square of
// want.
func winoError(got, want []float32) float64 {
	var worst, sq float64
	for i, w := range want {
		worst = max(worst, math.Abs(float64(got[i]-w)))
		sq += float64(w) * float64(w)
	}
	return worst / math.Sqrt(sq/float64(len(want))+1e-30)
}

// TestWinogradAgainstReference: forward (with bias and ReLU),
// backward-data and backward-filter through F(4x4, 3x3) against the reference loops, on maps
// that split into whole tiles and maps that do not, channel counts that
// are and are not multiples of the vector width.
func TestWinogradAgainstReference(t *testing.T) { forEachISA(t, testWinogradAgainstReference) }

// winoPrimitives plans the three passes of g on Winograd's algorithm,
// whatever chooseConv would pick (small batches included).
func winoPrimitives(be *Backend, g convGeom) (fwd, bwdData, bwdFilter *convPrimitive) {
	return be.newPrimitive(g, backend.Forward, Winograd, "test"),
		be.newPrimitive(g, backend.BackwardData, Winograd, "test"),
		be.newPrimitive(g, backend.BackwardFilter, Winograd, "test")
}

func testWinogradAgainstReference(t *testing.T, k *kernels) {
	be, ref := mustNew(t, Options{Threads: 2, ISA: k.isa}), oracle{reference.New()}
	random := randomTensors(7)
	d := backend.ConvDesc{StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, ReLU: true}
	for _, s := range []struct{ n, c, h, w, o int }{
		{3, 16, 7, 7, 24}, {13, 16, 14, 14, 32}, {2, 24, 4, 4, 16}, {5, 16, 5, 9, 40},
		{4, 20, 6, 6, 20}, {1, 64, 8, 8, 64}, {7, 32, 4, 5, 48},
	} {
		t.Run(fmt.Sprintf("%dx%dx%dx%d-to-%d", s.n, s.c, s.h, s.w, s.o), func(t *testing.T) {
			x, w, b := random(s.n, s.c, s.h, s.w), random(s.o, s.c, 3, 3), random(s.o)
			g := newConvGeom(x, w, NewTensor(s.n, s.o, s.h, s.w), d)
			fwd, bwdData, bwdFilter := winoPrimitives(be, g)
			got := NewTensor(s.n, s.o, s.h, s.w)
			for pass := 0; pass < 3; pass++ { // the third pass uses the cached transform
				be.convForward(fwd, x.Data, w, b.Data, d.ReLU, got.Data)
			}
			want := ref.convForward(x, w, b, got.Shape(), d)
			if e := winoError(got.Data, want); e > 1e-4 || math.IsNaN(e) {
				t.Errorf("forward: worst error %.2g of the RMS", e)
			}
			dy := random(s.n, s.o, s.h, s.w)
			gotDx := NewTensor(s.n, s.c, s.h, s.w)
			be.convBackwardData(bwdData, dy.Data, w.Data, gotDx.Data)
			wantDx := ref.convBackwardData(dy, w, gotDx.Shape(), d)
			if e := winoError(gotDx.Data, wantDx); e > 1e-4 || math.IsNaN(e) {
				t.Errorf("backward-data: worst error %.2g of the RMS", e)
			}
			wantDw, wantDb := ref.convBackwardFilter(x, dy, []int{s.o, s.c, 3, 3}, d)
			// Both schedules: the whole batch at once, and groups of 1
			// and 2 images (summed into 8 slots, and fewer).
			for _, group := range []int{0, 1, 2} {
				bwdFilter.group = group
				gotDw, gotDb := NewTensor(s.o, s.c, 3, 3), NewTensor(s.o)
				be.convBackwardFilter(bwdFilter, x.Data, dy.Data, gotDw.Data, gotDb.Data)
				if e := winoError(gotDw.Data, wantDw); e > 1e-4 || math.IsNaN(e) {
					t.Errorf("backward-filter, groups of %d: worst error %.2g of the RMS", group, e)
				}
				if e := winoError(gotDb.Data, wantDb); e > 1e-5 || math.IsNaN(e) {
					t.Errorf("bias gradient, groups of %d: worst error %.2g of the RMS", group, e)
				}
			}
		})
	}
}

// TestWinogradTransformsMatchGo: the vector transforms against the
// portable ones, including the padding (zero) and discarded (sink) rows.
func TestWinogradTransformsMatchGo(t *testing.T) { forEachISA(t, testWinogradTransformsMatchGo) }

func testWinogradTransformsMatchGo(t *testing.T, k *kernels) {
	random := randomTensors(9)
	const c, plane = 48, 56
	x := random(50 * c).Data
	clear(x[49*c:])
	var offs [36]int32
	for i := range offs {
		offs[i] = int32((i*7)%50) * c
	}
	v1, v2 := make([]float32, 36*plane), make([]float32, 36*plane)
	k.winoInput(x, &offs, c, v1, plane)
	winoInputGo(x, &offs, c, v2, plane)
	if e := winoError(v1, v2); e > 1e-6 {
		t.Errorf("input transform: worst difference %.2g of the RMS", e)
	}
	var dyOffs [16]int32
	for i := range dyOffs {
		dyOffs[i] = offs[2*i]
	}
	k.winoGrad(x, &dyOffs, c, v1, plane)
	winoGradGo(x, &dyOffs, c, v2, plane)
	if e := winoError(v1, v2); e > 1e-6 {
		t.Errorf("gradient transform: worst difference %.2g of the RMS", e)
	}
	m := random(36 * plane).Data
	var outs [16]int32
	for i := range outs {
		outs[i] = int32(15-i) * c
	}
	outs[3] = 16 * c // a sink
	bias := random(c).Data
	for _, b := range [][]float32{nil, bias} {
		for _, relu := range []bool{false, true} {
			y1, y2 := make([]float32, 17*c), make([]float32, 17*c)
			k.winoOutput(m, plane, c, y1, &outs, b, relu)
			winoOutputGo(m, plane, c, y2, &outs, b, relu)
			if e := winoError(y1, y2); e > 1e-6 {
				t.Errorf("output transform (bias %v, ReLU %v): worst difference %.2g of the RMS", b != nil, relu, e)
			}
		}
	}
}

// TestWinogradThreadInvariant: every Winograd pass (backward-filter on
// both schedules) gives the same bits whatever the thread count (training is deterministic across machines),
// in float32 and in bfloat16.
func TestWinogradThreadInvariant(t *testing.T) {
	forEachISA(t, func(t *testing.T, k *kernels) {
		for _, p := range Precisions() {
			t.Run(string(p), func(t *testing.T) { testWinogradThreadInvariant(t, k, p) })
		}
	})
}

func testWinogradThreadInvariant(t *testing.T, k *kernels, prec Precision) {
	random := randomTensors(11)
	d := backend.ConvDesc{StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, ReLU: true}
	const n, c, h, o = 30, 32, 7, 48
	x, w, b, dy := random(n, c, h, h), random(o, c, 3, 3), random(o), random(n, o, h, h)
	g := newConvGeom(x, w, NewTensor(n, o, h, h), d)
	var first [][]float32
	for _, threads := range []int{1, 2, 3} {
		be := mustNew(t, Options{Threads: threads, ISA: k.isa, Precision: prec})
		fwd, bwdData, bwdFilter := winoPrimitives(be, g)
		y, dx, dw, db := NewTensor(n, o, h, h), NewTensor(n, c, h, h), NewTensor(o, c, 3, 3), NewTensor(o)
		be.convForward(fwd, x.Data, w, b.Data, d.ReLU, y.Data)
		be.convBackwardData(bwdData, dy.Data, w.Data, dx.Data)
		be.convBackwardFilter(bwdFilter, x.Data, dy.Data, dw.Data, db.Data)
		bwdFilter.group = 3 // the grouped schedule: 10 groups in 8 slots
		dwGroups, dbGroups := NewTensor(o, c, 3, 3), NewTensor(o)
		be.convBackwardFilter(bwdFilter, x.Data, dy.Data, dwGroups.Data, dbGroups.Data)
		got := [][]float32{y.Data, dx.Data, dw.Data, db.Data, dwGroups.Data, dbGroups.Data}
		if first == nil {
			first = got
			continue
		}
		for i, name := range []string{"forward", "backward-data", "backward-filter", "bias gradient", "backward-filter in groups", "bias gradient in groups"} {
			for j := range got[i] {
				if got[i][j] != first[i][j] {
					t.Fatalf("%s with %d threads: element %d = %v, with 1 thread %v", name, threads, j, got[i][j], first[i][j])
				}
			}
		}
	}
}

package native

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/backend/reference"
)

// randomTensors returns a maker of tensors of standard normal values drawn
// from a stream with the given seed.
func randomTensors(seed uint64) func(shape ...int) *Tensor {
	r := rand.New(rand.NewPCG(seed, seed+1))
	return func(shape ...int) *Tensor {
		x := NewTensor(shape...)
		for i := range x.Data {
			x.Data[i] = float32(r.NormFloat64())
		}
		return x
	}
}

// TestPackedWeightsFollowWrites: the forward pass keeps packed weights once
// they have been used twice unchanged (the direct kernels' pack and
// Winograd's transformed pack, in float32 and in bfloat16 pairs); any
// write through the backend, also through a reshaped view, must make it
// pack them again.
func TestPackedWeightsFollowWrites(t *testing.T) {
	forEachISA(t, func(t *testing.T, k *kernels) {
		for _, c := range []struct {
			name    string
			n, size int
			kind    packKind
			prec    Precision
		}{{"direct", 3, 5, packDirect, F32}, {"winograd", 24, 8, packWinograd, F32},
			{"direct-bf16", 3, 5, packDirectBF16, BF16}, {"winograd-bf16", 24, 8, packWinogradBF16, BF16}} {
			t.Run(c.name, func(t *testing.T) { packedWeightsFollowWrites(t, k.isa, c.prec, c.n, c.size, c.kind) })
		}
	})
}

func packedWeightsFollowWrites(t *testing.T, isa ISA, prec Precision, n, size int, kind packKind) {
	be, ref := mustNew(t, Options{Threads: 2, ISA: isa, Precision: prec}), oracle{reference.New()}
	random := randomTensors(1)
	d := backend.ConvDesc{StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	x, w, other := random(n, 16, size, size), random(24, 16, 3, 3), random(24, 16, 3, 3)
	g := newConvGeom(x, w, NewTensor(n, 24, size, size), d)
	want := map[packKind]Algorithm{packDirect: Direct, packWinograd: Winograd, packDirectBF16: Direct, packWinogradBF16: Winograd}[kind]
	if got, why := be.chooseConv(g, backend.Forward); got != want {
		t.Fatalf("%s chosen (%s), want %s", got, why, want)
	}
	check := func(what string) {
		t.Helper()
		got := NewTensor(n, 24, size, size)
		be.ConvForward(x, w, nil, got, d)
		if prec == BF16 {
			// A backend that has never seen w packs it afresh: the kept
			// pack must give the same bits.
			fresh := NewTensor(n, 24, size, size)
			mustNew(t, Options{Threads: 2, ISA: isa, Precision: prec}).ConvForward(x, w, nil, fresh, d)
			for i := range got.Data {
				if math.Float32bits(got.Data[i]) != math.Float32bits(fresh.Data[i]) {
					t.Fatalf("%s: element %d = %g, a fresh pack gives %g", what, i, got.Data[i], fresh.Data[i])
				}
			}
			return
		}
		want := ref.convForward(x, w, nil, got.Shape(), d)
		// Winograd's transforms cost a few parts in 10^5; stale weights
		// would be off by the whole RMS.
		if e := winoError(got.Data, want); e > 1e-4 || math.IsNaN(e) {
			t.Fatalf("%s: worst error %.2g of the RMS", what, e)
		}
	}
	for i := 0; i < 3; i++ {
		check("unchanged weights")
	}
	if e := be.packs[packKey{weakKey(w), kind}]; e == nil || e.packed == nil {
		t.Fatal("weights used three times unchanged were not kept packed")
	}
	be.Axpy(0.5, other, w)
	check("after Axpy")
	check("after Axpy, again")
	be.Upload(be.Reshape(w, 24, 144), other.Data)
	check("after an upload through a view")
	w.Data[0] += 1
	w.Touch()
	check("after a direct write and Touch")
	// A Tensor made without NewTensor gets its own counter on first use.
	lit := &Tensor{shape: []int{24, 16, 3, 3}, Data: other.Data}
	w = lit
	for i := 0; i < 3; i++ {
		check("a tensor literal's weights")
	}
}

// TestDirectThreadInvariant: the direct convolutions give the same bits
// with any number of threads (the weight gradient's split into halves is
// fixed by the shape, not by the thread count), in float32 and in
// bfloat16 (an even batch: its weight gradient pairs rows of images).
func TestDirectThreadInvariant(t *testing.T) {
	forEachISA(t, func(t *testing.T, k *kernels) {
		for _, p := range Precisions() {
			t.Run(string(p), func(t *testing.T) { testDirectThreadInvariant(t, k, p) })
		}
	})
}

func testDirectThreadInvariant(t *testing.T, k *kernels, prec Precision) {
	random := randomTensors(3)
	d := backend.ConvDesc{StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, ReLU: true}
	x, w, b, dy := random(4, 16, 7, 7), random(20, 16, 3, 3), random(20), random(4, 20, 7, 7)
	g := newConvGeom(x, w, dy, d)
	for _, pass := range []backend.ConvPass{backend.Forward, backend.BackwardData, backend.BackwardFilter} {
		if a, why := mustNew(t, Options{ISA: k.isa, Conv: ConvNoWinograd}).chooseConv(g, pass); a != Direct {
			t.Fatalf("%s: %s chosen (%s), want direct", pass, a, why)
		}
	}
	run := func(threads int) (y, dx, dw, db *Tensor) {
		be := mustNew(t, Options{Threads: threads, ISA: k.isa, Conv: ConvNoWinograd, Precision: prec})
		y, dx, dw, db = NewTensor(4, 20, 7, 7), NewTensor(4, 16, 7, 7), NewTensor(20, 16, 3, 3), NewTensor(20)
		be.ConvForward(x, w, b, y, d)
		be.ConvBackwardData(dy, w, dx, d)
		be.ConvBackwardFilter(x, dy, dw, db, d)
		return
	}
	y1, dx1, dw1, db1 := run(1)
	for _, threads := range []int{2, 3} {
		y, dx, dw, db := run(threads)
		for _, c := range []struct {
			what      string
			got, want *Tensor
		}{{"forward", y, y1}, {"backward data", dx, dx1}, {"backward filter", dw, dw1}, {"bias gradient", db, db1}} {
			for i := range c.got.Data {
				if c.got.Data[i] != c.want.Data[i] {
					t.Fatalf("%d threads, %s: element %d = %v, with 1 thread %v", threads, c.what, i, c.got.Data[i], c.want.Data[i])
				}
			}
		}
	}
}

package native

import (
	"fmt"
	"math"
	"testing"

	"github.com/resgo/resgo/backend"
)

// TestMergeResidual checks MergeResidual, on every instruction set,
// against the three calls it stands for (ChannelPadForward or Copy, AddTo,
// and the ReLU, here Go's max) bit for bit, NaN for NaN: shortcuts padded and not, with
// and without the ReLU, on values that include -0, NaN and infinities.
func TestMergeResidual(t *testing.T) {
	for _, isa := range ISAs() {
		be := mustNew(t, Options{Threads: 2, ISA: isa})
		for _, s := range []struct{ n, c, cy, hw int }{{3, 8, 8, 5}, {2, 4, 8, 3}, {2, 2, 6, 4}, {1, 3, 3, 1}} {
			for _, relu := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/n%d_c%d_to%d_relu%v", isa, s.n, s.c, s.cy, relu), func(t *testing.T) {
					testMergeResidual(t, be, s.n, s.c, s.cy, s.hw, relu)
				})
			}
		}
	}
}

func testMergeResidual(t *testing.T, be *Backend, n, c, cy, hw int, relu bool) {
	special := []float32{float32(math.Copysign(0, -1)), 0, float32(math.NaN()), float32(math.Inf(-1)), 3.5, -2, 1e-40}
	short, body := NewTensor(n, c, hw, hw), NewTensor(n, cy, hw, hw)
	for i := range short.Data {
		short.Data[i] = special[(i*5)%len(special)]
	}
	for i := range body.Data {
		body.Data[i] = special[(i*3+1)%len(special)]
	}
	before := (cy - c) / 2
	want := NewTensor(n, cy, hw, hw)
	if before == 0 {
		be.Copy(want, short)
	} else {
		be.ChannelPadForward(short, want, before)
	}
	be.AddTo(want, body)
	if relu {
		for i, v := range want.Data {
			want.Data[i] = max(0, v)
		}
	}
	got := NewTensor(n, cy, hw, hw)
	for i := range got.Data {
		got.Data[i] = 99
	}
	var merger backend.ResidualMerger = be
	merger.MergeResidual(short, body, got, before, relu)
	for i := range got.Data {
		g, w := got.Data[i], want.Data[i]
		if math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
			t.Fatalf("element %d = %v (%#x), want %v (%#x)", i, g, math.Float32bits(g), w, math.Float32bits(w))
		}
	}
}

// TestReLUForward checks ReLUForward on every instruction set against Go's
// max(0, x), bit for bit (NaN for NaN), on lengths that leave tails.
func TestReLUForward(t *testing.T) {
	special := []float32{float32(math.Copysign(0, -1)), 0, float32(math.NaN()), float32(math.Inf(-1)), float32(math.Inf(1)), 3.5, -2, 1e-40, -1e-40}
	for _, isa := range ISAs() {
		be := mustNew(t, Options{Threads: 2, ISA: isa})
		for _, n := range []int{1, 8, 29, 5000} {
			x, y := NewTensor(n), NewTensor(n)
			for i := range x.Data {
				x.Data[i] = special[i%len(special)] * float32(1+i%4)
			}
			be.ReLUForward(x, y)
			for i, v := range x.Data {
				g, w := y.Data[i], max(0, v)
				if math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
					t.Fatalf("%s n %d: relu(%v) = %v (%#x), want %v", isa, n, v, g, math.Float32bits(g), w)
				}
			}
		}
	}
}

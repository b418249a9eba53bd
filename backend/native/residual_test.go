package native

import (
	"fmt"
	"math"
	"testing"

	"github.com/resgo/resgo/backend"
)

// TestMergeResidual checks MergeResidual, on every instruction set,
// against the three calls it stands for (ChannelPadForward or Copy, AddTo,
// ReLUForward) bit for bit, NaN for NaN: shortcuts padded and not, with
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
		be.ReLUForward(want, want)
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

package native

import (
	"math"
	"testing"

	"github.com/resgo/resgo/backend"
)

// TestU8S8WeightsFollowWrites: the int8 forward pass keeps its quantized
// weights once used twice unchanged, and packs them again after a write;
// every call equals a fresh backend's, bit for bit.
func TestU8S8WeightsFollowWrites(t *testing.T) {
	forEachISA(t, func(t *testing.T, k *kernels) {
		be := mustNew(t, Options{Threads: 2, ISA: k.isa, Int8Everywhere: true})
		random := randomTensors(5)
		d := backend.ConvDesc{StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, ReLU: true}
		x, w, other := random(4, 20, 6, 6), random(24, 20, 3, 3), random(24, 20, 3, 3)
		for i, v := range x.Data {
			x.Data[i] = float32(math.Abs(float64(v)))
		}
		check := func(what string) {
			t.Helper()
			got, fresh := NewTensor(4, 24, 6, 6), NewTensor(4, 24, 6, 6)
			be.ConvForwardU8S8(x, w, nil, got, d, backend.InputQuant{Step: 0.02, Zero: 9})
			mustNew(t, Options{Threads: 2, ISA: k.isa, Int8Everywhere: true}).ConvForwardU8S8(x, w, nil, fresh, d, backend.InputQuant{Step: 0.02, Zero: 9})
			for i := range got.Data {
				if math.Float32bits(got.Data[i]) != math.Float32bits(fresh.Data[i]) {
					t.Fatalf("%s: element %d = %g, a fresh pack gives %g", what, i, got.Data[i], fresh.Data[i])
				}
			}
		}
		for i := 0; i < 3; i++ {
			check("unchanged weights")
		}
		if e := be.packs[packKey{weakKey(w), packU8S8}]; e == nil || e.packed == nil {
			t.Fatal("weights used three times unchanged were not kept packed")
		}
		be.Axpy(0.5, other, w)
		check("after Axpy")
		check("after Axpy, again")
	})
}

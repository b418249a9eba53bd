package native

import (
	"fmt"
	"math"
	"testing"
)

// TestUpdate checks each instruction set's optimizer step against
// updateGo, bit for bit: every combination of the penalty (none, -0,
// which counts as none, a rate, NaN), momentum and moving average, on
// lengths with and without a tail, over values with zeros of both signs,
// infinities, NaN and denormals.
func TestUpdate(t *testing.T) { forEachISA(t, testUpdate) }

func testUpdate(t *testing.T, k *kernels) {
	nan := float32(math.NaN())
	special := []float32{float32(math.Copysign(0, -1)), 0, nan, float32(math.Inf(-1)), float32(math.Inf(1)), -1.5, 2.25, 1e-40, -3e-39, 0.7, -0.01}
	value := func(n, seed int) []float32 {
		v := make([]float32, n)
		for i := range v {
			if (i+seed)%5 == 0 {
				v[i] = special[(i*7+seed)%len(special)]
			} else {
				v[i] = float32(math.Sin(float64(i*13+seed*101))) * float32(1+seed)
			}
		}
		return v
	}
	same := func(a, b []float32) int {
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) && !(a[i] != a[i] && b[i] != b[i]) {
				return i
			}
		}
		return -1
	}
	for _, n := range []int{0, 3, 8, 21, 64, 1003} {
		for _, l2 := range []float32{0, float32(math.Copysign(0, -1)), 1e-3, nan} {
			for _, momentum := range []bool{false, true} {
				for _, avg := range []bool{false, true} {
					c := [4]float32{l2, -0.03, 0.9, 0.001}
					arrays := func() (w, g, v, e []float32) {
						w, g = value(n, 1), value(n, 2)
						if momentum {
							v = value(n, 3)
						}
						if avg {
							e = value(n, 4)
						}
						return
					}
					w, g, v, e := arrays()
					ww, wg, wv, we := arrays()
					k.update(w, g, v, e, c)
					updateGo(ww, wg, wv, we, c)
					name := fmt.Sprintf("n %d l2 %v momentum %v average %v", n, l2, momentum, avg)
					for _, p := range []struct {
						what      string
						got, want []float32
					}{{"weight", w, ww}, {"gradient", g, wg}, {"velocity", v, wv}, {"average", e, we}} {
						if i := same(p.got, p.want); i >= 0 {
							t.Fatalf("%s: %s %d = %v (%#x), want %v (%#x)", name, p.what, i, p.got[i], math.Float32bits(p.got[i]), p.want[i], math.Float32bits(p.want[i]))
						}
					}
				}
			}
		}
	}
}

package native

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestBF16RoundingIsNearest: bf16FromF32 is the nearest bfloat16 (ties to
// even), checked against float64 arithmetic on random normal floats: the
// error is at most half a unit in the last place, 2^(e-8) for a value in
// [2^e, 2^(e+1)) (2^-8 relative at worst: the tolerance the bf16 paths'
// checks start from).
func TestBF16RoundingIsNearest(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for range 1 << 16 {
		f := float32(r.NormFloat64() * math.Pow(2, float64(r.IntN(60)-30)))
		h := bf16FromF32(f)
		got := float64(f32FromBF16(h))
		_, exp := math.Frexp(float64(f)) // |f| in [2^(exp-1), 2^exp)
		if d := math.Abs(got - float64(f)); d > math.Ldexp(1, exp-1-8) {
			t.Fatalf("%g rounds to %g: %g away, more than half a unit in the last place", f, got, d)
		}
		// The neighbours are no nearer.
		for _, n := range []uint16{h - 1, h + 1} {
			if d, dn := math.Abs(got-float64(f)), math.Abs(float64(f32FromBF16(n))-float64(f)); dn < d || (dn == d && h&1 == 1) {
				t.Fatalf("%g rounds to %#04x (%g), but %#04x (%g) is nearer or an even tie", f, h, got, n, f32FromBF16(n))
			}
		}
	}
}

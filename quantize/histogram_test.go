package quantize

import (
	"math"
	"math/rand/v2"
	"testing"
)

func rangeOf(values []float32) (float64, float64, *histogram) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range values {
		lo, hi = min(lo, float64(v)), max(hi, float64(v))
	}
	h := newHistogram(lo, hi)
	h.add(values)
	i, j, _ := h.bestRange()
	w := h.width()
	return h.lo + float64(i)*w, h.lo + float64(j)*w, h
}

// TestBestRange: the clip range keeps nearly all of a uniform
// distribution, cuts rare outliers off (max-abs would spend the levels on
// them), sits around a signed distribution, and lowers the error below
// the full range's whenever it moves.
func TestBestRange(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	uniform := make([]float32, 100000)
	for i := range uniform {
		uniform[i] = r.Float32()
	}
	if lo, hi, _ := rangeOf(uniform); lo != 0 || hi < 0.98 {
		t.Errorf("uniform [0, 1): clipped to [%v, %v], want [0, ~1]", lo, hi)
	}
	// A long tail (exponential: half a Laplace, as activations often
	// are): clipped inside the largest value, near the analytic optimum
	// for 8 bits (about 9.9 scales: Banner et al., "ACIQ", 2018), at the
	// best range a full search finds.
	laplace := make([]float32, 100000)
	for i := range laplace {
		laplace[i] = float32(r.ExpFloat64())
	}
	lo, hi, h := rangeOf(laplace)
	if lo != 0 || hi >= h.hi || hi < 8.5 || hi > 11.5 {
		t.Errorf("exponential: clipped to [%v, %v] of [0, %v], want [0, about 9.9]", lo, hi, h.hi)
	}
	checkBest(t, "exponential", h)
	gauss := make([]float32, 100000)
	for i := range gauss {
		gauss[i] = float32(r.NormFloat64())
	}
	lo, hi, h = rangeOf(gauss)
	checkBest(t, "normal", h)
	if lo > -2.5 || hi < 2.5 || math.Abs(lo+hi) > 0.5 {
		t.Errorf("standard normal: clipped to [%v, %v], want about ±3", lo, hi)
	}
	m := h.moments()
	if i, j, e := h.bestRange(); e >= h.clipError(m, 0, Bins) || i == 0 && j == Bins {
		t.Errorf("the normal's range did not move or did not lower the error (%v against %v)", e, h.clipError(m, 0, Bins))
	}
	q := inputQuant(lo, hi)
	if z := math.Abs(float64(q.Zero) - 127.5); z > 10 {
		t.Errorf("standard normal: zero point %d, want near the middle", q.Zero)
	}
	// The map's ends and its zero.
	if q.Quantize(0) != q.Zero || q.Dequantize(q.Zero) != 0 || q.Quantize(float32(lo)) > 1 || q.Quantize(float32(hi)) < 254 {
		t.Errorf("map %+v of [%v, %v]: 0 -> %d, lo -> %d, hi -> %d", q, lo, hi, q.Quantize(0), q.Quantize(float32(lo)), q.Quantize(float32(hi)))
	}
	// Only zeros: any valid step.
	if lo, hi, _ := rangeOf(make([]float32, 10)); inputQuant(lo, hi).Validate() != nil || inputQuant(lo, hi).Zero != 0 {
		t.Errorf("zeros: %+v", inputQuant(lo, hi))
	}
}

// checkBest compares bestRange's error with the least over every range
// [edge i <= 0, edge j >= 0]: coordinate descent must come within 1%.
func checkBest(t *testing.T, what string, h *histogram) {
	t.Helper()
	m := h.moments()
	_, _, got := h.bestRange()
	zero := int(math.Ceil(-h.lo / h.width()))
	best := math.Inf(1)
	for i := 0; i <= zero; i++ {
		for j := max(zero, i+1); j <= Bins; j++ {
			best = min(best, h.clipError(m, i, j))
		}
	}
	if got > 1.01*best {
		t.Errorf("%s: bestRange's error %v, a full search finds %v", what, got, best)
	}
}

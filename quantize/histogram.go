package quantize

import (
	"math"

	"github.com/resgo/resgo/backend"
)

// Bins is the histogram's resolution: with 255 levels over the clip
// range, a step spans at least eight bins while the range is an eighth of
// the values' or more.
const Bins = 2048

// histogram counts a tensor's non-zero values in Bins equal bins over
// [lo, hi], a range holding 0; exact zeros are counted apart, since every
// byte map represents them exactly (the zero point is a whole level).
type histogram struct {
	lo, hi float64
	counts [Bins]float64
	zeros  float64
}

func newHistogram(lo, hi float64) *histogram {
	return &histogram{lo: min(lo, 0), hi: max(hi, 0)}
}

func (h *histogram) width() float64 { return (h.hi - h.lo) / Bins }

func (h *histogram) add(values []float32) {
	w := h.width()
	for _, v := range values {
		if v == 0 {
			h.zeros++
			continue
		}
		b := int((float64(v) - h.lo) / w)
		h.counts[min(max(b, 0), Bins-1)]++
	}
}

// prefix sums of the counts, count·v and count·v² at the bin centres
// (index b: the bins below b).
type moments struct{ n, s, s2 [Bins + 1]float64 }

func (h *histogram) moments() *moments {
	m := &moments{}
	w := h.width()
	for b, c := range h.counts {
		v := h.lo + (float64(b)+0.5)*w
		m.n[b+1], m.s[b+1], m.s2[b+1] = m.n[b]+c, m.s[b]+c*v, m.s2[b]+c*v*v
	}
	return m
}

// sq is Σ count·(v − t)² over bins [i, j).
func (m *moments) sq(i, j int, t float64) float64 {
	n, s, s2 := m.n[j]-m.n[i], m.s[j]-m.s[i], m.s2[j]-m.s2[i]
	return max(0, s2-2*t*s+t*t*n)
}

// clipError is the expected squared error of mapping the histogram's
// values onto 256 levels over [edge i, edge j]: values outside move to
// the nearer end, values inside by a uniform rounding error (step²/12).
func (h *histogram) clipError(m *moments, i, j int) float64 {
	w := h.width()
	lo, hi := h.lo+float64(i)*w, h.lo+float64(j)*w
	step := (hi - lo) / 255
	return m.sq(0, i, lo) + m.sq(j, Bins, hi) + (m.n[j]-m.n[i])*step*step/12
}

// bestRange returns the bin edges [i, j] of the clip range with the least
// clipError, i at or below 0 and j at or above (coordinate descent: the
// best upper edge for the lower, then the best lower for that, until
// neither moves), and that error.
func (h *histogram) bestRange() (int, int, float64) {
	m := h.moments()
	w := h.width()
	if !(w > 0) {
		return 0, Bins, 0 // only zeros seen: nothing to clip
	}
	// The edge at (or just past) 0: the lower edge stays at or below it,
	// the upper at or above.
	zero := int(math.Ceil(-h.lo / w))
	zero = min(max(zero, 0), Bins)
	i, j := 0, Bins
	best := h.clipError(m, i, j)
	for range 50 {
		moved := false
		for jj := max(zero, i+1); jj <= Bins; jj++ {
			if e := h.clipError(m, i, jj); e < best {
				best, j, moved = e, jj, true
			}
		}
		for ii := 0; ii <= min(zero, j-1); ii++ {
			if e := h.clipError(m, ii, j); e < best {
				best, i, moved = e, ii, true
			}
		}
		if !moved {
			break
		}
	}
	return i, j, best
}

// inputQuant is the byte map of the clip range [lo, hi] (lo <= 0 <= hi):
// 255 steps across it, the zero point the level nearest 0.
func inputQuant(lo, hi float64) backend.InputQuant {
	if !(hi-lo > 1e-30) {
		return backend.InputQuant{Step: 1} // only zeros seen: any step represents them
	}
	step := float32((hi - lo) / 255)
	zero := math.Round(-lo / float64(step))
	return backend.InputQuant{Step: step, Zero: uint8(min(max(zero, 0), 255))}
}

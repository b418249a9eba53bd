package quantize

import (
	"errors"
	"fmt"
	"math"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/nn"
)

// Method names the calibration, as the checkpoint section records it.
const Method = "mse-histogram"

// InputStats describes one convolution input seen in calibration and the
// byte map chosen for it.
type InputStats struct {
	Conv string
	// Min and Max are the extremes seen; Lo and Hi the clip range chosen.
	Min, Max, Lo, Hi float64
	// Zeros is the share of values exactly 0.
	Zeros float64
	// SQNR is the signal-to-quantization-noise ratio the histogram
	// predicts for the map, in dB: 10·log10(Σx² / Σ(x − x̂)²).
	SQNR  float64
	Quant backend.InputQuant
}

// Calibrate chooses the byte map of every convolution input in net from
// the values it sees while run passes the calibration images through
// net (run is called twice: once for each input's range, once for its
// histogram over that range; it must feed the same images both times).
// For each input it takes the clip range [lo, hi] (lo <= 0 <= hi) with the
// least expected squared error: values outside move to the nearer end,
// values inside by a uniform rounding error of (hi−lo)²/255²/12; exact
// zeros (after a ReLU, most values) cost nothing. Against max-abs it does
// not spend the 256 levels on rare outliers, and unlike a percentile it
// has no threshold to choose. net must be in evaluation mode.
func Calibrate(be backend.Backend, net nn.Layer, run func() error) ([]InputStats, error) {
	convs := nn.Convs(net)
	if len(convs) == 0 {
		return nil, errors.New("quantize: the model has no convolutions")
	}
	names := map[string]bool{}
	for _, c := range convs {
		if names[c.Name] {
			return nil, fmt.Errorf("quantize: two convolutions named %q", c.Name)
		}
		names[c.Name] = true
	}
	defer func() {
		for _, c := range convs {
			c.Observe = nil
		}
	}()
	download := func(x backend.Tensor, buf *[]float32) []float32 {
		n := backend.Len(x.Shape())
		if cap(*buf) < n {
			*buf = make([]float32, n)
		}
		v := (*buf)[:n]
		be.Download(x, v)
		return v
	}
	var buf []float32
	lows, highs := make([]float64, len(convs)), make([]float64, len(convs))
	seen := make([]bool, len(convs))
	for k, c := range convs {
		lows[k], highs[k] = math.Inf(1), math.Inf(-1)
		c.Observe = func(x backend.Tensor) {
			seen[k] = true
			for _, v := range download(x, &buf) {
				lows[k], highs[k] = min(lows[k], float64(v)), max(highs[k], float64(v))
			}
		}
	}
	if err := run(); err != nil {
		return nil, err
	}
	hists := make([]*histogram, len(convs))
	for k, c := range convs {
		if !seen[k] {
			return nil, fmt.Errorf("quantize: calibration passed nothing through %s", c.Name)
		}
		if math.IsNaN(lows[k]) || math.IsInf(lows[k], 0) || math.IsNaN(highs[k]) || math.IsInf(highs[k], 0) {
			return nil, fmt.Errorf("quantize: the input of %s is not finite in calibration (seen from %v to %v)", c.Name, lows[k], highs[k])
		}
		h := newHistogram(lows[k], highs[k])
		hists[k] = h
		c.Observe = func(x backend.Tensor) { h.add(download(x, &buf)) }
	}
	if err := run(); err != nil {
		return nil, err
	}
	stats := make([]InputStats, len(convs))
	for k, c := range convs {
		h := hists[k]
		i, j, noise := h.bestRange()
		w := h.width()
		lo, hi := h.lo+float64(i)*w, h.lo+float64(j)*w
		m := h.moments()
		var total float64
		for _, n := range h.counts {
			total += n
		}
		total += h.zeros
		st := InputStats{Conv: c.Name, Min: lows[k], Max: highs[k], Lo: lo, Hi: hi, Quant: inputQuant(lo, hi), SQNR: math.Inf(1)}
		if total > 0 {
			st.Zeros = h.zeros / total
		}
		if noise > 0 {
			st.SQNR = 10 * math.Log10(m.s2[Bins]/noise)
		}
		stats[k] = st
	}
	return stats, nil
}

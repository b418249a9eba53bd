package backend

import (
	"math"
	"testing"
)

// TestQuantization: the bytes round to nearest (ties to even), take the
// zero point and clamp, with the vector instructions' answer for values
// past int32 (the byte 0); weight steps put each channel's largest
// magnitude at 127; bad steps and weights are refused.
func TestQuantization(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, c := range []struct {
		x    float32
		q    InputQuant
		want uint8
	}{
		{0, InputQuant{1, 0}, 0}, {-3, InputQuant{1, 0}, 0}, {2.5, InputQuant{1, 0}, 2}, {3.5, InputQuant{1, 0}, 4},
		{254.6, InputQuant{1, 0}, 255}, {1e9, InputQuant{1, 0}, 255}, {0.3, InputQuant{0.1, 0}, 3},
		{0, InputQuant{0.5, 100}, 100}, {-1, InputQuant{0.5, 100}, 98}, {-60, InputQuant{0.5, 100}, 0},
		{77.4, InputQuant{0.5, 100}, 255}, {1.25, InputQuant{0.5, 100}, 102},
		{nan, InputQuant{1, 7}, 0}, {inf, InputQuant{1, 7}, 0}, {-inf, InputQuant{1, 7}, 0}, {3e9, InputQuant{1, 7}, 0},
	} {
		if got := c.q.Quantize(c.x); got != c.want {
			t.Errorf("%+v.Quantize(%v) = %d, want %d", c.q, c.x, got, c.want)
		}
	}
	if v := (InputQuant{0.5, 100}).Dequantize(98); v != -1 {
		t.Errorf("Dequantize(98) = %v, want -1", v)
	}
	for _, bad := range []float32{0, -1, nan, inf, 1e-40} {
		if (InputQuant{Step: bad}).Validate() == nil {
			t.Errorf("step %v accepted", bad)
		}
	}
	if err := (InputQuant{Step: 0.01, Zero: 3}).Validate(); err != nil {
		t.Error(err)
	}
	steps := WeightSteps([]float32{1, -2.54, 0, 0}, 2)
	if steps[0] != 2.54/127 || steps[1] != 1 {
		t.Fatalf("WeightSteps = %v", steps)
	}
	if q := QuantizeS8(-2.54, steps[0]); q != -127 {
		t.Fatalf("QuantizeS8 of the largest = %d", q)
	}
	for _, bad := range []struct {
		w []float32
		o int
	}{{[]float32{1, 2, 3}, 2}, {[]float32{1}, 0}, {[]float32{float32(math.NaN()), 1}, 1}, {[]float32{float32(math.Inf(1))}, 1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("WeightSteps(%v, %d) accepted", bad.w, bad.o)
				}
			}()
			WeightSteps(bad.w, bad.o)
		}()
	}
}

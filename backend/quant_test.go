package backend

import (
	"math"
	"testing"
)

// TestQuantization: the bytes round to nearest (ties to even) and clamp;
// weight steps put each channel's largest magnitude at 127; bad weights
// are refused.
func TestQuantization(t *testing.T) {
	for _, c := range []struct {
		x, step float32
		want    uint8
	}{{0, 1, 0}, {-3, 1, 0}, {2.5, 1, 2}, {3.5, 1, 4}, {254.6, 1, 255}, {1e9, 1, 255}, {0.3, 0.1, 3}} {
		if got := QuantizeU8(c.x, c.step); got != c.want {
			t.Errorf("QuantizeU8(%v, %v) = %d, want %d", c.x, c.step, got, c.want)
		}
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

package backend

import (
	"fmt"
	"math"
)

// Int8 convolutions (post-training static quantization). Activations are
// unsigned bytes with one step per tensor, chosen ahead of time from
// calibration data: x ≈ step·q, q = clamp(round(x/step), 0, 255), so
// inputs must be non-negative (in a ResNet they follow a ReLU, or are
// pixels); weights are signed bytes with one step per output channel,
// taken from the weights themselves: w ≈ s_o·q, s_o = max|w_o|/127,
// q = round(w/s_o) in [-127, 127]. The products are summed exactly in
// int32, and y = step·s_o·sum + b (then the ReLU) in float32.

// QuantizedConv is implemented by backends that compute a convolution's
// forward pass on int8 values. ConvForwardU8S8 is ConvForward with x and
// w quantized as above (x's step is inStep > 0); a backend may compute a
// geometry it has no int8 kernels for in float32 instead.
type QuantizedConv interface {
	ConvForwardU8S8(x, w, b, y Tensor, d ConvDesc, inStep float32)
}

// QuantizeU8 is an activation's byte for step.
func QuantizeU8(x, step float32) uint8 {
	q := math.RoundToEven(float64(x) / float64(step))
	return uint8(max(0, min(255, q)))
}

// WeightSteps returns the step of each of the o output channels of w
// ([o, ...] row-major): max|w_o|/127, or 1 for a channel of zeros. It
// panics when w does not split into o channels or holds a value that is
// not finite (no step would represent it).
func WeightSteps(w []float32, o int) []float32 {
	if o <= 0 || len(w)%o != 0 {
		panic(fmt.Sprintf("backend: %d weights do not split into %d output channels", len(w), o))
	}
	steps := make([]float32, o)
	per := len(w) / o
	for i := range steps {
		var m float32
		for _, v := range w[i*per : (i+1)*per] {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				panic(fmt.Sprintf("backend: weight %v of output channel %d: int8 weights must be finite", v, i))
			}
			m = max(m, float32(math.Abs(float64(v))))
		}
		steps[i] = 1
		if m > 0 {
			steps[i] = m / 127
		}
	}
	return steps
}

// QuantizeS8 is a weight's byte for step.
func QuantizeS8(w, step float32) int8 {
	q := math.RoundToEven(float64(w) / float64(step))
	return int8(max(-127, min(127, q)))
}

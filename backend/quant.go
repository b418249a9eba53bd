package backend

import (
	"fmt"
	"math"
)

// Int8 convolutions (post-training static quantization). Activations are
// unsigned bytes with one affine map per tensor, chosen ahead of time from
// calibration data: x ≈ Step·(q − Zero), so a tensor that is never
// negative (after a ReLU, or pixels) takes Zero = 0 and all 256 levels,
// and a signed one (a residual sum) a zero point inside the range.
// Weights are signed bytes with one step per output channel, taken from
// the weights themselves: w ≈ s_o·q, s_o = max|w_o|/127,
// q = round(w/s_o) in [-127, 127]. The products are summed exactly in
// int32 as Σ (q_x − Zero)·q_w (padding is an exact zero), and
// y = fl32(sum)·fl32(Step·s_o) + b (then the ReLU) in float32.

// InputQuant is the affine map of an int8 convolution's input.
type InputQuant struct {
	// Step is the value of one level: positive and finite.
	Step float32
	// Zero is the byte that stands for 0.
	Zero uint8
}

// Validate reports a step that is not positive and finite, or whose
// reciprocal is not (the bytes are taken with it).
func (q InputQuant) Validate() error {
	inv := 1 / q.Step
	if !(q.Step > 0) || math.IsInf(float64(q.Step), 0) || math.IsInf(float64(inv), 0) {
		return fmt.Errorf("backend: int8 input step %v: must be positive and finite, with a finite reciprocal", q.Step)
	}
	return nil
}

// Inverse is the factor the bytes are taken with: fl32(1/Step).
func (q InputQuant) Inverse() float32 { return 1 / q.Step }

// Quantize is x's byte: clamp(roundToEven(fl32(x·Inverse())) + Zero, 0,
// 255), with the product's rounding and the conversion of the CPU's
// vector instructions (VCVTPS2DQ: NaN and magnitudes past 2^31 become
// −2^31, so the byte 0), so vector kernels can match it bit for bit.
func (q InputQuant) Quantize(x float32) uint8 {
	return QuantizeScaled(x*q.Inverse(), q.Zero)
}

// QuantizeScaled is Quantize on x already multiplied by the inverse step.
func QuantizeScaled(v float32, zero uint8) uint8 {
	r := math.RoundToEven(float64(v))
	if !(r >= -(1<<31) && r < 1<<31) {
		r = -(1 << 31)
	}
	return uint8(max(0, min(255, int64(r)+int64(zero))))
}

// Dequantize is the value of byte b: Step·(b − Zero).
func (q InputQuant) Dequantize(b uint8) float32 { return q.Step * float32(int(b)-int(q.Zero)) }

// QuantizedConv is implemented by backends that compute a convolution's
// forward pass on int8 values. ConvForwardU8S8 is ConvForward with x and
// w quantized as above (x with in); a backend may compute a geometry it
// has no int8 kernels for, or none faster than float32's, in float32
// instead, and says which in Int8Conv.
type QuantizedConv interface {
	ConvForwardU8S8(x, w, b, y Tensor, d ConvDesc, in InputQuant)
	// Int8Conv reports whether ConvForwardU8S8 of these shapes computes
	// on bytes (false: in float32).
	Int8Conv(x, w []int, d ConvDesc) bool
}

// QuantizedChain is implemented by backends that can run two int8
// convolutions in a row without their intermediate activation in
// float32. ConvForwardU8S8Chain computes y from x through blocks (see
// ChainBlock: In1 and In2 the convolutions' input maps) exactly as the
// separate calls would (two ConvForwardU8S8 calls per block, the first's
// output taken to bytes with In2 for the second; then the shortcut's sum
// and the ReLU as nn.Residual takes them), bit for bit but for the sign of
// zeros, or reports false, computing nothing, for blocks it does not
// chain.
type QuantizedChain interface {
	ConvForwardU8S8Chain(x Tensor, blocks []ChainBlock, y Tensor) bool
}

// Int8Output is an int8 convolution's output value before the bias:
// fl32(sum)·fl32(inStep·wStep), where sum is Σ (q_x − Zero)·q_w.
func Int8Output(sum int32, inStep, wStep float32) float32 {
	return float32(sum) * (inStep * wStep)
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

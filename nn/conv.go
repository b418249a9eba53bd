package nn

import (
	"fmt"

	"github.com/resgo/resgo/backend"
)

// Padding chooses how a convolution or pooling pads its input.
type Padding int

const (
	// Same is TensorFlow's SAME: output = ceil(input/stride), the odd extra
	// padding at the bottom/right.
	Same Padding = iota
	// Valid pads nothing.
	Valid
	// Symmetric pads (k-1)/2 on every side, PyTorch's usual choice:
	// output = floor((input - 1)/stride) + 1 for odd kernels.
	Symmetric
)

func (p Padding) conv(h, w, kh, kw, sh, sw int) backend.ConvDesc {
	d := backend.ConvDesc{StrideH: sh, StrideW: sw}
	switch p {
	case Same:
		_, d.PadTop, d.PadBottom = backend.SamePadding(h, kh, sh)
		_, d.PadLeft, d.PadRight = backend.SamePadding(w, kw, sw)
	case Symmetric:
		d.PadTop, d.PadBottom = (kh-1)/2, (kh-1)/2
		d.PadLeft, d.PadRight = (kw-1)/2, (kw-1)/2
	}
	return d
}

// Conv2D is a 2-D convolution with an optional bias and fused ReLU.
type Conv2D struct {
	Name            string
	In, Out         int
	KH, KW, Stride  int
	Padding         Padding
	ReLU            bool
	Weights, Biases *Param
	// NoInputGrad skips the gradient with respect to the input, which
	// the first layer of a network does not need; Backward returns nil.
	NoInputGrad bool
	// InQuant, when set, makes Forward compute on int8 values
	// (backend.QuantizedConv) with this map of the input to bytes:
	// inference only.
	InQuant *backend.InputQuant
	// Observe, when set, is called with every input Forward takes (as
	// calibration records them).
	Observe func(x backend.Tensor)

	be   backend.Backend
	x, y backend.Tensor
	dx   backend.Tensor
	desc backend.ConvDesc
	// evaluating is set by SetTraining(false): Forward keeps nothing for
	// a backward pass, so it may run chained with the next convolution
	// (chained, then, until the next Forward that is not).
	evaluating, chained bool
}

// SetTraining implements Switchable: in evaluation a convolution may run
// chained with the next one (see forwardPair).
func (c *Conv2D) SetTraining(training bool) { c.evaluating = !training }

// NewConvNoBias makes a convolution without a bias, as before a batch
// norm, whose weight is named name.weight ([out, in, kh, kw]).
func NewConvNoBias(be backend.Backend, name string, in, out, k, stride int, pad Padding) *Conv2D {
	return &Conv2D{
		Name: name, In: in, Out: out, KH: k, KW: k, Stride: stride, Padding: pad,
		Weights: newParam(be, name+".weight", out, in, k, k),
		be:      be,
	}
}

// NewConvWithBias makes a convolution with a bias and PyTorch's names:
// name.weight and name.bias.
func NewConvWithBias(be backend.Backend, name string, in, out, k, stride int, pad Padding, relu bool) *Conv2D {
	c := NewConvNoBias(be, name, in, out, k, stride, pad)
	c.ReLU = relu
	c.Biases = newParam(be, name+".bias", out)
	return c
}

// NewConv2D makes a convolution whose parameters are named name/weights
// ([out, in, kh, kw]) and name/biases.
func NewConv2D(be backend.Backend, name string, in, out, k, stride int, pad Padding, relu bool) *Conv2D {
	return &Conv2D{
		Name: name, In: in, Out: out, KH: k, KW: k, Stride: stride, Padding: pad, ReLU: relu,
		Weights: newParam(be, name+"/weights", out, in, k, k),
		Biases:  newParam(be, name+"/biases", out),
		be:      be,
	}
}

func (c *Conv2D) outShape(in []int) (backend.ConvDesc, int, int) {
	if len(in) != 3 || in[0] != c.In {
		panic(fmt.Sprintf("nn: %s expects [%d, H, W] inputs, got %v", c.Name, c.In, in))
	}
	d := c.Padding.conv(in[1], in[2], c.KH, c.KW, c.Stride, c.Stride)
	d.ReLU = c.ReLU
	oh, ow := d.OutSize(in[1], in[2], c.KH, c.KW)
	return d, oh, ow
}

// ConvDesc is the convolution c computes on inputs of shape in ([C, H,
// W]): its strides and the padding on each side (for exporters).
func (c *Conv2D) ConvDesc(in []int) backend.ConvDesc {
	d, _, _ := c.outShape(in)
	return d
}

// Forward implements Layer.
func (c *Conv2D) Forward(x backend.Tensor) backend.Tensor {
	s := x.Shape()
	d, oh, ow := c.outShape(s[1:])
	c.desc, c.x, c.chained = d, x, false
	c.y = buffer(c.be, c.y, s[0], c.Out, oh, ow)
	if c.Observe != nil {
		c.Observe(x)
	}
	if c.InQuant != nil {
		c.forwardInt8(x, d)
		return c.y
	}
	c.be.ConvForward(x, c.Weights.Value, c.biasValue(), c.y, d)
	return c.y
}

// Backward implements Layer.
func (c *Conv2D) Backward(dy backend.Tensor) backend.Tensor {
	if c.InQuant != nil {
		panic(fmt.Sprintf("nn: %s computes on int8 values: inference only, no backward pass", c.Name))
	}
	if c.chained {
		panic(fmt.Sprintf("nn: %s ran chained with its neighbour in evaluation mode, which keeps nothing for a backward pass: call SetTraining(true) before Forward", c.Name))
	}
	// The ReLU's gradient is taken in place: Backward may overwrite dy,
	// which saves a buffer the size of the layer's output.
	pre := dy
	if c.ReLU {
		c.be.ReLUBackward(c.y, dy, dy)
	}
	var db backend.Tensor
	if c.Biases != nil {
		db = c.Biases.Grad
	}
	c.be.ConvBackwardFilter(c.x, pre, c.Weights.Grad, db, c.desc)
	if c.NoInputGrad {
		return nil
	}
	c.dx = buffer(c.be, c.dx, c.x.Shape()...)
	c.be.ConvBackwardData(pre, c.Weights.Value, c.dx, c.desc)
	return c.dx
}

func (c *Conv2D) biasValue() backend.Tensor {
	if c.Biases == nil {
		return nil
	}
	return c.Biases.Value
}

// Params implements Layer.
func (c *Conv2D) Params() []*Param {
	if c.Biases == nil {
		return []*Param{c.Weights}
	}
	return []*Param{c.Weights, c.Biases}
}

// Describe implements Layer.
func (c *Conv2D) Describe(in []int) Info {
	d, oh, ow := c.outShape(in)
	kind := fmt.Sprintf("conv %dx%d/%d", c.KH, c.KW, c.Stride)
	if c.ReLU {
		kind += " +relu"
	}
	if q, ok := c.be.(backend.QuantizedConv); ok && c.InQuant != nil && q.Int8Conv(append([]int{1}, in...), []int{c.Out, c.In, c.KH, c.KW}, d) {
		kind += " int8"
	}
	return Info{
		Name: c.Name, Kind: kind, Out: []int{c.Out, oh, ow},
		MACs:   int64(c.Out*oh*ow) * int64(c.In*c.KH*c.KW),
		Params: paramCount(c.Params()),
	}
}

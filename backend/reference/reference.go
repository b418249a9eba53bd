package reference

import (
	"fmt"

	"github.com/resgo/resgo/backend"
)

// Tensor is the reference backend's tensor: a dense row-major float32
// array.
type Tensor struct {
	shape []int
	Data  []float32
}

// Shape implements backend.Tensor.
func (t *Tensor) Shape() []int { return t.shape }

// Backend runs every primitive on the plain loops, on one goroutine.
type Backend struct{}

// New returns the reference backend.
func New() *Backend { return &Backend{} }

// data extracts the storage of a reference tensor, or nil for a nil handle.
func data(t backend.Tensor) []float32 {
	if t == nil {
		return nil
	}
	rt, ok := t.(*Tensor)
	if !ok {
		panic(fmt.Sprintf("reference: tensor of type %T belongs to another backend", t))
	}
	if rt == nil {
		return nil
	}
	return rt.Data
}

// dims4 returns the four dimensions of an NCHW tensor.
func dims4(t backend.Tensor) (n, c, h, w int) {
	s := t.Shape()
	if len(s) != 4 {
		panic(fmt.Sprintf("reference: want a 4-d NCHW tensor, got shape %v", s))
	}
	return s[0], s[1], s[2], s[3]
}

// same panics unless a and b hold as many values.
func same(op string, a, b []float32) {
	if len(a) != len(b) {
		panic(fmt.Sprintf("reference: %s between %d and %d values", op, len(a), len(b)))
	}
}

// Name implements backend.Backend.
func (*Backend) Name() string { return "reference" }

// Threads implements backend.Backend: the loops run on one goroutine.
func (*Backend) Threads() int { return 1 }

// New implements backend.Backend.
func (*Backend) New(shape ...int) backend.Tensor {
	return &Tensor{shape: append([]int(nil), shape...), Data: make([]float32, backend.Len(shape))}
}

// Upload implements backend.Backend.
func (*Backend) Upload(t backend.Tensor, src []float32) {
	d := data(t)
	same("upload", d, src)
	copy(d, src)
}

// Download implements backend.Backend.
func (*Backend) Download(t backend.Tensor, dst []float32) {
	d := data(t)
	same("download", dst, d)
	copy(dst, d)
}

// Zero implements backend.Backend.
func (*Backend) Zero(t backend.Tensor) { clear(data(t)) }

// Copy implements backend.Backend.
func (*Backend) Copy(dst, src backend.Tensor) {
	d, s := data(dst), data(src)
	same("copy", d, s)
	copy(d, s)
}

// Reshape implements backend.Backend: a view on the same memory.
func (*Backend) Reshape(t backend.Tensor, shape ...int) backend.Tensor {
	d := data(t)
	if backend.Len(shape) != len(d) {
		panic(fmt.Sprintf("reference: reshape of %v to %v", t.Shape(), shape))
	}
	return &Tensor{shape: append([]int(nil), shape...), Data: d}
}

// ConvForward implements backend.Backend.
func (*Backend) ConvForward(x, w, b, y backend.Tensor, d backend.ConvDesc) {
	refConvForward(x, w, b, y, d)
}

// ConvForwardU8S8 implements backend.QuantizedConv on the plain loops.
func (*Backend) ConvForwardU8S8(x, w, b, y backend.Tensor, d backend.ConvDesc, in backend.InputQuant) {
	if err := in.Validate(); err != nil {
		panic(err.Error())
	}
	refConvForwardU8S8(x, w, b, y, d, in)
}

// Int8Conv implements backend.QuantizedConv: the loops compute every
// shape on bytes.
func (*Backend) Int8Conv(x, w []int, d backend.ConvDesc) bool { return true }

// ConvBackwardData implements backend.Backend.
func (*Backend) ConvBackwardData(dy, w, dx backend.Tensor, d backend.ConvDesc) {
	refConvBackwardData(dy, w, dx, d)
}

// ConvBackwardFilter implements backend.Backend.
func (*Backend) ConvBackwardFilter(x, dy, dw, db backend.Tensor, d backend.ConvDesc) {
	refConvBackwardFilter(x, dy, dw, db, d)
}

// ReLUForward implements backend.Backend.
func (*Backend) ReLUForward(x, y backend.Tensor) {
	xs, ys := data(x), data(y)
	same("ReLUForward", xs, ys)
	for i, v := range xs {
		ys[i] = 0
		if v > 0 {
			ys[i] = v
		}
	}
}

// ReLUBackward implements backend.Backend: the gradient passes where the
// output is positive.
func (*Backend) ReLUBackward(y, dy, dx backend.Tensor) {
	ys, dys, dxs := data(y), data(dy), data(dx)
	same("ReLUBackward", ys, dys)
	same("ReLUBackward", ys, dxs)
	for i, v := range ys {
		g := dys[i]
		dxs[i] = 0
		if v > 0 {
			dxs[i] = g
		}
	}
}

// BatchNormForward implements backend.Backend.
func (*Backend) BatchNormForward(x, gamma, beta, mean, variance, y backend.Tensor, d backend.BatchNormDesc) {
	refBatchNormForward(x, gamma, beta, mean, variance, y, d)
}

// BatchNormBackward implements backend.Backend.
func (*Backend) BatchNormBackward(x, dy, gamma, mean, variance, dx, dgamma, dbeta backend.Tensor, d backend.BatchNormDesc) {
	refBatchNormBackward(x, dy, gamma, mean, variance, dx, dgamma, dbeta, d)
}

// MaxPoolForward implements backend.Backend.
func (*Backend) MaxPoolForward(x, y backend.Tensor, d backend.PoolDesc) {
	refMaxPoolForward(x, y, d)
}

// MaxPoolBackward implements backend.Backend.
func (*Backend) MaxPoolBackward(x, y, dy, dx backend.Tensor, d backend.PoolDesc) {
	refMaxPoolBackward(x, dy, dx, d)
}

// AvgPoolForward implements backend.Backend.
func (*Backend) AvgPoolForward(x, y backend.Tensor, d backend.PoolDesc) {
	refAvgPoolForward(x, y, d)
}

// AvgPoolBackward implements backend.Backend.
func (*Backend) AvgPoolBackward(dy, dx backend.Tensor, d backend.PoolDesc) {
	refAvgPoolBackward(dy, dx, d)
}

// ChannelPadForward implements backend.Backend: y holds x's channels from
// channel before on, zeros elsewhere.
func (*Backend) ChannelPadForward(x, y backend.Tensor, before int) {
	n, c, h, w := dims4(x)
	_, cy, _, _ := dims4(y)
	xs, ys := data(x), data(y)
	clear(ys)
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			for p := 0; p < h*w; p++ {
				ys[((i*cy+before+ch)*h*w)+p] = xs[(i*c+ch)*h*w+p]
			}
		}
	}
}

// ChannelPadBackward implements backend.Backend.
func (*Backend) ChannelPadBackward(dy, dx backend.Tensor, before int) {
	n, c, h, w := dims4(dx)
	_, cy, _, _ := dims4(dy)
	dys, dxs := data(dy), data(dx)
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			for p := 0; p < h*w; p++ {
				dxs[(i*c+ch)*h*w+p] = dys[((i*cy+before+ch)*h*w)+p]
			}
		}
	}
}

// AddTo implements backend.Backend.
func (*Backend) AddTo(y, x backend.Tensor) {
	ys, xs := data(y), data(x)
	same("AddTo", ys, xs)
	for i, v := range xs {
		ys[i] += v
	}
}

// LinearForward implements backend.Backend.
func (*Backend) LinearForward(x, w, b, y backend.Tensor) { refLinearForward(x, w, b, y) }

// LinearBackward implements backend.Backend.
func (*Backend) LinearBackward(x, w, dy, dx, dw, db backend.Tensor) {
	refLinearBackward(x, w, dy, dx, dw, db)
}

// SoftmaxCrossEntropy implements backend.Backend.
func (*Backend) SoftmaxCrossEntropy(logits backend.Tensor, labels []int32, dlogits backend.Tensor) float64 {
	s := logits.Shape()
	return backend.SoftmaxCrossEntropyHost(data(logits), s[0], s[1], labels, data(dlogits))
}

// Axpy implements backend.Backend: y += alpha * x.
func (*Backend) Axpy(alpha float32, x, y backend.Tensor) {
	xs, ys := data(x), data(y)
	same("Axpy", xs, ys)
	for i, v := range xs {
		ys[i] += alpha * v
	}
}

// Scale implements backend.Backend.
func (*Backend) Scale(t backend.Tensor, alpha float32) {
	ts := data(t)
	for i := range ts {
		ts[i] *= alpha
	}
}

// Lerp implements backend.Backend: y += t * (x - y).
func (*Backend) Lerp(y, x backend.Tensor, t float32) {
	ys, xs := data(y), data(x)
	same("Lerp", ys, xs)
	for i, v := range xs {
		ys[i] += t * (v - ys[i])
	}
}

// SumSquares implements backend.Backend.
func (*Backend) SumSquares(t backend.Tensor) float64 {
	var s float64
	for _, v := range data(t) {
		s += float64(v) * float64(v)
	}
	return s
}

var _ backend.Backend = (*Backend)(nil)

package nn

import (
	"math/rand/v2"

	"github.com/resgo/resgo/backend"
)

// Param is one trainable tensor with its gradient.
type Param struct {
	Name  string
	Shape []int
	Value backend.Tensor
	Grad  backend.Tensor
	// Decay marks parameters that get the L2 penalty.
	Decay bool
	// Init draws the initial value; nil leaves it to the model's default.
	Init func(r *rand.Rand, v []float32)
}

// Stateful layers keep values that are not trained by gradients but are
// part of the model, such as batch norm's running statistics: they are
// saved in checkpoints and used in evaluation. Their Grad is nil.
type Stateful interface {
	Stats() []*Param
}

// Switchable layers behave differently in training and evaluation.
type Switchable interface {
	SetTraining(training bool)
}

// Container layers hold other layers.
type Container interface {
	Children() []Layer
}

// Stats lists the non-trained state of l and everything inside it.
func Stats(l Layer) []*Param {
	var out []*Param
	visit(l, func(l Layer) {
		if s, ok := l.(Stateful); ok {
			out = append(out, s.Stats()...)
		}
	})
	return out
}

// SetTraining switches l and everything inside it between training and
// evaluation behaviour.
func SetTraining(l Layer, training bool) {
	visit(l, func(l Layer) {
		if s, ok := l.(Switchable); ok {
			s.SetTraining(training)
		}
	})
}

// visit calls fn for l and, depth first, every layer it contains.
func visit(l Layer, fn func(Layer)) {
	fn(l)
	if c, ok := l.(Container); ok {
		for _, sub := range c.Children() {
			visit(sub, fn)
		}
	}
}

// Layer is a differentiable function with parameters.
type Layer interface {
	// Forward computes the output for x. The returned tensor is owned by
	// the layer and stays valid until its next Forward.
	Forward(x backend.Tensor) backend.Tensor
	// Backward takes the gradient with respect to the last Forward's output,
	// sets the gradients of the layer's parameters (overwriting them) and
	// returns the gradient with respect to its input (owned by the layer).
	// It may overwrite dy: callers that need dy afterwards keep a copy.
	Backward(dy backend.Tensor) backend.Tensor
	// Params lists the layer's parameters, in a stable order.
	Params() []*Param
	// Describe reports the output shape and the multiply-adds per example
	// for an input of shape in (without the batch axis).
	Describe(in []int) Info
}

// Info describes a layer for summaries.
type Info struct {
	Name   string
	Kind   string
	Out    []int
	MACs   int64
	Params int64
}

// buffer returns t when it already has the wanted shape, else a new tensor.
func buffer(be backend.Backend, t backend.Tensor, shape ...int) backend.Tensor {
	if t != nil && sameShape(t.Shape(), shape) {
		return t
	}
	return be.New(shape...)
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func newParam(be backend.Backend, name string, shape ...int) *Param {
	return &Param{Name: name, Shape: shape, Value: be.New(shape...), Grad: be.New(shape...)}
}

func paramCount(ps []*Param) int64 {
	var n int64
	for _, p := range ps {
		n += int64(backend.Len(p.Shape))
	}
	return n
}

package nn

import (
	"fmt"

	"github.com/resgo/resgo/backend"
)

// Linear is a fully connected layer y = x W^T + b over flattened inputs.
type Linear struct {
	Name         string
	In, Out      int
	Weight, Bias *Param

	be       backend.Backend
	inShape  []int
	x, y, dx backend.Tensor
}

// NewLinear makes a fully connected layer with parameters name/weight
// ([out, in]) and name/bias. Its weight carries the L2 penalty.
func NewLinear(be backend.Backend, name string, in, out int) *Linear {
	return NewLinearSep(be, name, "/", in, out)
}

// NewLinearSep is NewLinear with another separator between the layer's
// name and "weight"/"bias" ("." for PyTorch's names).
func NewLinearSep(be backend.Backend, name, sep string, in, out int) *Linear {
	l := &Linear{Name: name, In: in, Out: out, be: be,
		Weight: newParam(be, name+sep+"weight", out, in),
		Bias:   newParam(be, name+sep+"bias", out)}
	l.Weight.Decay = true
	return l
}

// Forward implements Layer. Inputs of any rank are flattened per example.
func (l *Linear) Forward(x backend.Tensor) backend.Tensor {
	s := x.Shape()
	if backend.Len(s[1:]) != l.In {
		panic(fmt.Sprintf("nn: %s expects %d features, got shape %v", l.Name, l.In, s))
	}
	l.inShape = s
	l.x = l.be.Reshape(x, s[0], l.In)
	l.y = buffer(l.be, l.y, s[0], l.Out)
	l.be.LinearForward(l.x, l.Weight.Value, l.Bias.Value, l.y)
	return l.y
}

// Backward implements Layer.
func (l *Linear) Backward(dy backend.Tensor) backend.Tensor {
	l.dx = buffer(l.be, l.dx, l.x.Shape()...)
	l.be.LinearBackward(l.x, l.Weight.Value, dy, l.dx, l.Weight.Grad, l.Bias.Grad)
	return l.be.Reshape(l.dx, l.inShape...)
}

// Params implements Layer.
func (l *Linear) Params() []*Param { return []*Param{l.Weight, l.Bias} }

// Describe implements Layer.
func (l *Linear) Describe(in []int) Info {
	return Info{Name: l.Name, Kind: "fully connected", Out: []int{l.Out},
		MACs: int64(l.In * l.Out), Params: int64(l.In*l.Out + l.Out)}
}

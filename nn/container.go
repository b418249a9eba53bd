package nn

import (
	"fmt"

	"github.com/resgo/resgo/backend"
)

// Sequential chains layers.
type Sequential struct {
	Name   string
	Layers []Layer
}

// Forward implements Layer.
func (s *Sequential) Forward(x backend.Tensor) backend.Tensor {
	for _, l := range s.Layers {
		x = l.Forward(x)
	}
	return x
}

// Backward implements Layer.
func (s *Sequential) Backward(dy backend.Tensor) backend.Tensor {
	for i := len(s.Layers) - 1; i >= 0; i-- {
		dy = s.Layers[i].Backward(dy)
	}
	return dy
}

// Params implements Layer.
func (s *Sequential) Params() []*Param {
	var ps []*Param
	for _, l := range s.Layers {
		ps = append(ps, l.Params()...)
	}
	return ps
}

// Describe implements Layer: the totals over its layers.
func (s *Sequential) Describe(in []int) Info {
	info := Info{Name: s.Name, Kind: "sequential", Out: in}
	for _, l := range s.Layers {
		li := l.Describe(info.Out)
		info.Out, info.MACs, info.Params = li.Out, info.MACs+li.MACs, info.Params+li.Params
	}
	return info
}

// Walk calls fn for every leaf layer with its input shape, in order.
func Walk(l Layer, in []int, fn func(l Layer, in []int)) []int {
	switch c := l.(type) {
	case *Sequential:
		for _, sub := range c.Layers {
			in = Walk(sub, in, fn)
		}
		return in
	case *Residual:
		fn(l, in)
		return c.Describe(in).Out
	default:
		fn(l, in)
		return l.Describe(in).Out
	}
}

// Residual computes out = body(x) + shortcut(x), where the shortcut is the
// identity, zero-padded on the channel axis when the body widens it
// (He et al.'s option A). No activation follows the sum.
type Residual struct {
	Name string
	Body *Sequential

	be        backend.Backend
	x, padded backend.Tensor
	y, dshort backend.Tensor
	dx        backend.Tensor
	padBefore int
}

// NewResidual wraps body in an identity (or zero-padding) shortcut.
func NewResidual(be backend.Backend, name string, body ...Layer) *Residual {
	return &Residual{Name: name, Body: &Sequential{Name: name, Layers: body}, be: be}
}

func (r *Residual) padding(in, out []int) (before int) {
	if in[1] != out[1] || in[2] != out[2] || out[0] < in[0] || (out[0]-in[0])%2 != 0 {
		panic(fmt.Sprintf("nn: %s: shortcut cannot match body output %v from input %v", r.Name, out, in))
	}
	return (out[0] - in[0]) / 2
}

// Forward implements Layer.
func (r *Residual) Forward(x backend.Tensor) backend.Tensor {
	r.x = x
	body := r.Body.Forward(x)
	s := body.Shape()
	r.padBefore = r.padding(x.Shape()[1:], s[1:])
	r.y = buffer(r.be, r.y, s...)
	if r.padBefore == 0 {
		r.be.Copy(r.y, x)
	} else {
		r.be.ChannelPadForward(x, r.y, r.padBefore)
	}
	r.be.AddTo(r.y, body)
	return r.y
}

// Backward implements Layer.
func (r *Residual) Backward(dy backend.Tensor) backend.Tensor {
	// The shortcut's share first: the body may overwrite dy.
	r.dx = buffer(r.be, r.dx, r.x.Shape()...)
	if r.padBefore == 0 {
		r.be.Copy(r.dx, dy)
	} else {
		r.be.ChannelPadBackward(dy, r.dx, r.padBefore)
	}
	dbody := r.Body.Backward(dy)
	r.be.AddTo(r.dx, dbody)
	return r.dx
}

// Params implements Layer.
func (r *Residual) Params() []*Param { return r.Body.Params() }

// Describe implements Layer.
func (r *Residual) Describe(in []int) Info {
	info := r.Body.Describe(in)
	info.Name, info.Kind = r.Name, "residual"
	if in[0] != info.Out[0] {
		info.Kind = fmt.Sprintf("residual (pad %d->%d)", in[0], info.Out[0])
	}
	return info
}

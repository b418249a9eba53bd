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
	for i := 0; i < len(s.Layers); {
		if y, n, ok := forwardChain(s.Layers, i, x); ok {
			x, i = y, i+n
			continue
		}
		x = s.Layers[i].Forward(x)
		i++
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

// Children implements Container.
func (s *Sequential) Children() []Layer { return s.Layers }

// Describe implements Layer: the totals over its layers.
func (s *Sequential) Describe(in []int) Info {
	info := Info{Name: s.Name, Kind: "sequential", Out: in}
	for _, l := range s.Layers {
		li := l.Describe(info.Out)
		info.Out, info.MACs, info.Params = li.Out, info.MACs+li.MACs, info.Params+li.Params
	}
	return info
}

// Residual computes out = body(x) + shortcut(x), optionally rectified.
// The shortcut is the identity when Shortcut is nil, else Shortcut's
// output; when that has fewer channels than the body's output it is
// zero-padded on the channel axis (He et al.'s option A).
type Residual struct {
	Name     string
	Body     *Sequential
	Shortcut *Sequential
	// ReLU rectifies the sum, as in He et al.; the tutorial's seed model
	// leaves it out.
	ReLU bool

	be         backend.Backend
	x          backend.Tensor
	y, dshort  backend.Tensor
	dx         backend.Tensor
	padBefore  int
	shortShape []int
	// chained: the last Forward ran in a chained call (see
	// forwardChain), keeping nothing for a backward pass.
	chained bool
}

// NewResidual wraps body in an identity (or zero-padding) shortcut.
func NewResidual(be backend.Backend, name string, body ...Layer) *Residual {
	return &Residual{Name: name, Body: &Sequential{Name: name, Layers: body}, be: be}
}

func (r *Residual) padding(in, out []int) (before int) {
	if in[1] != out[1] || in[2] != out[2] || out[0] < in[0] || (out[0]-in[0])%2 != 0 {
		panic(fmt.Sprintf("nn: %s: shortcut output %v cannot match body output %v", r.Name, in, out))
	}
	return (out[0] - in[0]) / 2
}

// Forward implements Layer.
func (r *Residual) Forward(x backend.Tensor) backend.Tensor {
	r.x = x
	if y, _, ok := forwardChain([]Layer{r}, 0, x); ok {
		return y
	}
	r.chained = false
	body := r.Body.Forward(x)
	short := x
	if r.Shortcut != nil {
		short = r.Shortcut.Forward(x)
	}
	s := body.Shape()
	r.shortShape = short.Shape()
	r.padBefore = r.padding(r.shortShape[1:], s[1:])
	r.y = buffer(r.be, r.y, s...)
	if m, ok := r.be.(backend.ResidualMerger); ok {
		m.MergeResidual(short, body, r.y, r.padBefore, r.ReLU)
		return r.y
	}
	if r.padBefore == 0 {
		r.be.Copy(r.y, short)
	} else {
		r.be.ChannelPadForward(short, r.y, r.padBefore)
	}
	r.be.AddTo(r.y, body)
	if r.ReLU {
		r.be.ReLUForward(r.y, r.y)
	}
	return r.y
}

// Backward implements Layer.
func (r *Residual) Backward(dy backend.Tensor) backend.Tensor {
	if r.chained {
		panic(fmt.Sprintf("nn: %s ran chained in evaluation mode, which keeps nothing for a backward pass: call SetTraining(true) before Forward", r.Name))
	}
	if r.ReLU {
		r.be.ReLUBackward(r.y, dy, dy)
	}
	// The shortcut's share first: the body may overwrite dy.
	r.dx = buffer(r.be, r.dx, r.x.Shape()...)
	var dshort backend.Tensor = r.dx
	if r.Shortcut != nil {
		r.dshort = buffer(r.be, r.dshort, r.shortShape...)
		dshort = r.dshort
	}
	if r.padBefore == 0 {
		r.be.Copy(dshort, dy)
	} else {
		r.be.ChannelPadBackward(dy, dshort, r.padBefore)
	}
	var dxShort backend.Tensor
	if r.Shortcut != nil {
		dxShort = r.Shortcut.Backward(dshort)
	}
	dbody := r.Body.Backward(dy)
	if dxShort != nil {
		r.be.Copy(r.dx, dxShort)
	}
	r.be.AddTo(r.dx, dbody)
	return r.dx
}

// Params implements Layer.
func (r *Residual) Params() []*Param {
	ps := r.Body.Params()
	if r.Shortcut != nil {
		ps = append(ps, r.Shortcut.Params()...)
	}
	return ps
}

// Children implements Container.
func (r *Residual) Children() []Layer {
	if r.Shortcut != nil {
		return []Layer{r.Body, r.Shortcut}
	}
	return []Layer{r.Body}
}

// Describe implements Layer.
func (r *Residual) Describe(in []int) Info {
	info := r.Body.Describe(in)
	info.Name, info.Kind = r.Name, "residual"
	short := in
	if r.Shortcut != nil {
		si := r.Shortcut.Describe(in)
		info.MACs += si.MACs
		info.Params += si.Params
		short = si.Out
		info.Kind = "residual (projection)"
	}
	if short[0] != info.Out[0] {
		info.Kind = fmt.Sprintf("residual (pad %d->%d)", short[0], info.Out[0])
	}
	if r.ReLU {
		info.Kind += " +relu"
	}
	return info
}

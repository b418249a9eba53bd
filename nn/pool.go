package nn

import (
	"fmt"

	"github.com/resgo/resgo/backend"
)

// Pool2D is max or average pooling.
type Pool2D struct {
	Name      string
	Max       bool
	K, Stride int
	Padding   Padding
	// Global pools each whole map to one value (K and Stride unused).
	Global bool

	be   backend.Backend
	x, y backend.Tensor
	dx   backend.Tensor
	desc backend.PoolDesc
}

// NewMaxPool makes a max-pooling layer.
func NewMaxPool(be backend.Backend, name string, k, stride int, pad Padding) *Pool2D {
	return &Pool2D{Name: name, Max: true, K: k, Stride: stride, Padding: pad, be: be}
}

// NewAvgPool makes an average-pooling layer.
func NewAvgPool(be backend.Backend, name string, k, stride int, pad Padding) *Pool2D {
	return &Pool2D{Name: name, K: k, Stride: stride, Padding: pad, be: be}
}

// NewGlobalAvgPool makes a layer that averages each map to one value.
func NewGlobalAvgPool(be backend.Backend, name string) *Pool2D {
	return &Pool2D{Name: name, Global: true, Padding: Valid, be: be}
}

func (p *Pool2D) descFor(in []int) (backend.PoolDesc, int, int) {
	if len(in) != 3 {
		panic(fmt.Sprintf("nn: %s expects [C, H, W] inputs, got %v", p.Name, in))
	}
	if p.Global {
		d := backend.PoolDesc{KH: in[1], KW: in[2], StrideH: 1, StrideW: 1}
		return d, 1, 1
	}
	c := p.Padding.conv(in[1], in[2], p.K, p.K, p.Stride, p.Stride)
	d := backend.PoolDesc{KH: p.K, KW: p.K, StrideH: p.Stride, StrideW: p.Stride,
		PadTop: c.PadTop, PadBottom: c.PadBottom, PadLeft: c.PadLeft, PadRight: c.PadRight}
	oh, ow := d.OutSize(in[1], in[2])
	return d, oh, ow
}

// PoolDesc is the pooling p computes on inputs of shape in ([C, H, W]):
// its window, strides and padding (for exporters; padded cells never
// count, in a maximum or an average).
func (p *Pool2D) PoolDesc(in []int) backend.PoolDesc {
	d, _, _ := p.descFor(in)
	return d
}

// Forward implements Layer.
func (p *Pool2D) Forward(x backend.Tensor) backend.Tensor {
	s := x.Shape()
	d, oh, ow := p.descFor(s[1:])
	p.desc, p.x = d, x
	p.y = buffer(p.be, p.y, s[0], s[1], oh, ow)
	if p.Max {
		p.be.MaxPoolForward(x, p.y, d)
	} else {
		p.be.AvgPoolForward(x, p.y, d)
	}
	return p.y
}

// Backward implements Layer.
func (p *Pool2D) Backward(dy backend.Tensor) backend.Tensor {
	p.dx = buffer(p.be, p.dx, p.x.Shape()...)
	if p.Max {
		p.be.MaxPoolBackward(p.x, p.y, dy, p.dx, p.desc)
	} else {
		p.be.AvgPoolBackward(dy, p.dx, p.desc)
	}
	return p.dx
}

// Params implements Layer.
func (p *Pool2D) Params() []*Param { return nil }

// Describe implements Layer.
func (p *Pool2D) Describe(in []int) Info {
	_, oh, ow := p.descFor(in)
	kind := "avg-pool"
	if p.Max {
		kind = "max-pool"
	}
	if p.Global {
		return Info{Name: p.Name, Kind: "global " + kind, Out: []int{in[0], 1, 1}}
	}
	return Info{Name: p.Name, Kind: fmt.Sprintf("%s %dx%d/%d", kind, p.K, p.K, p.Stride), Out: []int{in[0], oh, ow}}
}

package backendtest

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/backend/reference"
)

// RunU8S8 checks a backend's int8 forward convolutions
// (backend.QuantizedConv) on every conformance case, twice: with
// non-negative inputs (as after a ReLU; zero point 0) whose step puts
// their largest at 255, and with signed ones (as a residual sum) mapped
// from their least to their largest by a zero point between:
//
//   - against the reference's int8 loops, bit for bit (where Int8Conv
//     says the backend computes the shape on bytes; elsewhere against
//     float32's reference as ConvForward is checked): the quantization is
//     defined in package backend and the int32 sums are exact, so only a
//     wrong kernel, packing or scale can differ;
//   - against the float32 reference, within what quantization costs: each
//     value moves by at most half its step, so an output by at most
//     sum over its terms of step/2·|w| + s_o/2·|x| + step·s_o/4.
func RunU8S8(t *testing.T, be backend.Backend) {
	q, ok := be.(backend.QuantizedConv)
	if !ok {
		t.Fatalf("%s has no int8 convolutions", be.Name())
	}
	ref := reference.New()
	for _, c := range ConvCases {
		for _, signed := range []bool{false, true} {
			name := "conv/" + c.Name + "/relu-input"
			if signed {
				name = "conv/" + c.Name + "/signed-input"
			}
			t.Run(name, func(t *testing.T) { checkConvU8S8(t, be, q, ref, c, signed) })
		}
	}
}

func checkConvU8S8(t *testing.T, be backend.Backend, q backend.QuantizedConv, ref *reference.Backend, c ConvCase, signed bool) {
	r := rand.New(rand.NewPCG(9, uint64(c.C*1000+c.H)))
	d := c.Desc()
	oh, ow := d.OutSize(c.H, c.W, c.KH, c.KW)
	up := func(b backend.Backend, v []float32, shape ...int) backend.Tensor {
		t := b.New(shape...)
		b.Upload(t, v)
		return t
	}
	xs := make([]float32, c.N*c.C*c.H*c.W)
	var top, bottom float32
	for i := range xs {
		xs[i] = float32(r.NormFloat64())
		if !signed {
			xs[i] = float32(math.Abs(float64(xs[i])))
		}
		top, bottom = max(top, xs[i]), min(bottom, xs[i])
	}
	in := backend.InputQuant{Step: (top - bottom) / 255}
	in.Zero = uint8(math.Round(float64(-bottom / in.Step)))
	step := in.Step
	ws := make([]float32, c.O*c.C*c.KH*c.KW)
	for i := range ws {
		ws[i] = float32(r.NormFloat64())
	}
	var bs []float32
	var b, br backend.Tensor
	if c.Bias {
		bs = make([]float32, c.O)
		for i := range bs {
			bs[i] = float32(r.NormFloat64())
		}
		b, br = up(be, bs, c.O), up(ref, bs, c.O)
	}
	y, yq, yf := be.New(c.N, c.O, oh, ow), ref.New(c.N, c.O, oh, ow), ref.New(c.N, c.O, oh, ow)
	xr, wr := up(ref, xs, c.N, c.C, c.H, c.W), up(ref, ws, c.O, c.C, c.KH, c.KW)
	q.ConvForwardU8S8(up(be, xs, c.N, c.C, c.H, c.W), up(be, ws, c.O, c.C, c.KH, c.KW), b, y, d, in)
	ref.ConvForwardU8S8(xr, wr, br, yq, d, in)
	ref.ConvForward(xr, wr, br, yf, d)
	got, want := download(be, y), download(ref, yq)
	if !q.Int8Conv([]int{c.N, c.C, c.H, c.W}, []int{c.O, c.C, c.KH, c.KW}, d) {
		// Left to float32: as ConvForward computes it.
		Compare(t, "forward left to float32", got, download(ref, yf))
		return
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("element %d = %v, the reference's int8 loops give %v", i, got[i], want[i])
		}
	}
	// The bound, from reference convolutions of |w| with ones and of |x|
	// with ones.
	abs := func(v []float32) []float32 {
		a := make([]float32, len(v))
		for i, f := range v {
			a[i] = float32(math.Abs(float64(f)))
		}
		return a
	}
	ones := func(n int) []float32 {
		a := make([]float32, n)
		for i := range a {
			a[i] = 1
		}
		return a
	}
	d.ReLU = false
	conv := func(x, w []float32) []float32 {
		out := ref.New(c.N, c.O, oh, ow)
		ref.ConvForward(up(ref, x, c.N, c.C, c.H, c.W), up(ref, w, c.O, c.C, c.KH, c.KW), nil, out, d)
		return download(ref, out)
	}
	wAbs, xAbs, taps := conv(ones(len(xs)), abs(ws)), conv(abs(xs), ones(len(ws))), conv(ones(len(xs)), ones(len(ws)))
	wSteps := backend.WeightSteps(ws, c.O)
	bound := make([]float64, len(got))
	for i := range bound {
		so := float64(wSteps[i/(oh*ow)%c.O])
		bound[i] = float64(step)/2*float64(wAbs[i]) + so/2*float64(xAbs[i]) + float64(step)*so/4*float64(taps[i])
	}
	CompareBound(t, "forward, against float32", got, download(ref, yf), bound)
}

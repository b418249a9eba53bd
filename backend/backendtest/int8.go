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

// ChainCase is a pair of convolutions for RunU8S8Chain: the first on
// [N, C, H, W] to O channels (K x K, stride S, padding K/2, ReLU), the
// second 3x3, stride 1, padding 1, to O2 channels.
type ChainCase struct {
	Name           string
	N, C, H, W, O  int
	K, S, O2       int
	Signed, NoReLU bool
	// WantChained: a backend computing every shape on bytes chains the
	// pair (O is a multiple of 32 channels, so of any tile width).
	WantChained bool
}

// ChainCases are the pairs RunU8S8Chain checks.
var ChainCases = []ChainCase{
	{Name: "64x14x14-relu", N: 3, C: 64, H: 14, W: 14, O: 64, K: 3, S: 1, O2: 64, WantChained: true},
	{Name: "signed-input-stride2", N: 2, C: 32, H: 9, W: 7, O: 96, K: 3, S: 2, O2: 40, Signed: true, WantChained: true},
	{Name: "1x1-first-no-relu", N: 5, C: 20, H: 4, W: 4, O: 32, K: 1, S: 1, O2: 32, NoReLU: true, WantChained: true},
	{Name: "2x2-maps", N: 13, C: 128, H: 2, W: 2, O: 128, K: 3, S: 1, O2: 64, WantChained: true},
	{Name: "odd-width-not-chained", N: 2, C: 16, H: 6, W: 6, O: 20, K: 3, S: 1, O2: 16},
}

// RunU8S8Chain checks a backend's chained int8 convolutions
// (backend.QuantizedChain) on ChainCases, without a shortcut and with the
// input as one where it fits: where it chains, the result equals two
// ConvForwardU8S8 calls (the first's float32 output quantized for the
// second) and the shortcut's sum (see checkChained); where it does not, it
// says so and leaves the output alone. everywhere says the backend computes every
// shape on bytes.
func RunU8S8Chain(t *testing.T, be backend.Backend, everywhere bool) {
	chain, ok := be.(backend.QuantizedChain)
	if !ok {
		t.Fatalf("%s does not chain int8 convolutions", be.Name())
	}
	q := be.(backend.QuantizedConv)
	for _, c := range ChainCases {
		t.Run("chain/"+c.Name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(11, uint64(c.C*100+c.H)))
			random := func(n int, abs bool) []float32 {
				v := make([]float32, n)
				for i := range v {
					v[i] = float32(r.NormFloat64())
					if abs {
						v[i] = float32(math.Abs(float64(v[i])))
					}
				}
				return v
			}
			up := func(v []float32, shape ...int) backend.Tensor {
				t := be.New(shape...)
				be.Upload(t, v)
				return t
			}
			d1 := backend.ConvDesc{StrideH: c.S, StrideW: c.S, PadTop: c.K / 2, PadBottom: c.K / 2, PadLeft: c.K / 2, PadRight: c.K / 2, ReLU: !c.NoReLU}
			d2 := backend.ConvDesc{StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, ReLU: true}
			x := up(random(c.N*c.C*c.H*c.W, !c.Signed), c.N, c.C, c.H, c.W)
			w1, b1 := up(random(c.O*c.C*c.K*c.K, false), c.O, c.C, c.K, c.K), up(random(c.O, false), c.O)
			w2, b2 := up(random(c.O2*c.O*9, false), c.O2, c.O, 3, 3), up(random(c.O2, false), c.O2)
			in1 := backend.InputQuant{Step: 4.0 / 255}
			if c.Signed {
				in1 = backend.InputQuant{Step: 6.0 / 255, Zero: 128}
			}
			// The first's outputs reach a few units either way: a zero
			// point inside when they are signed.
			in2 := backend.InputQuant{Step: 0.2, Zero: 0}
			if c.NoReLU {
				in2.Zero = 100
			}
			conv := func(x, w, b, y backend.Tensor, d backend.ConvDesc, in backend.InputQuant) {
				q.ConvForwardU8S8(x, w, b, y, d, in)
			}
			b := backend.ChainBlock{W1: w1, B1: b1, D1: d1, In1: in1, W2: w2, B2: b2, D2: d2, In2: in2}
			checkBlockVariants(t, be, x, b, everywhere && c.WantChained, conv, chain.ConvForwardU8S8Chain)
			if c.O2 == c.C && c.S == 1 {
				// Runs of blocks: with and without shortcuts, the sum
				// rectified or not.
				s, sr := b, b
				s.Shortcut = true
				// sr's second convolution is not rectified, so its sum
				// can be negative and the ReLU of the sum matters.
				sr.Shortcut, sr.ReLU = true, true
				sr.D2.ReLU = false
				for _, run := range [][]backend.ChainBlock{{b, b}, {s, sr, s}, {b, s}} {
					checkChained(t, be, x, run, everywhere && c.WantChained, conv, chain.ConvForwardU8S8Chain)
				}
			}
		})
	}
}

package backendtest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/backend/reference"
)

// Tolerance is the largest relative error a backend may show against the
// reference: |got-want| <= Tolerance * max(1, max|want|) per tensor.
const Tolerance = 1e-5

// ConvCase is one convolution of the suite.
type ConvCase struct {
	Name             string
	N, C, H, W, O    int
	KH, KW, Stride   int
	Same, ReLU, Bias bool
	// Native is the algorithm of the native backend the case is there to
	// exercise (by default, on every instruction set): its forward pass,
	// and its backward passes where it has them (planar and rows have no
	// backward-data, im2col runs it; their backward-filter is rows').
	// TestCasesExerciseTheirAlgorithm checks it.
	Native string
}

// Desc returns the convolution descriptor: SAME padding, or none (VALID).
func (c ConvCase) Desc() backend.ConvDesc {
	d := backend.ConvDesc{StrideH: c.Stride, StrideW: c.Stride, ReLU: c.ReLU}
	if c.Same {
		_, d.PadTop, d.PadBottom = backend.SamePadding(c.H, c.KH, c.Stride)
		_, d.PadLeft, d.PadRight = backend.SamePadding(c.W, c.KW, c.Stride)
	}
	return d
}

// ConvCases covers the shapes of the seed ResNet-34 and the corners.
var ConvCases = []ConvCase{
	{"stem7x7", 2, 1, 28, 28, 8, 7, 7, 1, true, true, true, "im2col"},
	{"3x3same", 2, 5, 7, 7, 6, 3, 3, 1, true, true, true, "im2col"},
	{"3x3noact", 3, 4, 4, 4, 5, 3, 3, 1, true, false, true, "im2col"},
	{"3x3on2x2", 2, 6, 2, 2, 7, 3, 3, 1, true, false, true, "im2col"},
	// Large enough for oneDNN's pixel-pair products (see backend/dnnl).
	{"3x3on2x2big-relu", 16, 256, 2, 2, 512, 3, 3, 1, true, true, true, "direct"},
	{"3x3on2x2big-nobias", 16, 512, 2, 2, 256, 3, 3, 1, true, false, false, "direct"},
	{"1x1stride2odd", 2, 6, 7, 7, 3, 1, 1, 2, true, true, true, "im2col"},
	{"1x1-64to32", 3, 64, 7, 7, 32, 1, 1, 1, true, false, true, "im2col"},
	{"3x3stride2odd", 1, 3, 9, 9, 4, 3, 3, 2, true, true, true, "im2col"},
	{"2x2stride2same", 2, 3, 5, 5, 4, 2, 2, 2, true, false, true, "im2col"},
	{"valid5x3", 1, 2, 8, 6, 3, 5, 3, 1, false, false, false, "im2col"},
	// One image of an 11x11 map (9 tiles of 4x4): too few Winograd rows
	// on every instruction set, so direct.
	{"direct-batch1-11x11", 1, 64, 11, 11, 32, 3, 3, 1, true, true, true, "direct"},
	// Enough channels for native's direct kernels: tiles that straddle
	// positions, partial tiles and output blocks, all on padding maps.
	{"direct7x7", 3, 24, 7, 7, 40, 3, 3, 1, true, true, true, "direct"},
	{"direct4x4-nobias", 7, 16, 4, 4, 33, 3, 3, 1, true, false, false, "direct"},
	{"direct2x2", 9, 20, 2, 2, 17, 3, 3, 1, true, true, true, "direct"},
	{"direct10x10", 1, 32, 10, 10, 64, 3, 3, 1, true, false, true, "direct"},
	{"direct3x3stride2", 4, 16, 9, 9, 16, 3, 3, 2, true, true, true, "direct"},
	{"direct5x5valid", 3, 16, 8, 6, 20, 5, 5, 1, false, false, true, "direct"},
	// Enough tiles x images for native's Winograd path (on every
	// instruction set: 48 rows with AVX-512's 12-row tiles; all of these
	// have twice that): maps that split into whole 4x4 tiles and maps that
	// do not.
	{"winograd14x14", 12, 32, 14, 14, 48, 3, 3, 1, true, true, true, "winograd"},
	{"winograd7x7", 40, 16, 7, 7, 24, 3, 3, 1, true, false, true, "winograd"},
	{"winograd4x4-nobias", 128, 16, 4, 4, 32, 3, 3, 1, true, true, false, "winograd"},
	{"winograd6x9", 20, 24, 6, 9, 16, 3, 3, 1, true, false, true, "winograd"},
	// An odd number of rows (49 images of one tile): bfloat16's
	// backward-filter pairs rows, the last with zeros.
	{"winograd4x4-oddrows", 49, 16, 4, 4, 16, 3, 3, 1, true, false, true, "winograd"},
	// Few input channels at stride 1: native's planar forward pass (output
	// channels x pixels of a row, rows spilling into the next).
	{"planar-stem7x7", 3, 1, 28, 28, 20, 7, 7, 1, true, true, true, "planar"},
	{"planar-3ch-5x3", 2, 3, 9, 11, 17, 5, 3, 1, true, true, true, "planar"},
	{"planar-valid", 3, 2, 10, 12, 24, 3, 5, 1, false, false, false, "planar"},
	{"planar-wide", 2, 1, 5, 37, 16, 3, 3, 1, true, false, true, "planar"},
	// Few input channels, strided: native unrolls rows (im2row) for the
	// forward pass (the ImageNet stem).
	{"rows-stem7x7s2", 3, 3, 28, 28, 20, 7, 7, 2, true, true, true, "rows"},
	{"rows-3x3stride2", 2, 3, 9, 9, 33, 3, 3, 2, true, false, false, "rows"},
}

func randTensor(be backend.Backend, r *rand.Rand, shape ...int) (backend.Tensor, []float32) {
	t := be.New(shape...)
	v := make([]float32, backend.Len(shape))
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	be.Upload(t, v)
	return t, v
}

func download(be backend.Backend, t backend.Tensor) []float32 {
	v := make([]float32, backend.Len(t.Shape()))
	be.Download(t, v)
	return v
}

// Compare fails the test when got differs from want beyond Tolerance.
func Compare(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	scale := 1.0
	for _, v := range want {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - float64(want[i])); d > Tolerance*scale || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s: element %d = %v, want %v (scale %v)", what, i, got[i], want[i], scale)
		}
	}
}

// Run checks every primitive of be against the reference backend.
func Run(t *testing.T, be backend.Backend) {
	ref := reference.New()
	for _, c := range ConvCases {
		t.Run("conv/"+c.Name, func(t *testing.T) { checkConv(t, be, ref, c) })
	}
	t.Run("pool", func(t *testing.T) { checkPools(t, be, ref) })
	t.Run("linear", func(t *testing.T) { checkLinear(t, be, ref) })
	t.Run("elementwise", func(t *testing.T) { checkElementwise(t, be, ref) })
	t.Run("batchnorm", func(t *testing.T) { checkBatchNorm(t, be, ref) })
	t.Run("chain", func(t *testing.T) { checkChain(t, be, ref) })
}

// checkChain runs the pieces of a widening residual layer in sequence, so
// that tensors arrive in whatever layouts the backend's primitives left
// them (blocked channels, for oneDNN) rather than freshly uploaded:
// conv -> channel pad -> conv, add the shortcut, then back again.
func checkChain(t *testing.T, be, ref backend.Backend) {
	r := rand.New(rand.NewPCG(10, 11))
	d := backend.ConvDesc{StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, ReLU: true}
	x, xr := pair(be, ref, r, 2, 16, 5, 5)
	w1, w1r := pair(be, ref, r, 32, 16, 3, 3)
	w2, w2r := pair(be, ref, r, 64, 64, 3, 3)
	b1, b1r := pair(be, ref, r, 32)
	run := func(be backend.Backend, x, w1, w2, b1 backend.Tensor) (out, dx backend.Tensor) {
		z := be.New(2, 32, 5, 5)
		be.ConvForward(x, w1, b1, z, d)
		p := be.New(2, 64, 5, 5)
		be.ChannelPadForward(z, p, 16)
		q := be.New(2, 64, 5, 5)
		be.ConvForward(p, w2, nil, q, backend.ConvDesc{StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1})
		be.AddTo(q, p)
		dp := be.New(2, 64, 5, 5)
		be.ConvBackwardData(q, w2, dp, d)
		be.AddTo(dp, q)
		dz := be.New(2, 32, 5, 5)
		be.ChannelPadBackward(dp, dz, 16)
		be.ReLUBackward(z, dz, dz)
		dx = be.New(2, 16, 5, 5)
		be.ConvBackwardData(dz, w1, dx, d)
		return q, dx
	}
	q, dx := run(be, x, w1, w2, b1)
	qr, dxr := run(ref, xr, w1r, w2r, b1r)
	Compare(t, "chain forward", download(be, q), download(ref, qr))
	Compare(t, "chain backward", download(be, dx), download(ref, dxr))
}

// pair makes the same random tensor on both backends.
func pair(be, ref backend.Backend, r *rand.Rand, shape ...int) (backend.Tensor, backend.Tensor) {
	a, v := randTensor(be, r, shape...)
	b := ref.New(shape...)
	ref.Upload(b, v)
	return a, b
}

func checkConv(t *testing.T, be, ref backend.Backend, c ConvCase) {
	runConv(t, be, ref, c, func(pass string, got, want []float32, _ convInputs) { Compare(t, pass, got, want) })
}

// convInputs are a case's random tensors, as uploaded: x, w and dy.
type convInputs struct{ x, w, dy []float32 }

// runConv runs the three passes of c (and the bias gradient) on be and on
// ref from the same random tensors and hands each pass's results to
// compare: "forward", "backward data", "backward filter", "backward
// bias".
func runConv(t *testing.T, be, ref backend.Backend, c ConvCase, compare func(pass string, got, want []float32, in convInputs)) {
	r := rand.New(rand.NewPCG(7, uint64(c.C*1000+c.H)))
	d := c.Desc()
	oh, ow := d.OutSize(c.H, c.W, c.KH, c.KW)
	x, xr := pair(be, ref, r, c.N, c.C, c.H, c.W)
	w, wr := pair(be, ref, r, c.O, c.C, c.KH, c.KW)
	var b, br backend.Tensor
	if c.Bias {
		b, br = pair(be, ref, r, c.O)
	}
	dy, dyr := pair(be, ref, r, c.N, c.O, oh, ow)
	in := convInputs{x: download(ref, xr), w: download(ref, wr), dy: download(ref, dyr)}
	y, yr := be.New(c.N, c.O, oh, ow), ref.New(c.N, c.O, oh, ow)
	be.ConvForward(x, w, b, y, d)
	ref.ConvForward(xr, wr, br, yr, d)
	compare("forward", download(be, y), download(ref, yr), in)

	dx, dxr := be.New(c.N, c.C, c.H, c.W), ref.New(c.N, c.C, c.H, c.W)
	be.ConvBackwardData(dy, w, dx, d)
	ref.ConvBackwardData(dyr, wr, dxr, d)
	compare("backward data", download(be, dx), download(ref, dxr), in)

	dw, dwr := be.New(c.O, c.C, c.KH, c.KW), ref.New(c.O, c.C, c.KH, c.KW)
	var db, dbr backend.Tensor
	if c.Bias {
		db, dbr = be.New(c.O), ref.New(c.O)
	}
	// Stale values must be overwritten, not accumulated into.
	be.Upload(dw, download(be, w))
	be.ConvBackwardFilter(x, dy, dw, db, d)
	ref.ConvBackwardFilter(xr, dyr, dwr, dbr, d)
	compare("backward filter", download(be, dw), download(ref, dwr), in)
	if c.Bias {
		compare("backward bias", download(be, db), download(ref, dbr), in)
	}
}

func checkPools(t *testing.T, be, ref backend.Backend) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, p := range []struct {
		h, w int
		d    backend.PoolDesc
	}{
		{28, 28, backend.PoolDesc{KH: 2, KW: 2, StrideH: 2, StrideW: 2}},
		{7, 7, backend.PoolDesc{KH: 2, KW: 2, StrideH: 2, StrideW: 2, PadBottom: 1, PadRight: 1}},
		{5, 6, backend.PoolDesc{KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
		{2, 2, backend.PoolDesc{KH: 2, KW: 2, StrideH: 2, StrideW: 2}},
		{4, 42, backend.PoolDesc{KH: 2, KW: 2, StrideH: 2, StrideW: 2}}, // 21 columns: two vectors and a tail
	} {
		name := fmt.Sprintf("%dx%d/k%d/s%d", p.h, p.w, p.d.KH, p.d.StrideH)
		oh, ow := p.d.OutSize(p.h, p.w)
		x, xr := pair(be, ref, r, 2, 3, p.h, p.w)
		// Ties, as after a ReLU: the first maximum must win everywhere.
		ties := make([]float32, 2*3*p.h*p.w)
		for i := range ties {
			ties[i] = float32(r.IntN(3) / 2)
		}
		be.Upload(x, ties)
		ref.Upload(xr, ties)
		dy, dyr := pair(be, ref, r, 2, 3, oh, ow)
		y, yr := be.New(2, 3, oh, ow), ref.New(2, 3, oh, ow)
		dx, dxr := be.New(2, 3, p.h, p.w), ref.New(2, 3, p.h, p.w)
		be.MaxPoolForward(x, y, p.d)
		ref.MaxPoolForward(xr, yr, p.d)
		Compare(t, "max forward "+name, download(be, y), download(ref, yr))
		be.MaxPoolBackward(x, y, dy, dx, p.d)
		ref.MaxPoolBackward(xr, yr, dyr, dxr, p.d)
		Compare(t, "max backward "+name, download(be, dx), download(ref, dxr))
		be.AvgPoolForward(x, y, p.d)
		ref.AvgPoolForward(xr, yr, p.d)
		Compare(t, "avg forward "+name, download(be, y), download(ref, yr))
		be.AvgPoolBackward(dy, dx, p.d)
		ref.AvgPoolBackward(dyr, dxr, p.d)
		Compare(t, "avg backward "+name, download(be, dx), download(ref, dxr))
	}
}

func checkLinear(t *testing.T, be, ref backend.Backend) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, s := range [][3]int{{1, 3, 2}, {100, 512, 10}, {7, 33, 13}} {
		n, k, m := s[0], s[1], s[2]
		x, xr := pair(be, ref, r, n, k)
		w, wr := pair(be, ref, r, m, k)
		b, br := pair(be, ref, r, m)
		y, yr := be.New(n, m), ref.New(n, m)
		be.LinearForward(x, w, b, y)
		ref.LinearForward(xr, wr, br, yr)
		Compare(t, "linear forward", download(be, y), download(ref, yr))
		dy, dyr := pair(be, ref, r, n, m)
		dx, dxr := be.New(n, k), ref.New(n, k)
		dw, dwr := be.New(m, k), ref.New(m, k)
		db, dbr := be.New(m), ref.New(m)
		be.LinearBackward(x, w, dy, dx, dw, db)
		ref.LinearBackward(xr, wr, dyr, dxr, dwr, dbr)
		Compare(t, "linear dx", download(be, dx), download(ref, dxr))
		Compare(t, "linear dw", download(be, dw), download(ref, dwr))
		Compare(t, "linear db", download(be, db), download(ref, dbr))
	}
}

func checkElementwise(t *testing.T, be, ref backend.Backend) {
	r := rand.New(rand.NewPCG(8, 9))
	x, xr := pair(be, ref, r, 2, 4, 3, 3)
	y, yr := be.New(2, 8, 3, 3), ref.New(2, 8, 3, 3)
	be.ChannelPadForward(x, y, 2)
	ref.ChannelPadForward(xr, yr, 2)
	Compare(t, "channel pad", download(be, y), download(ref, yr))
	dy, dyr := pair(be, ref, r, 2, 8, 3, 3)
	dx, dxr := be.New(2, 4, 3, 3), ref.New(2, 4, 3, 3)
	be.ChannelPadBackward(dy, dx, 2)
	ref.ChannelPadBackward(dyr, dxr, 2)
	Compare(t, "channel pad backward", download(be, dx), download(ref, dxr))

	a, ar := pair(be, ref, r, 5000)
	g, gr := pair(be, ref, r, 5000)
	o, or := be.New(5000), ref.New(5000)
	be.ReLUBackward(a, g, o)
	ref.ReLUBackward(ar, gr, or)
	Compare(t, "relu backward", download(be, o), download(ref, or))
	be.ReLUForward(g, o)
	ref.ReLUForward(gr, or)
	Compare(t, "relu forward", download(be, o), download(ref, or))
	be.Scale(o, -1.5)
	ref.Scale(or, -1.5)
	Compare(t, "scale", download(be, o), download(ref, or))
	be.AddTo(a, g)
	ref.AddTo(ar, gr)
	Compare(t, "add", download(be, a), download(ref, ar))
	be.Axpy(-0.5, g, a)
	ref.Axpy(-0.5, gr, ar)
	Compare(t, "axpy", download(be, a), download(ref, ar))
	be.Lerp(a, g, 0.25)
	ref.Lerp(ar, gr, 0.25)
	Compare(t, "lerp", download(be, a), download(ref, ar))
	if s, sr := be.SumSquares(a), ref.SumSquares(ar); math.Abs(s-sr) > 1e-5*sr {
		t.Fatalf("sum of squares %v, want %v", s, sr)
	}

	logits, lr := pair(be, ref, r, 6, 10)
	labels := []int32{0, 3, 9, 2, 2, 7}
	dl, dlr := be.New(6, 10), ref.New(6, 10)
	loss := be.SoftmaxCrossEntropy(logits, labels, dl)
	lossr := ref.SoftmaxCrossEntropy(lr, labels, dlr)
	if math.Abs(loss-lossr) > 1e-6*lossr {
		t.Fatalf("softmax cross-entropy %v, want %v", loss, lossr)
	}
	Compare(t, "softmax cross-entropy gradient", download(be, dl), download(ref, dlr))
}

// checkBatchNorm runs training and inference batch normalisation, with and
// without the fused ReLU, on inputs whose channels have a large mean (as
// after a ReLU) so that a one-pass variance would lose precision.
func checkBatchNorm(t *testing.T, be, ref backend.Backend) {
	r := rand.New(rand.NewPCG(12, 13))
	for _, s := range [][4]int{{4, 5, 3, 3}, {2, 32, 7, 7}, {8, 3, 1, 1}} {
		n, c, h, w := s[0], s[1], s[2], s[3]
		for _, relu := range []bool{false, true} {
			name := fmt.Sprintf("%dx%dx%dx%d relu=%v", n, c, h, w, relu)
			d := backend.BatchNormDesc{Epsilon: 1e-5, Training: true, ReLU: relu}
			// x comes out of a 1x1 convolution, in whatever layout the
			// backend's convolutions produce, with a bias of 20.
			x0, x0r := pair(be, ref, r, n, c, h, w)
			k, kr := pair(be, ref, r, c, c, 1, 1)
			bias := make([]float32, c)
			for i := range bias {
				bias[i] = 20
			}
			b, br := be.New(c), ref.New(c)
			be.Upload(b, bias)
			ref.Upload(br, bias)
			x, xr := be.New(n, c, h, w), ref.New(n, c, h, w)
			one := backend.ConvDesc{StrideH: 1, StrideW: 1}
			be.ConvForward(x0, k, b, x, one)
			ref.ConvForward(x0r, kr, br, xr, one)
			gamma, gammar := pair(be, ref, r, c)
			beta, betar := pair(be, ref, r, c)
			mean, meanr := be.New(c), ref.New(c)
			vari, varir := be.New(c), ref.New(c)
			y, yr := be.New(n, c, h, w), ref.New(n, c, h, w)
			be.BatchNormForward(x, gamma, beta, mean, vari, y, d)
			ref.BatchNormForward(xr, gammar, betar, meanr, varir, yr, d)
			Compare(t, "batchnorm forward "+name, download(be, y), download(ref, yr))
			Compare(t, "batchnorm mean "+name, download(be, mean), download(ref, meanr))
			Compare(t, "batchnorm variance "+name, download(be, vari), download(ref, varir))

			dy, dyr := pair(be, ref, r, n, c, h, w)
			if relu {
				be.ReLUBackward(y, dy, dy)
				ref.ReLUBackward(yr, dyr, dyr)
			}
			dx, dxr := be.New(n, c, h, w), ref.New(n, c, h, w)
			dg, dgr := be.New(c), ref.New(c)
			db, dbr := be.New(c), ref.New(c)
			be.BatchNormBackward(x, dy, gamma, mean, vari, dx, dg, db, d)
			ref.BatchNormBackward(xr, dyr, gammar, meanr, varir, dxr, dgr, dbr, d)
			Compare(t, "batchnorm dx "+name, download(be, dx), download(ref, dxr))
			Compare(t, "batchnorm dgamma "+name, download(be, dg), download(ref, dgr))
			Compare(t, "batchnorm dbeta "+name, download(be, db), download(ref, dbr))

			// Inference with given statistics.
			d.Training = false
			be.BatchNormForward(x, gamma, beta, mean, vari, y, d)
			ref.BatchNormForward(xr, gammar, betar, meanr, varir, yr, d)
			Compare(t, "batchnorm inference "+name, download(be, y), download(ref, yr))
		}
	}
}

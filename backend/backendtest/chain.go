package backendtest

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/resgo/resgo/backend"
)

// ConvChainCase is a pair of convolutions for RunConvChain: N images of C
// channels, HxW, through a KxK convolution of stride S (padding K/2) to O
// channels, then a 3x3 one (stride 1, padding 1) to O2. ReLU1 and ReLU2
// fuse a rectifier into each. Auto and Direct say whether the native
// backend chains the pair by default (both on Winograd's algorithm, or
// both on the direct tiles with O a multiple of 32, so of every
// instruction set's tile width) and without Winograd's algorithm.
type ConvChainCase struct {
	Name                string
	N, C, H, W, O, K, S int
	O2                  int
	ReLU1, ReLU2        bool
	Auto, Direct        bool
}

// ConvChainCases are the pairs RunConvChain checks: a residual body of
// the tutorial's first stage, a stage's first body (channels change),
// odd channel counts (bfloat16 computes such a step in float32, so a
// chain mixes the two), images in several groups with a partial last
// one, a map that is not square, 2x2 maps (direct tiles), a strided first
// convolution, and pairs that do not chain.
var ConvChainCases = []ConvChainCase{
	{Name: "64x14x14", N: 3, C: 64, H: 14, W: 14, O: 64, K: 3, S: 1, O2: 64, ReLU1: true, Auto: true, Direct: true},
	{Name: "32to128x7x7", N: 13, C: 32, H: 7, W: 7, O: 128, K: 3, S: 1, O2: 128, ReLU1: true, ReLU2: true, Auto: true, Direct: true},
	{Name: "odd-channels", N: 13, C: 17, H: 6, W: 6, O: 18, K: 3, S: 1, O2: 19, Auto: true},
	{Name: "groups", N: 37, C: 16, H: 8, W: 8, O: 32, K: 3, S: 1, O2: 24, ReLU1: true, Auto: true, Direct: true},
	{Name: "6x10-map", N: 9, C: 16, H: 6, W: 10, O: 32, K: 3, S: 1, O2: 16, ReLU1: true, Auto: true, Direct: true},
	{Name: "2x2-maps", N: 13, C: 128, H: 2, W: 2, O: 128, K: 3, S: 1, O2: 64, ReLU1: true, Auto: true, Direct: true},
	{Name: "stride2", N: 2, C: 16, H: 12, W: 12, O: 32, K: 3, S: 2, O2: 32, ReLU1: true, Auto: true, Direct: true},
	{Name: "narrow-input-not-chained", N: 4, C: 8, H: 8, W: 8, O: 32, K: 3, S: 1, O2: 32},
	{Name: "1x1-not-chained", N: 4, C: 16, H: 8, W: 8, O: 32, K: 1, S: 1, O2: 32},
}

// RunConvChain checks a backend's chained convolutions (backend.ConvChain)
// on ConvChainCases as one block each (with no shortcut, with the input as
// the shortcut where it fits, and with the ReLU of the sum), and on
// stages of several residual blocks: where it chains, the result equals
// the unchained calls (see checkChained); where it does not, it says so
// and leaves the output alone. direct says the backend runs without
// Winograd's algorithm (ConvChainCase.Direct, else Auto, says which pairs
// chain).
func RunConvChain(t *testing.T, be backend.Backend, direct bool) {
	chain, ok := be.(backend.ConvChain)
	if !ok {
		t.Fatalf("%s does not chain convolutions", be.Name())
	}
	conv := func(x, w, b, y backend.Tensor, d backend.ConvDesc, _ backend.InputQuant) {
		be.ConvForward(x, w, b, y, d)
	}
	for _, c := range ConvChainCases {
		t.Run("chain/"+c.Name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(12, uint64(c.C*100+c.H)))
			up := randomUploader(be, r)
			p := c.K / 2
			b := backend.ChainBlock{
				W1: up(c.O, c.C, c.K, c.K), B1: up(c.O),
				D1: backend.ConvDesc{StrideH: c.S, StrideW: c.S, PadTop: p, PadBottom: p, PadLeft: p, PadRight: p, ReLU: c.ReLU1},
				W2: up(c.O2, c.O, 3, 3), B2: up(c.O2),
				D2: backend.ConvDesc{StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, ReLU: c.ReLU2},
			}
			wantChained := c.Auto
			if direct {
				wantChained = c.Direct
			}
			checkBlockVariants(t, be, up(c.N, c.C, c.H, c.W), b, wantChained, conv, chain.ConvForwardChain)
		})
	}
	for _, s := range chainStages {
		t.Run("stage/"+s.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(13, uint64(s.n)))
			up := randomUploader(be, r)
			x := up(s.n, s.c, s.h, s.h)
			var blocks []backend.ChainBlock
			in := s.c
			same := backend.ConvDesc{StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
			for i, o := range s.widths {
				d1 := same
				d1.ReLU = true
				blocks = append(blocks, backend.ChainBlock{W1: up(o, in, 3, 3), B1: up(o), D1: d1, W2: up(o, o, 3, 3), B2: up(o), D2: same,
					Shortcut: true, Before: (o - in) / 2, ReLU: s.sumReLU && i%2 == 1})
				in = o
			}
			want := s.auto
			if direct {
				want = s.direct
			}
			checkChained(t, be, x, blocks, want, conv, chain.ConvForwardChain)
		})
	}
}

// chainStages are runs of residual blocks for RunConvChain: c channels of
// h x h to widths[i] in block i (each block 3x3 conv+ReLU, 3x3 conv, the
// zero-padded shortcut; with sumReLU, every other block rectifies its
// sum); auto and direct say whether native chains them by default and
// without Winograd's algorithm.
var chainStages = []struct {
	name         string
	n, c, h      int
	widths       []int
	sumReLU      bool
	auto, direct bool
}{
	{name: "winograd-8x8", n: 13, c: 32, h: 8, widths: []int{64, 64, 64}, auto: true, direct: true},
	{name: "winograd-sum-relu", n: 13, c: 32, h: 8, widths: []int{32, 64}, sumReLU: true, auto: true, direct: true},
	{name: "direct-2x2", n: 13, c: 64, h: 2, widths: []int{128, 128, 128}, sumReLU: true, auto: true, direct: true},
	{name: "narrow-block-not-chained", n: 13, c: 8, h: 8, widths: []int{8, 8}},
}

// randomUploader returns a function making tensors of normal random values
// on be.
func randomUploader(be backend.Backend, r *rand.Rand) func(shape ...int) backend.Tensor {
	return func(shape ...int) backend.Tensor {
		v := make([]float32, backend.Len(shape))
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		t := be.New(shape...)
		be.Upload(t, v)
		return t
	}
}

// convFunc is one unchained convolution: ConvForward, or ConvForwardU8S8
// with its input map.
type convFunc func(x, w, b, y backend.Tensor, d backend.ConvDesc, in backend.InputQuant)

// chainFunc is a chained call: ConvForwardChain or ConvForwardU8S8Chain.
type chainFunc func(x backend.Tensor, blocks []backend.ChainBlock, y backend.Tensor) bool

// checkBlockVariants checks block b on x with checkChained: as given (no
// shortcut), with x as its shortcut where it fits, and with the ReLU of
// the sum too; a shortcut that does not fit must be refused.
func checkBlockVariants(t *testing.T, be backend.Backend, x backend.Tensor, b backend.ChainBlock, wantChained bool, conv convFunc, chain chainFunc) {
	t.Helper()
	checkChained(t, be, x, []backend.ChainBlock{b}, wantChained, conv, chain)
	xs, o := x.Shape(), b.W2.Shape()[0]
	b.Shortcut, b.Before = true, (o-xs[1])/2
	y := unchained(be, x, []backend.ChainBlock{{W1: b.W1, B1: b.B1, D1: b.D1, In1: b.In1, W2: b.W2, B2: b.B2, D2: b.D2, In2: b.In2}}, conv)
	if b.ShortcutFits(xs, y.Shape()) {
		checkChained(t, be, x, []backend.ChainBlock{b}, wantChained, conv, chain)
		b.ReLU = true
		checkChained(t, be, x, []backend.ChainBlock{b}, wantChained, conv, chain)
	}
	b.ReLU, b.Before = false, y.Shape()[1]
	if chain(x, []backend.ChainBlock{b}, y) {
		t.Fatal("chained with a shortcut that does not fit the output")
	}
}

// unchained computes blocks on x one call at a time, as nn does without a
// chain: the two convolutions, then the shortcut's sum (ChannelPadForward,
// which copies when nothing pads, and AddTo) and the ReLU.
func unchained(be backend.Backend, x backend.Tensor, blocks []backend.ChainBlock, conv convFunc) backend.Tensor {
	for _, b := range blocks {
		xs, ws1, ws2 := x.Shape(), b.W1.Shape(), b.W2.Shape()
		oh, ow := b.D1.OutSize(xs[2], xs[3], ws1[2], ws1[3])
		mid := be.New(xs[0], ws1[0], oh, ow)
		conv(x, b.W1, b.B1, mid, b.D1, b.In1)
		oh2, ow2 := b.D2.OutSize(oh, ow, ws2[2], ws2[3])
		y := be.New(xs[0], ws2[0], oh2, ow2)
		conv(mid, b.W2, b.B2, y, b.D2, b.In2)
		if b.Shortcut {
			sum := be.New(y.Shape()...)
			be.ChannelPadForward(x, sum, b.Before)
			be.AddTo(sum, y)
			if b.ReLU {
				be.ReLUForward(sum, sum)
			}
			y = sum
		}
		x = y
	}
	return x
}

// checkChained runs chain on x and blocks twice (the first call may pack
// the weights, the second takes them from the cache, as inference runs).
// Where it chains, the output must equal the unchained calls' bit for bit
// but for the sign of zeros (a padded channel's -0 is +0 after nn's sum
// with 0); where it does not, the output must be left alone.
func checkChained(t *testing.T, be backend.Backend, x backend.Tensor, blocks []backend.ChainBlock, wantChained bool, conv convFunc, chain chainFunc) {
	t.Helper()
	wantT := unchained(be, x, blocks, conv)
	want, got := download(be, wantT), be.New(wantT.Shape()...)
	sentinel := make([]float32, len(want))
	for i := range sentinel {
		sentinel[i] = 12345
	}
	for range 2 {
		be.Upload(got, sentinel)
		chained := chain(x, blocks, got)
		if chained != wantChained {
			t.Fatalf("%d blocks (shortcut %v, sum ReLU %v): chained %v, want %v", len(blocks), blocks[0].Shortcut, blocks[0].ReLU, chained, wantChained)
		}
		g := download(be, got)
		for i, v := range g {
			if chained && (v != want[i] || math.IsNaN(float64(v))) {
				t.Fatalf("%d blocks (shortcut %v, sum ReLU %v): element %d = %v, unchained %v", len(blocks), blocks[0].Shortcut, blocks[0].ReLU, i, v, want[i])
			}
			if !chained && v != 12345 {
				t.Fatalf("not chained, but element %d was written (%v)", i, v)
			}
		}
	}
}

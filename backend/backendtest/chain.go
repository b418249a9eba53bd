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
// on ConvChainCases, without a shortcut and with the input as one where
// it fits: where it chains, the result equals two ConvForward calls and
// the shortcut's sum as nn.Residual adds it (in the backend's own
// precision; see checkChained); where it does not, it says so and leaves the
// output alone. direct says the backend runs without Winograd's
// algorithm (ConvChainCase.Direct, else Auto, says which pairs chain).
func RunConvChain(t *testing.T, be backend.Backend, direct bool) {
	chain, ok := be.(backend.ConvChain)
	if !ok {
		t.Fatalf("%s does not chain convolutions", be.Name())
	}
	for _, c := range ConvChainCases {
		t.Run("chain/"+c.Name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(12, uint64(c.C*100+c.H)))
			up := func(shape ...int) backend.Tensor {
				v := make([]float32, backend.Len(shape))
				for i := range v {
					v[i] = float32(r.NormFloat64())
				}
				t := be.New(shape...)
				be.Upload(t, v)
				return t
			}
			p := c.K / 2
			d1 := backend.ConvDesc{StrideH: c.S, StrideW: c.S, PadTop: p, PadBottom: p, PadLeft: p, PadRight: p, ReLU: c.ReLU1}
			oh, ow := d1.OutSize(c.H, c.W, c.K, c.K)
			d2 := backend.ConvDesc{StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, ReLU: c.ReLU2}
			x := up(c.N, c.C, c.H, c.W)
			w1, b1 := up(c.O, c.C, c.K, c.K), up(c.O)
			w2, b2 := up(c.O2, c.O, 3, 3), up(c.O2)
			mid := be.New(c.N, c.O, oh, ow)
			want, got := be.New(c.N, c.O2, oh, ow), be.New(c.N, c.O2, oh, ow)
			be.ConvForward(x, w1, b1, mid, d1)
			be.ConvForward(mid, w2, b2, want, d2)
			wantChained := c.Auto
			if direct {
				wantChained = c.Direct
			}
			checkChained(t, be, x, want, got, wantChained, func(s backend.Shortcut) bool {
				return chain.ConvForwardChain(x, w1, b1, d1, w2, b2, got, d2, s)
			})
		})
	}
}

// checkChained runs a chained pair, chain(shortcut), twice for each
// shortcut (the first call may pack the weights, the second takes them
// from the cache, as inference runs): without one, with x itself when it
// fits the output (zero-padded on the channel axis, as nn.Residual pads
// it), and with one that does not fit, which must be refused. want holds
// the two convolutions' output without shortcut; where the pair chains,
// got must equal it plus the shortcut: bit for bit, but for the sign of
// zeros (a padded channel of -0 is +0 through nn.Residual's sum); where it
// does not, got must be left alone.
func checkChained(t *testing.T, be backend.Backend, x, want, got backend.Tensor, wantChained bool, chain func(backend.Shortcut) bool) {
	t.Helper()
	ys, xs := want.Shape(), x.Shape()
	shortcuts := []backend.Shortcut{{}}
	if s := (backend.Shortcut{X: x, Before: (ys[1] - xs[1]) / 2}); s.Fits(ys) {
		shortcuts = append(shortcuts, s)
	}
	sentinel := make([]float32, backend.Len(ys))
	for i := range sentinel {
		sentinel[i] = 12345
	}
	unchanged := func(what string) {
		for i, v := range download(be, got) {
			if v != 12345 {
				t.Fatalf("%s, but element %d was written (%v)", what, i, v)
			}
		}
	}
	be.Upload(got, sentinel)
	if chain(backend.Shortcut{X: x, Before: ys[1]}) {
		t.Fatal("chained with a shortcut that does not fit the output")
	}
	unchanged("refused a shortcut that does not fit")
	for _, s := range shortcuts {
		wantS := want
		if s.X != nil {
			wantS = be.New(ys...)
			be.ChannelPadForward(s.X, wantS, s.Before)
			be.AddTo(wantS, want)
		}
		w := download(be, wantS)
		for range 2 {
			be.Upload(got, sentinel)
			chained := chain(s)
			if chained != wantChained {
				t.Fatalf("chained %v, want %v", chained, wantChained)
			}
			if !chained {
				unchanged("not chained")
				return
			}
			for i, v := range download(be, got) {
				if v != w[i] || math.IsNaN(float64(v)) {
					t.Fatalf("shortcut %v: element %d = %v, two convolutions give %v", s.X != nil, i, v, w[i])
				}
			}
		}
	}
}

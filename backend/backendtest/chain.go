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
// fuse a rectifier into each; Winograd says the pair chains on a backend
// that runs 3x3, stride-1 convolutions on maps of 4x4 and larger on
// Winograd's algorithm (native's default).
type ConvChainCase struct {
	Name                   string
	N, C, H, W, O, K, S    int
	O2                     int
	ReLU1, ReLU2, Winograd bool
}

// ConvChainCases are the pairs RunConvChain checks: a residual body of
// the tutorial's first stage, a stage's first body (channels change),
// odd channel counts (bfloat16 computes such a step in float32, so a
// chain mixes the two), images in several groups with a partial last
// one, a map that is not square, and pairs that do not chain.
var ConvChainCases = []ConvChainCase{
	{Name: "64x14x14", N: 3, C: 64, H: 14, W: 14, O: 64, K: 3, S: 1, O2: 64, ReLU1: true, Winograd: true},
	{Name: "32to128x7x7", N: 13, C: 32, H: 7, W: 7, O: 128, K: 3, S: 1, O2: 128, ReLU1: true, ReLU2: true, Winograd: true},
	{Name: "odd-channels", N: 13, C: 17, H: 6, W: 6, O: 18, K: 3, S: 1, O2: 19, Winograd: true},
	{Name: "groups", N: 37, C: 16, H: 8, W: 8, O: 16, K: 3, S: 1, O2: 24, ReLU1: true, Winograd: true},
	{Name: "6x10-map", N: 9, C: 16, H: 6, W: 10, O: 32, K: 3, S: 1, O2: 16, ReLU1: true, Winograd: true},
	{Name: "2x2-maps-not-chained", N: 13, C: 128, H: 2, W: 2, O: 128, K: 3, S: 1, O2: 64, ReLU1: true},
	{Name: "stride2-not-chained", N: 4, C: 16, H: 12, W: 12, O: 32, K: 3, S: 2, O2: 32, ReLU1: true},
	{Name: "1x1-not-chained", N: 4, C: 16, H: 8, W: 8, O: 32, K: 1, S: 1, O2: 32},
}

// RunConvChain checks a backend's chained convolutions (backend.ConvChain)
// on ConvChainCases: where it chains, the result equals two ConvForward
// calls bit for bit (in the backend's own precision); where it does not,
// it says so and leaves the output alone. winograd says the backend runs
// Winograd's algorithm where it fits.
func RunConvChain(t *testing.T, be backend.Backend, winograd bool) {
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
			sentinel := make([]float32, c.N*c.O2*oh*ow)
			for i := range sentinel {
				sentinel[i] = 12345
			}
			// Twice: the first call packs the weights, the second takes
			// them from the cache, as inference runs.
			for range 2 {
				be.Upload(got, sentinel)
				chained := chain.ConvForwardChain(x, w1, b1, d1, w2, b2, got, d2)
				if wantChained := winograd && c.Winograd; chained != wantChained {
					t.Fatalf("chained %v, want %v", chained, wantChained)
				}
				g := download(be, got)
				if !chained {
					for i, v := range g {
						if v != 12345 {
							t.Fatalf("not chained, but element %d was written (%v)", i, v)
						}
					}
					return
				}
				for i, v := range download(be, want) {
					if math.Float32bits(g[i]) != math.Float32bits(v) {
						t.Fatalf("element %d = %v, two convolutions give %v", i, g[i], v)
					}
				}
			}
		})
	}
}

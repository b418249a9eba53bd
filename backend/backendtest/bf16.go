package backendtest

import (
	"math"
	"testing"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/backend/reference"
)

// The bfloat16 tolerance. Rounding to bfloat16 (8 significant bits, to
// nearest) moves a value by at most 2^-8 of itself, so the product of two
// rounded factors is off by at most (2*2^-8 + 2^-16) of the exact
// product, and a dot product summed in float32 by at most
//
//	bf16Bound * sum |a_i * b_i|   (plus float32's own summation error)
//
// per element. Winograd's algorithm multiplies transformed values instead
// (U = G g G^T, V = B^T d B, per point ξ), so there the bound is taken
// through the output transform: bf16Bound * sum over ξ |A^T|[out, ξ] *
// sum over channels |U[ξ]| |V[ξ]|; its transforms add up terms of both
// signs, so the bound is several times wider than the direct one, and so
// are the errors. float32's share is Tolerance, as in Compare.
const bf16Bound = 2.0/256 + 1.0/65536

// RunBF16 checks the convolutions of a backend that multiplies in
// bfloat16 against the reference, element by element, within the bound
// above, on the algorithm each case names (Winograd's bound for
// "winograd", the direct one otherwise); the bias gradient (sums, no
// products) at float32's Tolerance.
func RunBF16(t *testing.T, be backend.Backend) {
	ref := reference.New()
	for _, c := range ConvCases {
		t.Run("conv/"+c.Name, func(t *testing.T) { checkConvBF16(t, be, ref, c) })
	}
}

func checkConvBF16(t *testing.T, be, ref backend.Backend, c ConvCase) {
	d := c.Desc()
	wino := c.Native == "winograd"
	runConv(t, be, ref, c, func(pass string, got, want []float32, in convInputs) {
		var bound []float64
		switch {
		case pass == "backward bias": // sums of dy, no products
			Compare(t, pass, got, want)
			return
		case pass == "forward" && wino:
			bound = winogradAbsSums(in.x, in.w, c.N, c.C, c.H, c.W, c.O)
		case pass == "backward data" && wino:
			// The convolution of dy with the weights flipped and
			// transposed ([C][O][3][3]).
			wt := make([]float32, len(in.w))
			for o := 0; o < c.O; o++ {
				for ch := 0; ch < c.C; ch++ {
					for tap := 0; tap < 9; tap++ {
						wt[(ch*c.O+o)*9+tap] = in.w[(o*c.C+ch)*9+8-tap]
					}
				}
			}
			bound = winogradAbsSums(in.dy, wt, c.N, c.O, c.H, c.W, c.C)
		case wino:
			bound = winogradFilterAbsSums(in.x, in.dy, c.N, c.C, c.H, c.W, c.O)
		default:
			bound = absSums(ref, in, c, d, pass)
		}
		CompareBound(t, pass, got, want, bound)
	})
}

// absSums returns bf16Bound times sum |a_i b_i| for every element of pass
// (forward, backward data or backward filter), from the reference's pass
// on the absolute values.
func absSums(ref backend.Backend, in convInputs, c ConvCase, d backend.ConvDesc, pass string) []float64 {
	abs := func(v []float32, shape ...int) backend.Tensor {
		a := make([]float32, len(v))
		for i, f := range v {
			a[i] = float32(math.Abs(float64(f)))
		}
		t := ref.New(shape...)
		ref.Upload(t, a)
		return t
	}
	oh, ow := d.OutSize(c.H, c.W, c.KH, c.KW)
	x, w, dy := abs(in.x, c.N, c.C, c.H, c.W), abs(in.w, c.O, c.C, c.KH, c.KW), abs(in.dy, c.N, c.O, oh, ow)
	d.ReLU = false
	var out backend.Tensor
	switch pass {
	case "forward":
		out = ref.New(c.N, c.O, oh, ow)
		ref.ConvForward(x, w, nil, out, d)
	case "backward data":
		out = ref.New(c.N, c.C, c.H, c.W)
		ref.ConvBackwardData(dy, w, out, d)
	default:
		out = ref.New(c.O, c.C, c.KH, c.KW)
		ref.ConvBackwardFilter(x, dy, out, nil, d)
	}
	sums := download(ref, out)
	b := make([]float64, len(sums))
	for i, s := range sums {
		b[i] = bf16Bound * float64(s) * (1 + 1e-5) // the sums' own float32 rounding
	}
	return b
}

// F(4x4, 3x3)'s matrices (Lavin and Gray's): B^T, G and A^T.
var (
	winoBT = [6][6]float64{{4, 0, -5, 0, 1, 0}, {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0}, {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}}
	winoG  = [6][3]float64{{1.0 / 4, 0, 0}, {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6}, {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}}
	winoAT = [4][6]float64{{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}}
)

// winogradFilterAbsSums returns, for every weight gradient of the 3x3,
// stride-1, pad-1 convolution of x [n][c][h][w] giving dy [n][o][h][w],
// bf16Bound times the sum through the adjoint weight transform of the
// absolute products in the transformed domain: per point ξ, |D[ξ]| |V[ξ]|
// summed over tiles and images, D = A dy A^T, V = B^T x B.
func winogradFilterAbsSums(x, dy []float32, n, c, h, wd, o int) []float64 {
	th, tw := (h+3)/4, (wd+3)/4
	du := make([]float64, o*c*36) // sum of |D| |V| per (o, c, ξ)
	v, dd := make([]float64, c*36), make([]float64, o*36)
	for img := 0; img < n; img++ {
		for ty := 0; ty < th; ty++ {
			for tx := 0; tx < tw; tx++ {
				for ch := 0; ch < c; ch++ {
					for xi := 0; xi < 36; xi++ {
						var s float64
						for i := 0; i < 6; i++ {
							for j := 0; j < 6; j++ {
								py, px := 4*ty-1+i, 4*tx-1+j
								if py >= 0 && py < h && px >= 0 && px < wd {
									s += winoBT[xi/6][i] * winoBT[xi%6][j] * float64(x[((img*c+ch)*h+py)*wd+px])
								}
							}
						}
						v[ch*36+xi] = math.Abs(s)
					}
				}
				for oc := 0; oc < o; oc++ {
					for xi := 0; xi < 36; xi++ {
						var s float64
						for i := 0; i < 4; i++ {
							for j := 0; j < 4; j++ {
								py, px := 4*ty+i, 4*tx+j
								if py < h && px < wd {
									s += winoAT[i][xi/6] * winoAT[j][xi%6] * float64(dy[((img*o+oc)*h+py)*wd+px])
								}
							}
						}
						dd[oc*36+xi] = math.Abs(s)
					}
				}
				for oc := 0; oc < o; oc++ {
					for ch := 0; ch < c; ch++ {
						for xi := 0; xi < 36; xi++ {
							du[(oc*c+ch)*36+xi] += dd[oc*36+xi] * v[ch*36+xi]
						}
					}
				}
			}
		}
	}
	out := make([]float64, o*c*9)
	for i := range out {
		a, b := i%9/3, i%3
		var s float64
		for xi := 0; xi < 36; xi++ {
			s += math.Abs(winoG[xi/6][a]*winoG[xi%6][b]) * du[i/9*36+xi]
		}
		out[i] = bf16Bound * s
	}
	return out
}

// winogradAbsSums returns, for every output of the 3x3, stride-1, pad-1
// convolution of x [n][c][h][w] with w [o][c][3][3], bf16Bound times the
// sum through F(4x4, 3x3)'s output transform of the absolute products in
// the transformed domain (in float64).
func winogradAbsSums(x, w []float32, n, c, h, wd, o int) []float64 {
	u := make([]float64, o*c*36) // |G g G^T|
	for oc := 0; oc < o*c; oc++ {
		for xi := 0; xi < 36; xi++ {
			var s float64
			for a := 0; a < 3; a++ {
				for b := 0; b < 3; b++ {
					s += winoG[xi/6][a] * winoG[xi%6][b] * float64(w[oc*9+a*3+b])
				}
			}
			u[oc*36+xi] = math.Abs(s)
		}
	}
	th, tw := (h+3)/4, (wd+3)/4
	out := make([]float64, n*o*h*wd)
	v := make([]float64, c*36)
	m := make([]float64, 36)
	for img := 0; img < n; img++ {
		for ty := 0; ty < th; ty++ {
			for tx := 0; tx < tw; tx++ {
				for ch := 0; ch < c; ch++ { // |B^T d B|
					for xi := 0; xi < 36; xi++ {
						var s float64
						for i := 0; i < 6; i++ {
							for j := 0; j < 6; j++ {
								py, px := 4*ty-1+i, 4*tx-1+j
								if py < 0 || py >= h || px < 0 || px >= wd {
									continue
								}
								s += winoBT[xi/6][i] * winoBT[xi%6][j] * float64(x[((img*c+ch)*h+py)*wd+px])
							}
						}
						v[ch*36+xi] = math.Abs(s)
					}
				}
				for oc := 0; oc < o; oc++ {
					clear(m)
					for ch := 0; ch < c; ch++ {
						for xi := 0; xi < 36; xi++ {
							m[xi] += u[(oc*c+ch)*36+xi] * v[ch*36+xi]
						}
					}
					for i := 0; i < 4; i++ {
						for j := 0; j < 4; j++ {
							py, px := 4*ty+i, 4*tx+j
							if py >= h || px >= wd {
								continue
							}
							var s float64
							for xi := 0; xi < 36; xi++ {
								s += math.Abs(winoAT[i][xi/6]*winoAT[j][xi%6]) * m[xi]
							}
							out[((img*o+oc)*h+py)*wd+px] = bf16Bound * s
						}
					}
				}
			}
		}
	}
	return out
}

// CompareBound fails the test when an element of got differs from want by
// more than its bound plus float32's Tolerance (as in Compare).
func CompareBound(t *testing.T, what string, got, want []float32, bound []float64) {
	t.Helper()
	if len(got) != len(want) || len(bound) != len(want) {
		t.Fatalf("%s: %d values and %d bounds, want %d", what, len(got), len(bound), len(want))
	}
	scale := 1.0
	for _, v := range want {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	worst, at := 0.0, 0
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if d > bound[i]+Tolerance*scale || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s: element %d = %v, want %v: off by %.3g, bound %.3g", what, i, got[i], want[i], d, bound[i]+Tolerance*scale)
		}
		if bound[i] > 0 && d/bound[i] > worst {
			worst, at = d/bound[i], i
		}
	}
	t.Logf("%s: largest error %.2f of its bound (element %d)", what, worst, at)
}

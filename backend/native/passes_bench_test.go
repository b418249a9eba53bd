package native

import (
	"fmt"
	"testing"

	"github.com/resgo/resgo/backend"
)

// BenchmarkConvPasses times the three passes of training (forward,
// backward-data, backward-filter with the bias gradient) of
// seed-resnet34's 3x3 convolutions at batch 100, in float32 and bfloat16:
// the per-pass ratios are what the training step's ratio is made of. The
// weights count as changed before each run, as after an optimizer step:
// the passes pack them every time, as training does.
func BenchmarkConvPasses(b *testing.B) {
	for _, c := range []struct{ n, c, h int }{{100, 512, 2}, {100, 256, 4}, {100, 128, 7}, {100, 64, 14}} {
		for _, pass := range []string{"forward", "data", "filter"} {
			for _, prec := range []Precision{F32, BF16} {
				b.Run(fmt.Sprintf("%dx%d/%s/%s", c.c, c.h, pass, prec), func(b *testing.B) {
					be, err := NewWith(Options{Threads: 2, Precision: prec})
					if err != nil {
						b.Fatal(err)
					}
					if prec == BF16 && !be.BF16Native() {
						b.Skip("no AVX512-BF16 on this CPU")
					}
					random := randomTensors(5)
					x, w, bias, dy := random(c.n, c.c, c.h, c.h), random(c.c, c.c, 3, 3), random(c.c), random(c.n, c.c, c.h, c.h)
					y, dw, db := NewTensor(c.n, c.c, c.h, c.h), NewTensor(c.c, c.c, 3, 3), NewTensor(c.c)
					d := backend.ConvDesc{StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
					timeWarm(b, func() {
						w.Touch()
						switch pass {
						case "forward":
							be.ConvForward(x, w, bias, y, d)
						case "data":
							be.ConvBackwardData(dy, w, y, d)
						default:
							be.ConvBackwardFilter(x, dy, dw, db, d)
						}
					})
				})
			}
		}
	}
}

// BenchmarkStemFilter times the backward-filter pass of seed-resnet34's
// stem (1 -> 64 channels, 7x7, 28x28, batch 100) on unrolled rows (what
// chooseConv picks) and on im2col's GEMM.
func BenchmarkStemFilter(b *testing.B) {
	random := randomTensors(5)
	x, dy := random(100, 1, 28, 28), random(100, 64, 28, 28)
	dw, db := NewTensor(64, 1, 7, 7), NewTensor(64)
	d := backend.ConvDesc{StrideH: 1, StrideW: 1, PadTop: 3, PadBottom: 3, PadLeft: 3, PadRight: 3}
	for _, algo := range []Algorithm{Rows, Im2col} {
		b.Run(string(algo), func(b *testing.B) {
			be, err := NewWith(Options{Threads: 2})
			if err != nil {
				b.Fatal(err)
			}
			pr := be.newPrimitive(newConvGeom(x, dw, dy, d), backend.BackwardFilter, algo, "benchmark")
			timeWarm(b, func() { be.convBackwardFilter(pr, x.Data, dy.Data, dw.Data, db.Data) })
		})
	}
}

// BenchmarkWinoPack times the Winograd weight transform training runs
// twice a step per 3x3 layer (forward, and flipped and transposed for
// backward-data), in float32 and bfloat16 pairs.
func BenchmarkWinoPack(b *testing.B) {
	for _, c := range []int{64, 128, 256} {
		for _, transposed := range []bool{false, true} {
			for _, prec := range []Precision{F32, BF16} {
				b.Run(fmt.Sprintf("%d/transposed=%v/%s", c, transposed, prec), func(b *testing.B) {
					be, err := NewWith(Options{Threads: 2, Precision: prec})
					if err != nil {
						b.Fatal(err)
					}
					if prec == BF16 && !be.BF16Native() {
						b.Skip("no AVX512-BF16 on this CPU")
					}
					w := randomTensors(5)(c, c, 3, 3)
					nr := be.kern.tileCols
					size := (c + nr - 1) / nr * winoPoints * c * nr
					ws := &workspace{}
					var dst []float32
					var pairs []uint32
					if prec == BF16 {
						pairs = make([]uint32, size/2)
					} else {
						dst = make([]float32, size)
					}
					timeWarm(b, func() { be.winoPackWeights(ws, w.Data, c, c, transposed, dst, pairs) })
				})
			}
		}
	}
}

// BenchmarkPackTaps times packing seed-resnet34's largest weights (512 x
// 512 x 3x3) for the direct tile kernels, forward and transposed
// (backward-data): both run every training step, the weights having
// changed.
func BenchmarkPackTaps(b *testing.B) {
	be := New(2)
	nr := be.kern.tileCols
	w := randomTensors(5)(512, 512, 3, 3).Data
	dst := make([]float32, 512*512*9)
	for _, transposed := range []bool{false, true} {
		b.Run(fmt.Sprintf("transposed=%v", transposed), func(b *testing.B) {
			timeWarm(b, func() { be.packTaps(w, 512, 512, 9, nr, transposed, weightLayout{}, dst) })
		})
	}
}

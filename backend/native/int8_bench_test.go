package native

import (
	"fmt"
	"testing"

	"github.com/resgo/resgo/backend"
)

// BenchmarkConvLayers times seed-resnet34's 3x3 convolutions at batch 100
// (forward, with bias and ReLU, as inference runs them) in float32
// (Winograd, or direct on 2x2 maps), bfloat16 (the same algorithms) and
// int8 (ConvForwardU8S8), each after two untimed calls that pack the
// weights. Layers are named CxH; the per-layer ratios between the
// precisions are what the whole network's ratios are made of.
func BenchmarkConvLayers(b *testing.B) {
	for _, c := range []struct{ n, c, h, o int }{{100, 512, 2, 512}, {100, 256, 4, 256}, {100, 128, 7, 128}, {100, 64, 14, 64}} {
		for _, prec := range []string{"f32", "bf16", "int8"} {
			b.Run(fmt.Sprintf("%dx%d/%s", c.c, c.h, prec), func(b *testing.B) {
				opts := Options{Threads: 2}
				if prec == "bf16" {
					opts.Precision = BF16
				}
				be, err := NewWith(opts)
				if err != nil {
					b.Fatal(err)
				}
				if prec == "bf16" && !be.BF16Native() {
					b.Skip("no AVX512-BF16 on this CPU")
				}
				random := randomTensors(5)
				x, w, bias := random(c.n, c.c, c.h, c.h), random(c.o, c.c, 3, 3), random(c.o)
				for i, v := range x.Data {
					if v < 0 {
						x.Data[i] = -v
					}
				}
				y := NewTensor(c.n, c.o, c.h, c.h)
				d := backend.ConvDesc{StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, ReLU: true}
				q := backend.InputQuant{Step: 0.02, Zero: 3}
				timeWarm(b, func() {
					if prec == "int8" {
						be.ConvForwardU8S8(x, w, bias, y, d, q)
					} else {
						be.ConvForward(x, w, bias, y, d)
					}
				})
			})
		}
	}
}

// BenchmarkConvChain times a residual body of each stage of
// seed-resnet34 at batch 100 (conv+ReLU, conv) as two ConvForward calls
// and as one ConvForwardChain, in float32 and bfloat16.
func BenchmarkConvChain(b *testing.B) {
	for _, c := range []struct{ n, c, h int }{{100, 512, 2}, {100, 256, 4}, {100, 128, 7}, {100, 64, 14}} {
		for _, prec := range []Precision{F32, BF16} {
			for _, chained := range []bool{false, true} {
				b.Run(fmt.Sprintf("%dx%d/%s/chained=%v", c.c, c.h, prec, chained), func(b *testing.B) {
					be, err := NewWith(Options{Threads: 2, Precision: prec})
					if err != nil {
						b.Fatal(err)
					}
					random := randomTensors(5)
					x, w1, b1, w2, b2 := random(c.n, c.c, c.h, c.h), random(c.c, c.c, 3, 3), random(c.c), random(c.c, c.c, 3, 3), random(c.c)
					mid, y := NewTensor(c.n, c.c, c.h, c.h), NewTensor(c.n, c.c, c.h, c.h)
					d1 := backend.ConvDesc{StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, ReLU: true}
					d2 := d1
					d2.ReLU = false
					timeWarm(b, func() {
						if !chained || !be.ConvForwardChain(x, []backend.ChainBlock{{W1: w1, B1: b1, D1: d1, W2: w2, B2: b2, D2: d2}}, y) {
							be.ConvForward(x, w1, b1, mid, d1)
							be.ConvForward(mid, w2, b2, y, d2)
						}
					})
				})
			}
		}
	}
}

// timeWarm times run after two untimed calls (which pack the weights and
// grow the workspace, as a model's first steps do).
func timeWarm(b *testing.B, run func()) {
	run()
	run()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run()
	}
}

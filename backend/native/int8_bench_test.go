package native

import (
	"fmt"
	"testing"

	"github.com/resgo/resgo/backend"
)

// BenchmarkConvU8S8Layers times seed-resnet34's 3x3 convolutions at batch
// 100 in float32 (ConvForward: Winograd, or direct on 2x2 maps) and in
// int8 (ConvForwardU8S8), each after two untimed calls that pack the
// weights.
func BenchmarkConvU8S8Layers(b *testing.B) {
	for _, c := range []struct{ n, c, h, o int }{{100, 512, 2, 512}, {100, 256, 4, 256}, {100, 128, 7, 128}, {100, 64, 14, 64}} {
		for _, int8 := range []bool{false, true} {
			b.Run(fmt.Sprintf("%dx%d/int8=%v", c.c, c.h, int8), func(b *testing.B) {
				be := New(2)
				random := randomTensors(5)
				x, w := random(c.n, c.c, c.h, c.h), random(c.o, c.c, 3, 3)
				for i, v := range x.Data {
					if v < 0 {
						x.Data[i] = -v
					}
				}
				y := NewTensor(c.n, c.o, c.h, c.h)
				d := backend.ConvDesc{StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
				q := backend.InputQuant{Step: 0.02, Zero: 3}
				run := func() {
					if int8 {
						be.ConvForwardU8S8(x, w, nil, y, d, q)
					} else {
						be.ConvForward(x, w, nil, y, d)
					}
				}
				run()
				run()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					run()
				}
			})
		}
	}
}

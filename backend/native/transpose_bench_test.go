package native

import (
	"fmt"
	"testing"
)

// BenchmarkToSlivers times the layout change into PNC rows (the direct and
// Winograd convolutions' input), in GB/s moved (read and written).
func BenchmarkToSlivers(b *testing.B) {
	benchLayout(b, func(be *Backend, c, p int, src, dst []float32) { be.toSlivers(src, 100, c, p, c, dst) })
}

// BenchmarkFromRows times the layout change back from PNC rows to NCHW.
func BenchmarkFromRows(b *testing.B) {
	benchLayout(b, func(be *Backend, c, p int, src, dst []float32) { be.fromRows(src, c, 100, c, p, dst, nil, false) })
}

// benchLayout runs change at the seed model's activation shapes (channels,
// positions) at batch 100, and the 64-channel stem's 28x28.
func benchLayout(b *testing.B, change func(be *Backend, c, p int, src, dst []float32)) {
	be := New(0)
	for _, s := range []struct{ c, p int }{{64, 784}, {64, 196}, {128, 49}, {256, 16}, {512, 4}} {
		src := make([]float32, 100*s.c*s.p)
		dst := make([]float32, 100*s.c*s.p)
		b.Run(fmt.Sprintf("c%d_p%d", s.c, s.p), func(b *testing.B) {
			for b.Loop() {
				change(be, s.c, s.p, src, dst)
			}
			b.ReportMetric(float64(len(src))*8*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}

package native

import (
	"fmt"
	"testing"
)

// layoutShapes are the seed model's activation shapes (channels,
// positions) at batch 100, and the 64-channel stem's 28x28.
var layoutShapes = []struct{ c, p int }{{64, 784}, {64, 196}, {128, 49}, {256, 16}, {512, 4}}

// BenchmarkToSlivers times the layout change into PNC rows (the direct and
// Winograd convolutions' input), in GB/s moved (read and written).
func BenchmarkToSlivers(b *testing.B) {
	be := New(0)
	for _, s := range layoutShapes {
		src := make([]float32, 100*s.c*s.p)
		dst := make([]float32, 100*s.c*s.p)
		b.Run(fmt.Sprintf("c%d_p%d", s.c, s.p), func(b *testing.B) {
			for b.Loop() {
				be.toSlivers(src, 100, s.c, s.p, s.c, dst)
			}
			b.ReportMetric(float64(len(src))*8*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}

// BenchmarkFromRows times the layout change back from PNC rows to NCHW.
func BenchmarkFromRows(b *testing.B) {
	be := New(0)
	for _, s := range layoutShapes {
		src := make([]float32, 100*s.c*s.p)
		dst := make([]float32, 100*s.c*s.p)
		b.Run(fmt.Sprintf("c%d_p%d", s.c, s.p), func(b *testing.B) {
			for b.Loop() {
				be.fromRows(src, s.c, 100, s.c, s.p, dst, nil, false)
			}
			b.ReportMetric(float64(len(src))*8*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}

package native

import (
	"fmt"
	"testing"
)

// BenchmarkToSlivers times the layout change of the direct convolutions
// at the seed model's activation shapes (batch 100), in GB/s moved.
func BenchmarkToSlivers(b *testing.B) {
	be := New(0)
	for _, s := range []struct{ c, p int }{{64, 196}, {128, 49}, {256, 16}, {512, 4}} {
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

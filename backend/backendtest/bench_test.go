package backendtest

import (
	"math/rand/v2"
	"testing"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/backend/native"
)

// BenchmarkConv times forward, backward-data and backward-filter of every
// convolution shape of the seed ResNet-34 at batch 100, reporting GFLOP/s
// (2 FLOPs per multiply-add, dense count including padding taps).
func BenchmarkConv(b *testing.B) {
	BenchConvs(b, native.New(0))
}

// BenchConvs is the per-shape benchmark body, for any backend.
func BenchConvs(b *testing.B, be backend.Backend) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, mc := range ModelConvs {
		c := mc.Case
		d := c.Desc()
		oh, ow := d.OutSize(c.H, c.W, c.KH, c.KW)
		x, _ := randTensor(be, r, c.N, c.C, c.H, c.W)
		w, _ := randTensor(be, r, c.O, c.C, c.KH, c.KW)
		bias, _ := randTensor(be, r, c.O)
		y := be.New(c.N, c.O, oh, ow)
		dy, _ := randTensor(be, r, c.N, c.O, oh, ow)
		dx := be.New(c.N, c.C, c.H, c.W)
		dw, db := be.New(c.O, c.C, c.KH, c.KW), be.New(c.O)
		flops := 2 * float64(c.MACs())
		for _, op := range []struct {
			name string
			fn   func()
		}{
			{"fwd", func() { be.ConvForward(x, w, bias, y, d) }},
			{"bwd_data", func() { be.ConvBackwardData(dy, w, dx, d) }},
			{"bwd_filter", func() { be.ConvBackwardFilter(x, dy, dw, db, d) }},
		} {
			b.Run(c.Name+"/"+op.name, func(b *testing.B) {
				op.fn()
				for b.Loop() {
					op.fn()
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

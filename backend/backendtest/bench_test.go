package backendtest

import (
	"math/rand/v2"
	"testing"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/backend/native"
)

// BenchmarkConv times forward, backward-data and backward-filter of every
// convolution shape of the seed ResNet-34 at batch 100, reporting GFLOP/s
// (2 FLOPs per multiply-add, dense count including padding taps) and the
// fraction of this machine's FMA peak, measured at the start.
func BenchmarkConv(b *testing.B) {
	BenchConvs(b, native.New(0))
}

// BenchConvs is the per-shape benchmark body, for any backend.
func BenchConvs(b *testing.B, be backend.Backend) {
	r := rand.New(rand.NewPCG(1, 1))
	peak, _ := native.MeasurePeak(be.Threads())
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
				gflops := flops * float64(b.N) / b.Elapsed().Seconds() / 1e9
				b.ReportMetric(gflops, "GFLOP/s")
				b.ReportMetric(100*gflops/peak, "%peak")
			})
		}
	}
}

// BenchmarkOther times the model's other primitives at their real shapes.
func BenchmarkOther(b *testing.B) {
	BenchOthers(b, native.New(0))
}

// BenchOthers is the body of BenchmarkOther, for any backend.
func BenchOthers(b *testing.B, be backend.Backend) {
	r := rand.New(rand.NewPCG(2, 2))
	pool := backend.PoolDesc{KH: 2, KW: 2, StrideH: 2, StrideW: 2}
	stemOut, _ := randTensor(be, r, 100, 64, 28, 28)
	pooled, _ := randTensor(be, r, 100, 64, 14, 14)
	dpooled, _ := randTensor(be, r, 100, 64, 14, 14)
	dstem := be.New(100, 64, 28, 28)
	act, _ := randTensor(be, r, 100, 64, 14, 14)
	gradAct, _ := randTensor(be, r, 100, 64, 14, 14)
	dact := be.New(100, 64, 14, 14)
	narrow, _ := randTensor(be, r, 100, 32, 7, 7)
	wide := be.New(100, 128, 7, 7)
	last, _ := randTensor(be, r, 100, 512, 2, 2)
	avg := be.New(100, 512, 1, 1)
	feat, _ := randTensor(be, r, 100, 512)
	fcw, _ := randTensor(be, r, 10, 512)
	fcb, _ := randTensor(be, r, 10)
	logits := be.New(100, 10)
	for _, op := range []struct {
		name string
		fn   func()
	}{
		{"maxpool_fwd_64x28", func() { be.MaxPoolForward(stemOut, pooled, pool) }},
		{"maxpool_bwd_64x28", func() { be.MaxPoolBackward(stemOut, pooled, dpooled, dstem, pool) }},
		{"relu_bwd_64x14", func() { be.ReLUBackward(act, gradAct, dact) }},
		{"add_64x14", func() { be.AddTo(dact, act) }},
		{"channel_pad_32to128x7", func() { be.ChannelPadForward(narrow, wide, 48) }},
		{"avgpool_fwd_512x2", func() { be.AvgPoolForward(last, avg, pool) }},
		{"linear_fwd_512to10", func() { be.LinearForward(feat, fcw, fcb, logits) }},
	} {
		b.Run(op.name, func(b *testing.B) {
			op.fn()
			for b.Loop() {
				op.fn()
			}
		})
	}
}

package native

import (
	"testing"

	"github.com/resgo/resgo/backend"
)

// BenchmarkMaxPoolBackward times seed-resnet34's max-pool (2x2/2 on
// 64 x 28x28, batch 100) backward, which training runs every step.
func BenchmarkMaxPoolBackward(b *testing.B) {
	random := randomTensors(5)
	x, dy := random(100, 64, 28, 28), random(100, 64, 14, 14)
	y, dx := NewTensor(100, 64, 14, 14), NewTensor(100, 64, 28, 28)
	d := backend.PoolDesc{KH: 2, KW: 2, StrideH: 2, StrideW: 2}
	be := New(2)
	be.MaxPoolForward(x, y, d)
	timeWarm(b, func() { be.MaxPoolBackward(x, y, dy, dx, d) })
}

// BenchmarkReLUBackward times the ReLU gradient on seed-resnet34's
// largest activation (64 x 28x28 at batch 100).
func BenchmarkReLUBackward(b *testing.B) {
	random := randomTensors(5)
	y, dy, dx := random(100, 64, 28, 28), random(100, 64, 28, 28), NewTensor(100, 64, 28, 28)
	be := New(2)
	timeWarm(b, func() { be.ReLUBackward(y, dy, dx) })
}

// BenchmarkMergeResidual times a residual block's merge (shortcut plus
// body, then the ReLU) on seed-resnet34's first stage (64 x 14x14, batch
// 100): in one pass (MergeResidual), and as the three calls it replaces.
func BenchmarkMergeResidual(b *testing.B) {
	random := randomTensors(5)
	short, body, y := random(100, 64, 14, 14), random(100, 64, 14, 14), NewTensor(100, 64, 14, 14)
	be := New(2)
	b.Run("merged", func(b *testing.B) {
		timeWarm(b, func() { be.MergeResidual(short, body, y, 0, true) })
	})
	b.Run("three-calls", func(b *testing.B) {
		timeWarm(b, func() {
			be.Copy(y, short)
			be.AddTo(y, body)
			be.ReLUForward(y, y)
		})
	})
}

// BenchmarkUpdateParams times the tutorial's optimizer step (plain
// gradient descent, then the moving average) over about as many weights
// as seed-resnet34 has (20 million; here 9 tensors of 512 x 512 x 3x3),
// in one pass per chunk. SetBytes counts the 5 arrays read or written.
func BenchmarkUpdateParams(b *testing.B) {
	random := randomTensors(5)
	be := New(2)
	var us []backend.ParamUpdate
	for range 9 {
		us = append(us, backend.ParamUpdate{Value: random(512, 512, 3, 3), Grad: random(512, 512, 3, 3), LR: 0.01, Shadow: random(512, 512, 3, 3), EMA: 0.01})
	}
	b.SetBytes(9 * 512 * 512 * 9 * 4 * 5)
	timeWarm(b, func() { be.UpdateParams(us) })
}

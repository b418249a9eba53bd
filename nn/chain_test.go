package nn_test

import (
	"math"
	"strings"
	"testing"

	"github.com/resgo/resgo/backend/native"
	"github.com/resgo/resgo/nn"
	"github.com/resgo/resgo/nn/nntest"
)

// TestChainedConvolutions: in evaluation, a residual body's two
// convolutions run as one backend call (backend.ConvChain) and give the
// training mode's output bit for bit; a backward pass after it is refused
// with a message, and training mode runs them one by one again.
func TestChainedConvolutions(t *testing.T) {
	be := native.New(2)
	body := &nn.Sequential{Layers: []nn.Layer{
		nn.NewConv2D(be, "conv1", 32, 32, 3, 1, nn.Same, true),
		nn.NewConv2D(be, "conv2", 32, 32, 3, 1, nn.Same, false),
	}}
	nntest.RandomizeParams(be, body, 3, 0.3)
	shape := []int{6, 32, 12, 12}
	images := make([]float32, 6*32*12*12)
	for i := range images {
		images[i] = float32(math.Sin(float64(i)))
	}
	x := be.New(shape...)
	be.Upload(x, images)
	run := func() []float32 {
		y := body.Forward(x)
		out := make([]float32, 6*32*12*12)
		be.Download(y, out)
		return out
	}
	want := run()
	nn.SetTraining(body, false)
	got := run()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("element %d: %v in evaluation, %v in training", i, got[i], want[i])
		}
	}
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(r.(string), "SetTraining(true)") {
				t.Errorf("backward after a chained forward: recovered %v, want a panic naming SetTraining(true)", r)
			}
		}()
		body.Backward(be.New(shape...))
	}()
	nn.SetTraining(body, true)
	run()
	if dx := body.Backward(be.New(shape...)); dx == nil {
		t.Fatal("no input gradient in training mode")
	}
}

// TestChainedResidual: in evaluation, a residual block whose body is two
// convolutions and whose shortcut is the identity, zero-padded to more
// channels, runs as one chained call that adds the shortcut too; it gives
// the training mode's output (to the sign of zeros, see
// backendtest.RunConvChain), and refuses a backward pass.
func TestChainedResidual(t *testing.T) {
	be := native.New(2)
	res := nn.NewResidual(be, "res",
		nn.NewConv2D(be, "conv1", 16, 32, 3, 1, nn.Same, true),
		nn.NewConv2D(be, "conv2", 32, 32, 3, 1, nn.Same, false))
	res.ReLU = true
	nntest.RandomizeParams(be, res, 4, 0.3)
	images := make([]float32, 6*16*10*10)
	for i := range images {
		images[i] = float32(math.Cos(float64(i)))
	}
	x := be.New(6, 16, 10, 10)
	be.Upload(x, images)
	run := func() []float32 {
		out := make([]float32, 6*32*10*10)
		be.Download(res.Forward(x), out)
		return out
	}
	want := run()
	nn.SetTraining(res, false)
	got := run()
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("element %d: %v in evaluation, %v in training", i, got[i], want[i])
		}
	}
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(r.(string), "SetTraining(true)") {
				t.Errorf("backward after a chained forward: recovered %v, want a panic naming SetTraining(true)", r)
			}
		}()
		res.Backward(be.New(6, 32, 10, 10))
	}()
}

// TestChainedStage: in evaluation, consecutive residual blocks in a
// Sequential (a stage: the first widening, zero-padded) run as one chained
// call and give the training mode's output (to the sign of zeros).
func TestChainedStage(t *testing.T) {
	be := native.New(2)
	block := func(name string, in, out int) *nn.Residual {
		return nn.NewResidual(be, name,
			nn.NewConv2D(be, name+"/conv1", in, out, 3, 1, nn.Same, true),
			nn.NewConv2D(be, name+"/conv2", out, out, 3, 1, nn.Same, false))
	}
	res2 := block("res2", 32, 32)
	res2.ReLU = true
	stage := &nn.Sequential{Layers: []nn.Layer{block("res1", 16, 32), res2, block("res3", 32, 32)}}
	nntest.RandomizeParams(be, stage, 5, 0.2)
	images := make([]float32, 6*16*10*10)
	for i := range images {
		images[i] = float32(math.Sin(0.3 * float64(i)))
	}
	x := be.New(6, 16, 10, 10)
	be.Upload(x, images)
	run := func() []float32 {
		out := make([]float32, 6*32*10*10)
		be.Download(stage.Forward(x), out)
		return out
	}
	want := run()
	nn.SetTraining(stage, false)
	got := run()
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("element %d: %v in evaluation, %v in training", i, got[i], want[i])
		}
	}
	for _, l := range stage.Layers {
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("%s: backward after a chained forward did not panic", l.(*nn.Residual).Name)
				}
			}()
			l.Backward(be.New(6, 32, 10, 10))
		}()
	}
}

package nn_test

import (
	"math"
	"testing"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/backend/reference"
	"github.com/resgo/resgo/nn"
	"github.com/resgo/resgo/nn/nntest"
)

// The checks run on the reference backend, whose float64 accumulation keeps
// finite differences precise; the fast path is held to the reference by the
// backend conformance suite.

func check(t *testing.T, be backend.Backend, l nn.Layer, x []float32, shape ...int) {
	t.Helper()
	checkWith(t, be, l, x, nntest.Options{Seed: 5}, shape...)
}

func checkWith(t *testing.T, be backend.Backend, l nn.Layer, x []float32, o nntest.Options, shape ...int) {
	t.Helper()
	nntest.RandomizeParams(be, l, 11, 0.3)
	if err := nntest.CheckGradients(be, l, x, shape, o); err != nil {
		t.Fatal(err)
	}
}

// fine is the option set for layers with batch norm: normalising divides
// by the batch's spread, which amplifies a perturbation, so the step is
// smaller to stay clear of ReLU kinks inside a block, which the checker
// cannot see from the block's output (at 3e-3 one is hit). The reference
// backend's outputs are float32, so 1e-4 still leaves the difference
// quotient ~1e-3 accurate.
var fine = nntest.Options{Seed: 5, Eps: 1e-4}

func TestConvGradients(t *testing.T) {
	be := reference.New()
	for _, c := range []struct {
		name                string
		in, out, k, s, h, w int
		pad                 nn.Padding
		relu                bool
	}{
		{"3x3same", 3, 4, 3, 1, 5, 5, nn.Same, false},
		{"3x3same-relu", 3, 4, 3, 1, 5, 5, nn.Same, true},
		{"7x7stem", 1, 3, 7, 1, 8, 8, nn.Same, true},
		{"1x1stride2odd", 4, 2, 1, 2, 7, 7, nn.Same, true},
		{"3x3stride2odd", 2, 3, 3, 2, 7, 7, nn.Same, false},
		{"3x3on2x2", 3, 3, 3, 1, 2, 2, nn.Same, false},
		{"valid", 2, 2, 3, 1, 5, 4, nn.Valid, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := nn.NewConv2D(be, "conv", c.in, c.out, c.k, c.s, c.pad, c.relu)
			check(t, be, l, nntest.RandomInput(1, 2*c.in*c.h*c.w), 2, c.in, c.h, c.w)
		})
	}
}

func TestPoolGradients(t *testing.T) {
	be := reference.New()
	for _, max := range []bool{true, false} {
		for _, hw := range []int{4, 5, 2} {
			var l nn.Layer
			if max {
				l = nn.NewMaxPool(be, "pool", 2, 2, nn.Same)
			} else {
				l = nn.NewAvgPool(be, "pool", 2, 2, nn.Same)
			}
			x := nntest.DistinctInput(2, 2*3*hw*hw)
			if err := nntest.CheckGradients(be, l, x, []int{2, 3, hw, hw}, nntest.Options{Seed: 1}); err != nil {
				t.Fatalf("max=%v %dx%d: %v", max, hw, hw, err)
			}
		}
	}
}

func TestLinearGradients(t *testing.T) {
	be := reference.New()
	l := nn.NewLinear(be, "fc", 12, 5)
	check(t, be, l, nntest.RandomInput(3, 3*12), 3, 3, 2, 2)
}

func TestResidualGradients(t *testing.T) {
	be := reference.New()
	for _, widen := range []bool{false, true} {
		in := 4
		if widen {
			in = 2
		}
		l := nn.NewResidual(be, "res",
			nn.NewConv2D(be, "res/Conv", in, 4, 3, 1, nn.Same, true),
			nn.NewConv2D(be, "res/Conv_1", 4, 4, 3, 1, nn.Same, false))
		check(t, be, l, nntest.RandomInput(4, 2*in*3*3), 2, in, 3, 3)
	}
}

func TestSequentialGradients(t *testing.T) {
	be := reference.New()
	l := &nn.Sequential{Layers: []nn.Layer{
		nn.NewConv2D(be, "a", 1, 2, 3, 1, nn.Same, true),
		nn.NewMaxPool(be, "p", 2, 2, nn.Same),
		nn.NewConv2D(be, "b", 2, 2, 1, 2, nn.Same, true),
		nn.NewAvgPool(be, "q", 2, 2, nn.Valid),
		nn.NewLinear(be, "fc", 2, 3),
	}}
	check(t, be, l, nntest.RandomInput(6, 2*1*8*8), 2, 1, 8, 8)
}

// TestGradCheckCatchesErrors makes sure the checker can fail: a layer whose
// backward is deliberately wrong must be reported.
func TestGradCheckCatchesErrors(t *testing.T) {
	be := reference.New()
	l := &scaledBackward{Linear: nn.NewLinear(be, "fc", 6, 3), be: be}
	nntest.RandomizeParams(be, l, 1, 0.5)
	if err := nntest.CheckGradients(be, l, nntest.RandomInput(1, 12), []int{2, 6}, nntest.Options{}); err == nil {
		t.Fatal("a wrong gradient passed the check")
	}
}

type scaledBackward struct {
	*nn.Linear
	be backend.Backend
}

func (s *scaledBackward) Backward(dy backend.Tensor) backend.Tensor {
	dx := s.Linear.Backward(dy)
	s.be.Axpy(0.1, s.Weight.Grad, s.Weight.Grad)
	return dx
}

// TestSoftmaxCrossEntropyGradient checks the loss's gradient with respect
// to the logits by central differences.
func TestSoftmaxCrossEntropyGradient(t *testing.T) {
	be := reference.New()
	logits := nntest.RandomInput(8, 3*10)
	labels := []int32{2, 9, 0}
	lt, dl := be.New(3, 10), be.New(3, 10)
	be.Upload(lt, logits)
	be.SoftmaxCrossEntropy(lt, labels, dl)
	grad := make([]float32, 30)
	be.Download(dl, grad)
	const eps = 1e-2
	for i := range logits {
		orig := logits[i]
		logits[i] = orig + eps
		be.Upload(lt, logits)
		lp := be.SoftmaxCrossEntropy(lt, labels, nil)
		logits[i] = orig - eps
		be.Upload(lt, logits)
		lm := be.SoftmaxCrossEntropy(lt, labels, nil)
		logits[i] = orig
		if num := (lp - lm) / (2 * eps); math.Abs(num-float64(grad[i])) > 1e-4 {
			t.Fatalf("logit %d: analytic %v, numeric %v", i, grad[i], num)
		}
	}
}

// TestBatchNormGradients checks batch norm in training mode, where every
// output depends on every input of its channel; the random projection
// loss keeps the gradient with respect to x from vanishing as it would
// under a plain sum.
func TestBatchNormGradients(t *testing.T) {
	be := reference.New()
	for _, c := range []struct {
		name       string
		n, c, h, w int
		relu       bool
	}{
		{"3x3", 3, 4, 3, 3, false},
		{"3x3-relu", 3, 4, 3, 3, true},
		{"1x1", 5, 2, 1, 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := nn.NewBatchNorm(be, "bn", c.c, c.relu)
			checkWith(t, be, l, nntest.RandomInput(9, c.n*c.c*c.h*c.w), fine, c.n, c.c, c.h, c.w)
		})
	}
}

// TestBasicBlockGradients checks He et al.'s blocks with batch norm and a
// rectified sum: a projection shortcut (options B/C) and a strided
// zero-padding one (option A), and a projection on the stem of a plain
// conv.
func TestBasicBlockGradients(t *testing.T) {
	be := reference.New()
	for _, projection := range []bool{true, false} {
		body := []nn.Layer{
			nn.NewConvNoBias(be, "b.conv1", 2, 4, 3, 2, nn.Symmetric),
			nn.NewBatchNorm(be, "b.bn1", 4, true),
			nn.NewConvNoBias(be, "b.conv2", 4, 4, 3, 1, nn.Symmetric),
			nn.NewBatchNorm(be, "b.bn2", 4, false),
		}
		r := nn.NewResidual(be, "b", body...)
		r.ReLU = true
		if projection {
			r.Shortcut = &nn.Sequential{Name: "b.downsample", Layers: []nn.Layer{
				nn.NewConvNoBias(be, "b.downsample.0", 2, 4, 1, 2, nn.Symmetric),
				nn.NewBatchNorm(be, "b.downsample.1", 4, false),
			}}
		} else {
			r.Shortcut = &nn.Sequential{Name: "b.subsample", Layers: []nn.Layer{nn.NewMaxPool(be, "b.subsample", 1, 2, nn.Valid)}}
		}
		t.Run(map[bool]string{true: "projection", false: "pad"}[projection], func(t *testing.T) {
			checkWith(t, be, r, nntest.RandomInput(12, 3*2*5*5), fine, 3, 2, 5, 5)
		})
	}
}

func TestGlobalPoolAndReLUGradients(t *testing.T) {
	be := reference.New()
	l := &nn.Sequential{Layers: []nn.Layer{
		nn.NewConv2D(be, "a", 2, 3, 3, 2, nn.Symmetric, false),
		nn.NewReLU(be, "relu"),
		nn.NewGlobalAvgPool(be, "gap"),
		nn.NewLinearSep(be, "fc", ".", 3, 4),
	}}
	check(t, be, l, nntest.RandomInput(13, 2*2*7*7), 2, 2, 7, 7)
}

package nn

import (
	"fmt"
	"math/rand/v2"

	"github.com/resgo/resgo/backend"
)

// BatchNorm normalises each channel of [N, C, H, W] inputs with the
// batch's statistics in training and with running averages of them in
// evaluation, then scales and shifts (Ioffe & Szegedy 2015), optionally
// followed by a fused ReLU. Parameters and statistics follow PyTorch's
// names: name.weight (gamma), name.bias (beta), name.running_mean,
// name.running_var.
type BatchNorm struct {
	Name     string
	C        int
	ReLU     bool
	Epsilon  float32
	Momentum float32
	Gamma    *Param
	Beta     *Param
	// RunningMean and RunningVar are moved towards each training batch's
	// mean and unbiased variance by Momentum.
	RunningMean, RunningVar *Param

	be             backend.Backend
	training       bool
	x, y, dx       backend.Tensor
	mean, variance backend.Tensor
	trainedForward bool
}

// NewBatchNorm makes a batch norm over c channels with PyTorch's defaults:
// epsilon 1e-5, momentum 0.1, gamma 1, beta 0, running variance 1.
func NewBatchNorm(be backend.Backend, name string, c int, relu bool) *BatchNorm {
	b := &BatchNorm{Name: name, C: c, ReLU: relu, Epsilon: 1e-5, Momentum: 0.1, be: be, training: true,
		Gamma:       newParam(be, name+".weight", c),
		Beta:        newParam(be, name+".bias", c),
		RunningMean: &Param{Name: name + ".running_mean", Shape: []int{c}, Value: be.New(c)},
		RunningVar:  &Param{Name: name + ".running_var", Shape: []int{c}, Value: be.New(c)},
		mean:        be.New(c),
		variance:    be.New(c),
	}
	b.Gamma.Init = constant(1)
	b.Beta.Init = constant(0)
	b.RunningVar.Init = constant(1)
	b.RunningMean.Init = constant(0)
	ones := make([]float32, c)
	constant(1)(nil, ones)
	be.Upload(b.Gamma.Value, ones)
	be.Upload(b.RunningVar.Value, ones)
	return b
}

func (b *BatchNorm) desc(training bool) backend.BatchNormDesc {
	return backend.BatchNormDesc{Epsilon: b.Epsilon, Training: training, ReLU: b.ReLU}
}

// SetTraining implements Switchable.
func (b *BatchNorm) SetTraining(training bool) { b.training = training }

// Forward implements Layer.
func (b *BatchNorm) Forward(x backend.Tensor) backend.Tensor {
	s := x.Shape()
	if len(s) != 4 || s[1] != b.C {
		panic(fmt.Sprintf("nn: %s expects [N, %d, H, W] inputs, got %v", b.Name, b.C, s))
	}
	b.x = x
	b.y = buffer(b.be, b.y, s...)
	b.trainedForward = b.training
	if !b.training {
		b.be.BatchNormForward(x, b.Gamma.Value, b.Beta.Value, b.RunningMean.Value, b.RunningVar.Value, b.y, b.desc(false))
		return b.y
	}
	b.be.BatchNormForward(x, b.Gamma.Value, b.Beta.Value, b.mean, b.variance, b.y, b.desc(true))
	// PyTorch's running statistics: the variance is the unbiased one.
	m := s[0] * s[2] * s[3]
	unbias := float32(1)
	if m > 1 {
		unbias = float32(m) / float32(m-1)
	}
	b.be.Scale(b.RunningMean.Value, 1-b.Momentum)
	b.be.Axpy(b.Momentum, b.mean, b.RunningMean.Value)
	b.be.Scale(b.RunningVar.Value, 1-b.Momentum)
	b.be.Axpy(b.Momentum*unbias, b.variance, b.RunningVar.Value)
	return b.y
}

// Backward implements Layer. Only a training-mode forward has a gradient
// here: evaluation never back-propagates.
func (b *BatchNorm) Backward(dy backend.Tensor) backend.Tensor {
	if !b.trainedForward {
		panic(fmt.Sprintf("nn: %s: backward after an evaluation-mode forward", b.Name))
	}
	if b.ReLU {
		b.be.ReLUBackward(b.y, dy, dy)
	}
	b.dx = buffer(b.be, b.dx, b.x.Shape()...)
	b.be.BatchNormBackward(b.x, dy, b.Gamma.Value, b.mean, b.variance, b.dx, b.Gamma.Grad, b.Beta.Grad, b.desc(true))
	return b.dx
}

// Params implements Layer.
func (b *BatchNorm) Params() []*Param { return []*Param{b.Gamma, b.Beta} }

// Stats implements Stateful.
func (b *BatchNorm) Stats() []*Param { return []*Param{b.RunningMean, b.RunningVar} }

// Describe implements Layer.
func (b *BatchNorm) Describe(in []int) Info {
	kind := "batch norm"
	if b.ReLU {
		kind += " +relu"
	}
	return Info{Name: b.Name, Kind: kind, Out: in, Params: int64(2 * b.C)}
}

// ReLU is a standalone rectifier, for where none can be fused.
type ReLU struct {
	Name string
	be   backend.Backend
	y    backend.Tensor
}

// NewReLU makes a rectifier layer.
func NewReLU(be backend.Backend, name string) *ReLU { return &ReLU{Name: name, be: be} }

// Forward implements Layer.
func (r *ReLU) Forward(x backend.Tensor) backend.Tensor {
	r.y = buffer(r.be, r.y, x.Shape()...)
	r.be.ReLUForward(x, r.y)
	return r.y
}

// Backward implements Layer: in place, into dy.
func (r *ReLU) Backward(dy backend.Tensor) backend.Tensor {
	r.be.ReLUBackward(r.y, dy, dy)
	return dy
}

// Params implements Layer.
func (r *ReLU) Params() []*Param { return nil }

// Describe implements Layer.
func (r *ReLU) Describe(in []int) Info { return Info{Name: r.Name, Kind: "relu", Out: in} }

// constant returns an initialiser that fills with v.
func constant(v float32) func(_ *rand.Rand, out []float32) {
	return func(_ *rand.Rand, out []float32) {
		for i := range out {
			out[i] = v
		}
	}
}

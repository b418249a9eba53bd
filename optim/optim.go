package optim

import (
	"math"
	"slices"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/nn"
)

// ExponentialDecay is tf.train.exponential_decay:
// lr = Base * Rate^(step/Steps), with the exponent floored when Staircase.
type ExponentialDecay struct {
	Base, Rate float64
	Steps      int64
	Staircase  bool
}

// At returns the learning rate for the step that starts at global step
// step (0 for the first).
func (d ExponentialDecay) At(step int64) float64 {
	if d.Steps <= 0 || d.Rate == 1 {
		return d.Base
	}
	e := float64(step) / float64(d.Steps)
	if d.Staircase {
		e = math.Floor(e)
	}
	return d.Base * math.Pow(d.Rate, e)
}

// L2 returns the penalty rate * sum(w^2) / 2 over the parameters marked
// Decay (tf.contrib.layers.l2_regularizer's form).
func L2(be backend.Backend, params []*nn.Param, rate float64) float64 {
	if rate == 0 {
		return 0
	}
	var s float64
	for _, p := range params {
		if p.Decay {
			s += be.SumSquares(p.Value)
		}
	}
	return rate * s / 2
}

// AddL2Grad adds the penalty's gradient, rate * w, to each Decay parameter.
func AddL2Grad(be backend.Backend, params []*nn.Param, rate float64) {
	if rate == 0 {
		return
	}
	for _, p := range params {
		if p.Decay {
			be.Axpy(float32(rate), p.Value, p.Grad)
		}
	}
}

// SGDStep applies w -= lr * grad to every parameter.
func SGDStep(be backend.Backend, params []*nn.Param, lr float64) {
	for _, p := range params {
		be.Axpy(float32(-lr), p.Grad, p.Value)
	}
}

// MomentumStep applies PyTorch's SGD with momentum: v = momentum*v + grad,
// w -= lr * v, with one velocity per parameter.
func MomentumStep(be backend.Backend, params []*nn.Param, velocities []backend.Tensor, lr, momentum float64) {
	for i, p := range params {
		be.Scale(velocities[i], float32(momentum))
		be.AddTo(velocities[i], p.Grad)
		be.Axpy(float32(-lr), velocities[i], p.Value)
	}
}

// Step is a training step's update of params once their gradients are
// in: the L2 penalty at rate l2 (its gradient added to the Decay
// parameters', its value returned as L2 returns it), SGD at learning rate
// lr (with momentum when velocities is not nil), then, with ema, the
// moving averages of state (whose shadows are ema's, in order) at step.
// Where the backend fuses these (backend.FusedUpdater) each parameter is
// read and written once; the numbers are those of L2, AddL2Grad,
// SGDStep or MomentumStep and EMA.Update called in turn, bit for bit.
func Step(be backend.Backend, params []*nn.Param, velocities []backend.Tensor, l2, lr, momentum float64, ema *EMA, state []*nn.Param, step int64) float64 {
	fused, ok := be.(backend.FusedUpdater)
	// A rate too small for float32 would skip the penalty's sum there.
	if !ok || (l2 != 0 && float32(l2) == 0) {
		penalty := L2(be, params, l2)
		AddL2Grad(be, params, l2)
		if velocities != nil {
			MomentumStep(be, params, velocities, lr, momentum)
		} else {
			SGDStep(be, params, lr)
		}
		if ema != nil {
			ema.Update(be, state, step)
		}
		return penalty
	}
	shadowed := map[*nn.Param]bool{}
	us := make([]backend.ParamUpdate, len(params))
	for i, p := range params {
		u := backend.ParamUpdate{Value: p.Value, Grad: p.Grad, LR: float32(lr)}
		if p.Decay && l2 != 0 {
			u.L2 = float32(l2)
		}
		if velocities != nil {
			u.Velocity, u.Momentum = velocities[i], float32(momentum)
		}
		if ema != nil {
			if j := slices.Index(state, p); j >= 0 {
				u.Shadow, u.EMA = ema.Shadows[j], ema.rate(step)
				shadowed[p] = true
			}
		}
		us[i] = u
	}
	var s float64
	for _, v := range fused.UpdateParams(us) {
		s += v
	}
	if ema != nil {
		for j, p := range state {
			if !shadowed[p] {
				be.Lerp(ema.Shadows[j], p.Value, ema.rate(step))
			}
		}
	}
	return l2 * s / 2
}

// VelocityName is the name a momentum velocity is saved under,
// TensorFlow's convention.
func VelocityName(param string) string { return param + "/Momentum" }

// EMA keeps tf.train.ExponentialMovingAverage shadows of parameters:
// shadow = decay*shadow + (1-decay)*w with decay = min(Decay,
// (1+step)/(10+step)), so early shadows follow the weights closely.
type EMA struct {
	Decay   float64
	Shadows []backend.Tensor
}

// NewEMA makes shadows initialised to the parameters' current values, as
// TensorFlow does.
func NewEMA(be backend.Backend, params []*nn.Param, decay float64) *EMA {
	e := &EMA{Decay: decay}
	for _, p := range params {
		s := be.New(p.Shape...)
		be.Copy(s, p.Value)
		e.Shadows = append(e.Shadows, s)
	}
	return e
}

// DecayAt is the effective decay at global step step.
func (e *EMA) DecayAt(step int64) float64 {
	return math.Min(e.Decay, float64(1+step)/float64(10+step))
}

// Update moves every shadow towards its parameter.
func (e *EMA) Update(be backend.Backend, params []*nn.Param, step int64) {
	t := e.rate(step)
	for i, p := range params {
		be.Lerp(e.Shadows[i], p.Value, t)
	}
}

// rate is how far a shadow moves towards its parameter at step step.
func (e *EMA) rate(step int64) float32 { return float32(1 - e.DecayAt(step)) }

// ShadowName is the name a shadow is saved under, TensorFlow's convention.
func ShadowName(param string) string { return param + "/ExponentialMovingAverage" }

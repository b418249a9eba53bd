package optim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/backend/native"
	"github.com/resgo/resgo/nn"
)

func TestExponentialDecayStaircase(t *testing.T) {
	d := ExponentialDecay{Base: 0.03, Rate: 0.99, Steps: 550, Staircase: true}
	for _, c := range []struct {
		step int64
		want float64
	}{{0, 0.03}, {549, 0.03}, {550, 0.03 * 0.99}, {1100, 0.03 * 0.99 * 0.99}, {7999, 0.03 * math.Pow(0.99, 14)}} {
		if got := d.At(c.step); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("step %d: %v, want %v", c.step, got, c.want)
		}
	}
	smooth := ExponentialDecay{Base: 1, Rate: 0.5, Steps: 10}
	if got := smooth.At(5); math.Abs(got-math.Sqrt(0.5)) > 1e-12 {
		t.Errorf("continuous decay at half a period: %v", got)
	}
}

func TestEMAFollowsTensorFlow(t *testing.T) {
	be := native.New(1)
	p := &nn.Param{Name: "w", Shape: []int{2}, Value: native.Wrap([]float32{1, 2}, 2), Grad: native.NewTensor(2)}
	e := NewEMA(be, []*nn.Param{p}, 0.99)
	if d := e.DecayAt(0); math.Abs(d-0.1) > 1e-12 {
		t.Fatalf("decay at step 0: %v, want 1/10", d)
	}
	if d := e.DecayAt(10000); d != 0.99 {
		t.Fatalf("decay late: %v", d)
	}
	be.Upload(p.Value, []float32{3, 4})
	e.Update(be, []*nn.Param{p}, 0)
	got := e.Shadows[0].(*native.Tensor).Data
	// shadow = 0.1*old + 0.9*new
	if math.Abs(float64(got[0])-2.8) > 1e-6 || math.Abs(float64(got[1])-3.8) > 1e-6 {
		t.Fatalf("shadow %v, want [2.8 3.8]", got)
	}
}

func TestSGDAndL2(t *testing.T) {
	be := native.New(1)
	w := &nn.Param{Name: "w", Shape: []int{2}, Value: native.Wrap([]float32{1, -2}, 2), Grad: native.Wrap([]float32{0.5, 0.5}, 2), Decay: true}
	b := &nn.Param{Name: "b", Shape: []int{1}, Value: native.Wrap([]float32{1}, 1), Grad: native.Wrap([]float32{1}, 1)}
	ps := []*nn.Param{w, b}
	if l := L2(be, ps, 0.1); math.Abs(l-0.25) > 1e-9 {
		t.Fatalf("L2 = %v, want 0.1*5/2", l)
	}
	AddL2Grad(be, ps, 0.1)
	SGDStep(be, ps, 0.5)
	wv := w.Value.(*native.Tensor).Data
	if math.Abs(float64(wv[0])-(1-0.5*0.6)) > 1e-6 || math.Abs(float64(wv[1])-(-2-0.5*0.3)) > 1e-6 {
		t.Fatalf("w = %v", wv)
	}
	if bv := b.Value.(*native.Tensor).Data[0]; bv != 0.5 {
		t.Fatalf("b = %v (no decay on biases)", bv)
	}
}

// separate hides a backend's FusedUpdater, so that Step takes the
// separate calls.
type separate struct{ backend.Backend }

// TestStepFusedMatchesSeparate runs Step on the native backend (fused)
// and on the same backend with the fusion hidden, from the same values,
// and asks for the same bits in every tensor and the same penalty:
// parameters over several chunks and an odd tail, with and without
// decay, momentum, the penalty, and state beyond the updated parameters
// (a statistic, and a parameter left out as a frozen one is).
func TestStepFusedMatchesSeparate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []int{3*(1<<16) + 17, 1000, 5}
	for _, c := range []struct {
		name     string
		l2       float64
		momentum bool
		threads  int
	}{{"sgd+l2", 1e-3, false, 2}, {"momentum+l2", 5e-4, true, 3}, {"sgd", 0, false, 1}, {"momentum", 0, true, 2}, {"negative l2", -1e-3, false, 2}} {
		t.Run(c.name, func(t *testing.T) {
			type run struct {
				params, state []*nn.Param
				vel           []backend.Tensor
				ema           *EMA
			}
			seedW, seedG, seedV, seedE := [][]float32{}, [][]float32{}, [][]float32{}, [][]float32{}
			for k, n := range append(sizes, 7, 9) {
				mk := func(scale float64) []float32 {
					v := make([]float32, n)
					for i := range v {
						v[i] = float32(rng.NormFloat64() * scale)
					}
					return v
				}
				w := mk(1)
				if k == 0 {
					// Chunk sums of squares near 1e16, then near 1, so that
					// summing them out of order shows in the penalty.
					for i := range w {
						w[i] *= float32(min(1, float64(i>>16))*(1./256-4e5) + 4e5)
					}
				}
				seedW, seedG, seedV, seedE = append(seedW, w), append(seedG, mk(0.1)), append(seedV, mk(0.05)), append(seedE, mk(1))
			}
			build := func() run {
				var r run
				all := []*nn.Param{}
				for i := range seedW {
					n := len(seedW[i])
					p := &nn.Param{Name: fmt.Sprint(i), Shape: []int{n}, Value: native.Wrap(slices.Clone(seedW[i]), n), Grad: native.Wrap(slices.Clone(seedG[i]), n), Decay: i%2 == 0}
					all = append(all, p)
				}
				// The first len(sizes) are updated; the next is a frozen
				// parameter, the last a statistic: both only averaged.
				r.params, r.state = all[:len(sizes)], all
				if c.momentum {
					for i := range r.params {
						r.vel = append(r.vel, native.Wrap(slices.Clone(seedV[i]), len(seedV[i])))
					}
				}
				r.ema = &EMA{Decay: 0.999}
				for i := range all {
					r.ema.Shadows = append(r.ema.Shadows, native.Wrap(slices.Clone(seedE[i]), len(seedE[i])))
				}
				return r
			}
			be := native.New(c.threads)
			fusedRun, sepRun := build(), build()
			fused := Step(be, fusedRun.params, fusedRun.vel, c.l2, 0.03, 0.9, fusedRun.ema, fusedRun.state, 5)
			sep := Step(separate{be}, sepRun.params, sepRun.vel, c.l2, 0.03, 0.9, sepRun.ema, sepRun.state, 5)
			if fused != sep || (c.l2 != 0) != (fused != 0) {
				t.Fatalf("penalty fused %v, separate %v", fused, sep)
			}
			same := func(what string, a, b backend.Tensor) {
				x, y := a.(*native.Tensor).Data, b.(*native.Tensor).Data
				for i := range x {
					if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
						t.Fatalf("%s[%d]: fused %v, separate %v", what, i, x[i], y[i])
					}
				}
			}
			for i := range fusedRun.state {
				same("value "+fusedRun.state[i].Name, fusedRun.state[i].Value, sepRun.state[i].Value)
				same("gradient "+fusedRun.state[i].Name, fusedRun.state[i].Grad, sepRun.state[i].Grad)
				same("shadow "+fusedRun.state[i].Name, fusedRun.ema.Shadows[i], sepRun.ema.Shadows[i])
			}
			for i := range fusedRun.vel {
				same("velocity", fusedRun.vel[i], sepRun.vel[i])
			}
			// The update did move things: a step that changed nothing
			// would pass the comparisons too.
			if fusedRun.params[1].Value.(*native.Tensor).Data[0] == seedW[1][0] || fusedRun.ema.Shadows[len(sizes)].(*native.Tensor).Data[0] == seedE[len(sizes)][0] {
				t.Fatal("the step left the second parameter's first weight or the frozen parameter's shadow as they were")
			}
		})
	}
}

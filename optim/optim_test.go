package optim

import (
	"math"
	"testing"

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

package nntest

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/nn"
)

// Options tunes a gradient check.
type Options struct {
	// Eps is the finite-difference step (default 1e-2).
	Eps float64
	// Tol is the allowed error relative to max(1, |gradient|) scaled by the
	// gradient tensor's largest entry (default 2e-2).
	Tol float64
	// Samples is how many coordinates of each tensor are probed (default
	// 30; every coordinate when the tensor is smaller).
	Samples int
	// Seed makes the check reproducible.
	Seed uint64
}

func (o *Options) defaults() {
	if o.Eps == 0 {
		o.Eps = 1e-2
	}
	if o.Tol == 0 {
		o.Tol = 2e-2
	}
	if o.Samples == 0 {
		o.Samples = 30
	}
}

// CheckGradients compares layer's Backward with central differences of the
// loss L = sum(R * layer(x)), R a fixed random projection, with respect to
// the input x and to every parameter. The loss is not a plain sum, so
// errors that a uniform gradient would hide still show. Probed coordinates
// whose perturbation changes which outputs are exactly zero (a ReLU kink)
// are skipped; more than a third skipped is an error.
func CheckGradients(be backend.Backend, layer nn.Layer, x []float32, shape []int, o Options) error {
	o.defaults()
	r := rand.New(rand.NewPCG(o.Seed, 99))
	xt := be.New(shape...)
	be.Upload(xt, x)
	y := layer.Forward(xt)
	proj := make([]float32, backend.Len(y.Shape()))
	for i := range proj {
		proj[i] = float32(r.NormFloat64())
	}
	loss := func() (float64, []bool) {
		out := layer.Forward(xt)
		v := make([]float32, len(proj))
		be.Download(out, v)
		var s float64
		zero := make([]bool, len(v))
		for i := range v {
			s += float64(v[i]) * float64(proj[i])
			zero[i] = v[i] == 0
		}
		return s, zero
	}
	loss()
	dy := be.New(y.Shape()...)
	be.Upload(dy, proj)
	dx := layer.Backward(dy)

	type target struct {
		name  string
		value backend.Tensor
		grad  []float32
	}
	targets := []target{{name: "input", value: xt, grad: host(be, dx)}}
	for _, p := range layer.Params() {
		targets = append(targets, target{name: p.Name, value: p.Value, grad: host(be, p.Grad)})
	}
	for _, t := range targets {
		if err := probe(be, t.name, t.value, t.grad, loss, r, o); err != nil {
			return err
		}
	}
	return nil
}

func host(be backend.Backend, t backend.Tensor) []float32 {
	v := make([]float32, backend.Len(t.Shape()))
	be.Download(t, v)
	return v
}

func probe(be backend.Backend, name string, value backend.Tensor, grad []float32,
	loss func() (float64, []bool), r *rand.Rand, o Options) error {
	vals := host(be, value)
	idx := r.Perm(len(vals))
	if len(idx) > o.Samples {
		idx = idx[:o.Samples]
	}
	scale := 1.0
	for _, g := range grad {
		scale = math.Max(scale, math.Abs(float64(g)))
	}
	skipped := 0
	for _, i := range idx {
		orig := vals[i]
		vals[i] = orig + float32(o.Eps)
		be.Upload(value, vals)
		lp, zp := loss()
		vals[i] = orig - float32(o.Eps)
		be.Upload(value, vals)
		lm, zm := loss()
		vals[i] = orig
		be.Upload(value, vals)
		if !equalMasks(zp, zm) {
			skipped++
			continue
		}
		num := (lp - lm) / (2 * o.Eps)
		if d := math.Abs(num - float64(grad[i])); d > o.Tol*scale {
			return fmt.Errorf("%s[%d]: analytic gradient %.6g, numeric %.6g (difference %.3g, tolerance %.3g)",
				name, i, grad[i], num, d, o.Tol*scale)
		}
	}
	if skipped*3 > len(idx) {
		return fmt.Errorf("%s: %d of %d probes sat on a kink; choose other inputs", name, skipped, len(idx))
	}
	return nil
}

func equalMasks(a, b []bool) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// RandomInput returns n standard-normal values.
func RandomInput(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// DistinctInput returns a random permutation of n values spaced well apart,
// so that max-pooling windows have no near ties.
func DistinctInput(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 2))
	v := make([]float32, n)
	for i, p := range r.Perm(n) {
		v[i] = float32(p)*0.1 - float32(n)*0.05
	}
	return v
}

// RandomizeParams fills every parameter with normal values of the given
// standard deviation.
func RandomizeParams(be backend.Backend, l nn.Layer, seed uint64, std float64) {
	r := rand.New(rand.NewPCG(seed, 3))
	for _, p := range l.Params() {
		v := make([]float32, backend.Len(p.Shape))
		for i := range v {
			v[i] = float32(r.NormFloat64() * std)
		}
		be.Upload(p.Value, v)
	}
}

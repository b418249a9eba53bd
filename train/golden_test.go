package train_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/backend/native"
	"github.com/resgo/resgo/backend/reference"
	"github.com/resgo/resgo/checkpoint"
	"github.com/resgo/resgo/model"
	"github.com/resgo/resgo/optim"
	"github.com/resgo/resgo/train"
)

// The golden file is written by tools/golden/make_golden.py (see the README
// there): PyTorch's float64 forward pass, gradients and five SGD steps of the
// same network from the same float32 weights.
const goldenFile = "golden_seed_resnet34_d8.safetensors"

// goldenTol bounds the error of every compared tensor relative to the
// largest magnitude in that tensor's golden value:
//
//	max_i |got_i - want_i| <= goldenTol * max(max_i |want_i|, goldenFloor)
//
// Go computes in float32 (the reference backend accumulates each dot
// product in float64 but rounds every layer's output to float32; the fast
// path also accumulates in float32, in a blocked order). Rounding errors of
// that kind scale with the size of the values being summed, i.e. with the
// tensor's overall magnitude, not with each element: an element that is
// small because of cancellation (a gradient entry near 0) carries the same
// absolute error as its neighbours, so an element-wise relative check would
// fail spuriously on it. Relative to the tensor's maximum, float32 noise
// through ~35 layers stays below 1e-6 (observed: up to 7e-7 on the fast
// path); 1e-5 leaves a margin for that, yet anything structural (a padding
// offset, swapped parameters, a wrong flatten order or channel-pad
// position, a ReLU after the residual sum) changes the results by 1e-3 to
// 1 and fails. The L2 term is the weakest signal: leaving it out of the
// fc weight's gradient or out of the loss is off by 1.4e-4 to 1.6e-4 with
// these golden values, which 1e-5 catches clearly. The floor only guards
// tensors whose golden value is all (near) zeros.
const (
	goldenTol   = 1e-5
	goldenFloor = 1e-6
)

type golden struct {
	tensors map[string]checkpoint.Tensor
	meta    map[string]string
	lr, l2  float32
	depth   int
}

func loadGolden(t *testing.T) *golden {
	t.Helper()
	path := filepath.Join("..", "testdata", goldenFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 tools/golden/make_golden.py)", err)
	}
	tensors, meta, err := checkpoint.Decode(data, path)
	if err != nil {
		t.Fatal(err)
	}
	g := &golden{tensors: tensors, meta: meta}
	num := func(key string) float64 {
		v, err := strconv.ParseFloat(meta[key], 64)
		if err != nil {
			t.Fatalf("%s: metadata %q: %v", path, key, err)
		}
		return v
	}
	g.lr, g.l2, g.depth = float32(num("lr")), float32(num("l2")), int(num("base_depth"))
	return g
}

func (g *golden) get(t *testing.T, name string, shape ...int) checkpoint.Tensor {
	t.Helper()
	v, ok := g.tensors[name]
	if !ok {
		t.Fatalf("golden file lacks %q", name)
	}
	if fmt.Sprint(v.Shape) != fmt.Sprint(shape) {
		t.Fatalf("golden %q has shape %v, want %v", name, v.Shape, shape)
	}
	return v
}

func labelsOf(t *testing.T, v []float32) []int32 {
	t.Helper()
	out := make([]int32, len(v))
	for i, f := range v {
		out[i] = int32(f)
		if float32(out[i]) != f {
			t.Fatalf("label %v is not an integer", f)
		}
	}
	return out
}

// relErr is the comparison goldenTol bounds: the largest absolute
// difference relative to the golden tensor's largest magnitude.
func relErr(got, want []float32) float64 {
	var diff, scale float64
	for i := range want {
		diff = math.Max(diff, math.Abs(float64(got[i])-float64(want[i])))
		scale = math.Max(scale, math.Abs(float64(want[i])))
	}
	return diff / math.Max(scale, goldenFloor)
}

// lossAndGrads runs one forward and backward pass: the loss is the mean
// softmax cross-entropy plus l2*sum(w^2)/2 over the parameters marked
// Decay (the fully connected weight), whose gradients get l2*w added.
func lossAndGrads(be backend.Backend, m *model.Model, x backend.Tensor, labels []int32, l2 float32) (float64, backend.Tensor) {
	logits := m.Forward(x)
	dlogits := be.New(logits.Shape()...)
	loss := be.SoftmaxCrossEntropy(logits, labels, dlogits)
	loss += optim.L2(be, m.Params, float64(l2))
	m.Backward(dlogits)
	optim.AddL2Grad(be, m.Params, float64(l2))
	return loss, logits
}

type namedBackend struct {
	name string
	be   backend.Backend
}

// extraBackends are the backends built in by build tags (see dnnl_test.go).
var extraBackends []namedBackend

// TestGoldenPyTorch holds the seed-resnet34 model to PyTorch's logits,
// loss, parameter gradients and SGD trajectory: on the reference loops,
// and on the native backend with every instruction set this CPU has and
// every convolution mode.
func TestGoldenPyTorch(t *testing.T) {
	g := loadGolden(t)
	backends := []namedBackend{{"reference", reference.New()}}
	for _, isa := range native.ISAs() {
		for _, mode := range []native.ConvMode{native.ConvAuto, native.ConvNoWinograd, native.ConvIm2col} {
			be, err := native.NewWith(native.Options{Threads: 2, ISA: isa, Conv: mode})
			if err != nil {
				t.Fatal(err)
			}
			backends = append(backends, namedBackend{"native/" + string(isa) + "/" + string(mode), be})
		}
	}
	for _, c := range append(backends, extraBackends...) {
		t.Run(c.name, func(t *testing.T) { checkGolden(t, c.be, g, goldenTol) })
	}
}

// TestGoldenBF16 holds the native backend's bfloat16 products (every
// instruction set; Go loops where the CPU has no AVX512-BF16) to the
// golden PyTorch values, as far as bfloat16 allows. Each rounding moves a
// convolution's outputs by about 2^-8 of their size (more through
// Winograd's transforms), and each layer rounds again what the last one
// moved, so an element-wise bound carried through the network means
// little; instead: the logits within bf16LogitTol of their largest, the
// loss and the SGD losses within bf16LossTol, and every parameter's
// gradient pointing the same way (cosine at least bf16GradCos: a ReLU that
// flips between the two sends a few elements far off, which the direction
// barely notices, where a pass computed wrongly turns it). Measured
// (2026-12-02): logits 0.4% with direct kernels, 0.8% with Winograd's; the
// lowest gradient cosine 0.988 and 0.958.
func TestGoldenBF16(t *testing.T) {
	const bf16LogitTol, bf16LossTol, bf16GradCos = 2e-2, 1e-2, 0.9
	g := loadGolden(t)
	for _, isa := range native.ISAs() {
		be, err := native.NewWith(native.Options{Threads: 2, ISA: isa, Precision: native.BF16})
		if err != nil {
			t.Fatal(err)
		}
		t.Run(string(isa), func(t *testing.T) {
			cfg := model.Config{Arch: "seed-resnet34", BaseDepth: g.depth, Classes: 10, Input: [3]int{1, 28, 28}}
			m, err := model.Build(be, cfg)
			if err != nil {
				t.Fatal(err)
			}
			n, shape := 4, []int{4, 1, 28, 28}
			restore := func() {
				for _, p := range m.Params {
					be.Upload(p.Value, g.get(t, "param/"+p.Name, p.Shape...).Data)
				}
			}
			restore()
			x := be.New(shape...)
			be.Upload(x, g.get(t, "input", shape...).Data)
			loss, logits := lossAndGrads(be, m, x, labelsOf(t, g.get(t, "labels", n).Data), g.l2)
			got := make([]float32, n*cfg.Classes)
			be.Download(logits, got)
			if e := relErr(got, g.get(t, "logits", n, cfg.Classes).Data); e > bf16LogitTol {
				t.Errorf("logits: relative error %.3g exceeds %g", e, bf16LogitTol)
			} else {
				t.Logf("logits: relative error %.3g", e)
			}
			want := float64(g.get(t, "loss", 1).Data[0])
			if e := math.Abs(loss-want) / want; e > bf16LossTol {
				t.Errorf("loss %.6f, want %.6f", loss, want)
			}
			worst, worstName := 1.0, ""
			for _, p := range m.Params {
				v := make([]float32, backend.Len(p.Shape))
				be.Download(p.Grad, v)
				if c := cosine(v, g.tensors["grad/"+p.Name].Data); c < worst {
					worst, worstName = c, p.Name
				}
			}
			if worst < bf16GradCos {
				t.Errorf("gradient of %s: cosine %.4f with PyTorch's, want at least %g", worstName, worst, bf16GradCos)
			}
			t.Logf("gradients: lowest cosine %.5f (%s)", worst, worstName)
			restore()
			steps, per := 5, backend.Len(shape)
			inputs := g.get(t, "sgd/inputs", append([]int{steps}, shape...)...).Data
			labels := g.get(t, "sgd/labels", steps, n).Data
			losses := g.get(t, "sgd/losses", steps).Data
			h := train.Hyper{BatchSize: n, Steps: int64(steps), LearningRate: float64(g.lr), DecayRate: 1, L2: float64(g.l2), EMADecay: 0.99}
			tr := train.NewTrainer(be, m, h, 1000)
			for i := 0; i < steps; i++ {
				loss := tr.TrainStep(inputs[i*per:(i+1)*per], labelsOf(t, labels[i*n:(i+1)*n]))
				if e := math.Abs(loss-float64(losses[i])) / float64(losses[i]); e > bf16LossTol {
					t.Errorf("SGD step %d: loss %.6f, want %.6f", i, loss, losses[i])
				}
			}
		})
	}
}

// cosine is the cosine of the angle between a and b.
func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}

func checkGolden(t *testing.T, be backend.Backend, g *golden, tol float64) {
	cfg := model.Config{Arch: "seed-resnet34", BaseDepth: g.depth, Classes: 10, Input: [3]int{1, 28, 28}}
	m, err := model.Build(be, cfg)
	if err != nil {
		t.Fatal(err)
	}
	n, cls := 4, cfg.Classes
	inShape := []int{n, cfg.Input[0], cfg.Input[1], cfg.Input[2]}

	// Every model parameter has a golden value and a golden gradient of its
	// shape, and the file has nothing the model lacks.
	initial := make(map[string][]float32)
	for _, p := range m.Params {
		initial[p.Name] = g.get(t, "param/"+p.Name, p.Shape...).Data
		g.get(t, "grad/"+p.Name, p.Shape...)
	}
	var extra []string
	for name := range g.tensors {
		for _, prefix := range []string{"param/", "grad/"} {
			if rest, ok := strings.CutPrefix(name, prefix); ok && m.Param(rest) == nil {
				extra = append(extra, name)
			}
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		t.Fatalf("golden values for parameters the model lacks: %v", extra)
	}
	restore := func() {
		for _, p := range m.Params {
			be.Upload(p.Value, initial[p.Name])
		}
	}

	check := func(what string, got, want []float32) float64 {
		t.Helper()
		e := relErr(got, want)
		if e > tol {
			t.Errorf("%s: relative error %.3g exceeds %g", what, e, tol)
		}
		return e
	}
	// Losses are float64 on the Go side; compare them unrounded.
	checkLoss := func(what string, got float64, want float32) float64 {
		t.Helper()
		e := math.Abs(got-float64(want)) / math.Max(math.Abs(float64(want)), goldenFloor)
		if e > tol {
			t.Errorf("%s: loss %.7f, want %.7f: relative error %.3g exceeds %g", what, got, want, e, tol)
		}
		return e
	}

	// One forward and backward pass.
	restore()
	x := be.New(inShape...)
	be.Upload(x, g.get(t, "input", inShape...).Data)
	labels := labelsOf(t, g.get(t, "labels", n).Data)
	loss, logits := lossAndGrads(be, m, x, labels, g.l2)
	got := make([]float32, n*cls)
	be.Download(logits, got)
	t.Logf("logits: max relative error %.3g", check("logits", got, g.get(t, "logits", n, cls).Data))
	t.Logf("loss %.7f: relative error %.3g", loss, checkLoss("loss", loss, g.get(t, "loss", 1).Data[0]))
	var worst float64
	worstName := ""
	for _, p := range m.Params {
		got := make([]float32, backend.Len(p.Shape))
		be.Download(p.Grad, got)
		if e := check("gradient of "+p.Name, got, g.tensors["grad/"+p.Name].Data); e >= worst {
			worst, worstName = e, p.Name
		}
	}
	t.Logf("gradients: max relative error %.3g (%s)", worst, worstName)

	// Plain SGD from the initial weights, one fixed batch per step.
	restore()
	steps := 5
	inputs := g.get(t, "sgd/inputs", append([]int{steps}, inShape...)...).Data
	allLabels := g.get(t, "sgd/labels", steps, n).Data
	losses := g.get(t, "sgd/losses", steps).Data
	per := backend.Len(inShape)
	worst = 0
	// The trainer's own step: constant learning rate (decay 1), the L2
	// term, plain SGD.
	h := train.Hyper{BatchSize: n, Steps: int64(steps), LearningRate: float64(g.lr), DecayRate: 1,
		L2: float64(g.l2), EMADecay: 0.99}
	tr := train.NewTrainer(be, m, h, 1000)
	for i := 0; i < steps; i++ {
		loss := tr.TrainStep(inputs[i*per:(i+1)*per], labelsOf(t, allLabels[i*n:(i+1)*n]))
		worst = math.Max(worst, checkLoss(fmt.Sprintf("SGD step %d", i), loss, losses[i]))
	}
	t.Logf("SGD losses: max relative error %.3g", worst)
}

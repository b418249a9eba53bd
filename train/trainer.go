package train

import (
	"fmt"
	"math"
	"time"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/dist"
	"github.com/resgo/resgo/model"
	"github.com/resgo/resgo/nn"
	"github.com/resgo/resgo/optim"
)

// Hyper holds the optimisation hyperparameters; the defaults are the
// tutorial's.
type Hyper struct {
	BatchSize    int     `json:"batch_size"`
	Steps        int64   `json:"steps"`
	LearningRate float64 `json:"learning_rate"`
	DecayRate    float64 `json:"decay_rate"`
	// DecaySteps is the decay period; 0 means one epoch (train examples
	// divided by the batch size, 550 on MNIST).
	DecaySteps int64   `json:"decay_steps"`
	Staircase  bool    `json:"staircase"`
	L2         float64 `json:"l2"`
	EMADecay   float64 `json:"ema_decay"`
	Seed       uint64  `json:"seed"`
	// Momentum is SGD's momentum (PyTorch's form); 0, the tutorial's, is
	// plain gradient descent.
	Momentum float64 `json:"momentum,omitempty"`
}

// Validate rejects hyperparameters no training can use: NaN and infinite
// values among them, which every comparison would let through and which
// would train "normally" into a checkpoint of NaNs. Messages name the
// command line's flag for each field.
func (h Hyper) Validate() error {
	finite := func(flag string, v float64) error {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("--%s %g: must be a finite number", flag, v)
		}
		return nil
	}
	for _, f := range []struct {
		flag string
		v    float64
	}{{"learning-rate", h.LearningRate}, {"decay-rate", h.DecayRate}, {"l2", h.L2}, {"momentum", h.Momentum}, {"ema-decay", h.EMADecay}} {
		if err := finite(f.flag, f.v); err != nil {
			return err
		}
	}
	switch {
	case h.BatchSize <= 0 || h.BatchSize > MaxBatchSize:
		return fmt.Errorf("--batch-size %d: must be between 1 and %d", h.BatchSize, MaxBatchSize)
	case h.Steps <= 0:
		return fmt.Errorf("--steps %d: must be positive", h.Steps)
	case h.LearningRate <= 0 || h.LearningRate > MaxLearningRate:
		return fmt.Errorf("--learning-rate %g: must be positive and at most %g", h.LearningRate, float64(MaxLearningRate))
	case h.DecayRate <= 0 || h.DecayRate > 1:
		return fmt.Errorf("--decay-rate %g: must be in (0, 1]", h.DecayRate)
	case h.DecaySteps < 0:
		return fmt.Errorf("--decay-steps %d: must be 0 (one epoch) or positive", h.DecaySteps)
	case h.L2 < 0 || h.L2 > 1:
		return fmt.Errorf("--l2 %g: must be in [0, 1]", h.L2)
	case h.EMADecay < 0 || h.EMADecay >= 1:
		return fmt.Errorf("--ema-decay %g: must be in [0, 1)", h.EMADecay)
	case h.Momentum < 0 || h.Momentum >= 1:
		return fmt.Errorf("--momentum %g: must be in [0, 1)", h.Momentum)
	}
	return nil
}

// Bounds on hyperparameters beyond which a value is a typo, not a choice.
const (
	// MaxBatchSize keeps one batch's activations within reach of a machine.
	MaxBatchSize = 1 << 16
	// MaxLearningRate: SGD at rates above this diverges at once on any of
	// these models; a larger value is a slip of the exponent.
	MaxLearningRate = 100
)

// DefaultHyper is the tutorial's configuration.
func DefaultHyper() Hyper {
	return Hyper{BatchSize: 100, Steps: 8000, LearningRate: 0.03, DecayRate: 0.99, Staircase: true,
		L2: 0.0001, EMADecay: 0.99, Seed: 1}
}

// Trainer holds a model being trained and its optimiser state.
type Trainer struct {
	Be       backend.Backend
	Model    *model.Model
	Hyper    Hyper
	Schedule optim.ExponentialDecay
	// EMA averages the parameters and the running statistics (batch
	// norm's), so that averaged weights are evaluated with statistics
	// averaged over the same steps.
	EMA *optim.EMA
	// Velocities are the momentum buffers, one per parameter (nil without
	// momentum).
	Velocities []backend.Tensor
	// Step is the global step: the number of updates applied so far.
	Step int64
	// BatchCorrect is how many examples of the last step's batch the model
	// classified correctly (before the update).
	BatchCorrect int

	x       backend.Tensor
	dlogits backend.Tensor
	logits  []float32
	// frozen: only trainable (with their momentum buffers) are updated;
	// see Freeze.
	frozen       bool
	trainable    []*nn.Param
	trainableVel []backend.Tensor
	// dist, when set, joins a data-parallel job (see SetTransport).
	dist dist.Transport
	red  *reducer
	// overlap is the mode SetOverlap chose; tuner applies it.
	overlap Overlap
	tuner   *overlapTuner
}

// NewTrainer wraps a model whose weights are already set (by Init or a
// checkpoint); the moving averages start at the current weights.
func NewTrainer(be backend.Backend, m *model.Model, h Hyper, trainExamples int) *Trainer {
	decay := h.DecaySteps
	if decay == 0 && h.BatchSize > 0 {
		decay = int64(max(1, trainExamples/h.BatchSize))
	}
	t := &Trainer{
		Be: be, Model: m, Hyper: h,
		Schedule: optim.ExponentialDecay{Base: h.LearningRate, Rate: h.DecayRate, Steps: decay, Staircase: h.Staircase},
		EMA:      optim.NewEMA(be, m.State(), h.EMADecay),
	}
	if h.Momentum != 0 {
		for _, p := range m.Params {
			t.Velocities = append(t.Velocities, be.New(p.Shape...))
		}
	}
	return t
}

// LearningRate is the rate the next step will use.
func (t *Trainer) LearningRate() float64 { return t.Schedule.At(t.Step) }

// TrainStep runs one SGD step on a batch (images as N x C*H*W floats) and
// returns the loss on that batch before the update, as TensorFlow's
// session.run([train_op, loss]) reports it.
func (t *Trainer) TrainStep(images []float32, labels []int32) float64 {
	c := t.Model.Config
	n := len(labels)
	if t.x == nil || t.x.Shape()[0] != n {
		t.x = t.Be.New(n, c.Input[0], c.Input[1], c.Input[2])
		t.dlogits = t.Be.New(n, c.Classes)
	}
	if t.dist != nil && t.tuner.trialsDone() {
		t.decideOverlap()
	}
	began := time.Now()
	t.Be.Upload(t.x, images)
	t.Model.SetTraining(true)
	logits := t.Model.Forward(t.x)
	t.BatchCorrect = t.countCorrect(logits, labels)
	params, velocities := t.updated()
	loss := t.Be.SoftmaxCrossEntropy(logits, labels, t.dlogits)
	if t.dist != nil {
		// Gradients travel in buckets (see buckets.go), during backward
		// or after it (see Overlap).
		red := t.reducerFor(params)
		timed, overlap := t.tuner.trial()
		red.overlap = overlap
		red.start()
		// Backward is linear in dlogits: scaled by 1/ranks, the
		// gradients' sum over the ranks is their mean.
		t.Be.Scale(t.dlogits, 1/float32(t.dist.Size()))
		t.Model.BackwardEach(t.dlogits, red.layerDone)
		if err := red.finish(); err != nil {
			panic(fmt.Sprintf("train: rank %d: averaging gradients at step %d: %v", t.dist.Rank(), t.Step+1, err))
		}
		// Each rank's loss is the mean over its share: the mean of the
		// ranks' is the global batch's, and so is the mean gradient.
		loss, t.BatchCorrect = t.averageLoss(loss, t.BatchCorrect)
		if timed {
			t.tuner.record(overlap, time.Since(began))
		}
		t.tuner.steps++
	} else {
		t.Model.Backward(t.dlogits)
	}
	// The penalty after the average: every rank holds the same weights.
	// The averages follow the updated weights, with the decay of the step
	// the update belonged to.
	loss += optim.Step(t.Be, params, velocities, t.Hyper.L2, t.LearningRate(), t.Hyper.Momentum, t.EMA, t.Model.State(), t.Step)
	t.Step++
	return loss
}

// countCorrect counts the rows of logits whose largest entry is the label.
func (t *Trainer) countCorrect(logits backend.Tensor, labels []int32) int {
	k := t.Model.Config.Classes
	if cap(t.logits) < len(labels)*k {
		t.logits = make([]float32, len(labels)*k)
	}
	v := t.logits[:len(labels)*k]
	t.Be.Download(logits, v)
	correct := 0
	for i, label := range labels {
		if argmax(v[i*k:(i+1)*k]) == int(label) {
			correct++
		}
	}
	return correct
}

func argmax(row []float32) int {
	best := 0
	for j, v := range row {
		if v > row[best] {
			best = j
		}
	}
	return best
}

// Finite reports whether a loss is a usable number.
func Finite(loss float64) bool { return !math.IsNaN(loss) && !math.IsInf(loss, 0) }

package predict

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/backend/native"
	"github.com/resgo/resgo/checkpoint"
	"github.com/resgo/resgo/data"
	"github.com/resgo/resgo/model"
	"github.com/resgo/resgo/quantize"
	"github.com/resgo/resgo/train"
)

// Options tune Load; the zero value is what most callers want.
type Options struct {
	// Backend computes; nil means the pure-Go backend on every core.
	Backend backend.Backend
	// Raw uses the raw weights instead of their moving averages (which
	// evaluation uses by default, as the tutorial's did).
	Raw bool
	// Preprocessing overrides the model's; "" means Auto.
	Preprocessing Preprocessing
	// Prefix names the checkpoints when Load is given a directory; ""
	// means checkpoint.DefaultPrefix (mnist_model).
	Prefix string
	// Int8 computes the convolutions on int8 values with the checkpoint's
	// calibration (made by resgo quantize; see package quantize); the
	// backend must have int8 convolutions (the native one has).
	Int8 bool
	// MaxBatch is the most images one forward pass takes (0 means
	// MaxBatch, the most allowed); larger calls are split. Load checks
	// that the machine has the memory for a pass this large.
	MaxBatch int
}

// Prediction is one class and how likely the model finds it.
type Prediction struct {
	Class       int     `json:"class"`
	Label       string  `json:"label"`
	Probability float64 `json:"probability"`
}

// Classifier is a loaded model. Its methods may be called from many
// goroutines at once: images are prepared concurrently, and forward
// passes take turns (each already uses every core).
type Classifier struct {
	// Path and Step identify the checkpoint; Labels names the classes.
	Path   string
	Step   int64
	Labels []string
	// Input is the model's input shape; Prep how images are prepared.
	Input [3]int
	Prep  Preprocessing
	// Norm is the scaling and normalisation a model trained on an image
	// folder stored (nil for MNIST's models: their inputs are in [0, 1]).
	Norm *data.Preprocessing

	mu       sync.Mutex // guards the model's buffers during a forward pass
	be       backend.Backend
	m        *model.Model
	maxBatch int
}

// ErrBadInput is returned (wrapped) for inputs the model cannot answer:
// values so far out of range that its output overflows.
var ErrBadInput = errors.New("input out of range")

// MaxBatch is the most images one forward pass may take (see
// Options.MaxBatch); larger batches are split.
const MaxBatch = 256

// Load reads a checkpoint file, or the newest good checkpoint in a
// directory (damaged ones are skipped, as training does), and builds its
// model with the moving-average weights.
func Load(path string, o Options) (*Classifier, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	var ck *checkpoint.Checkpoint
	if fi.IsDir() {
		store := &checkpoint.Store{Dir: path, Prefix: o.Prefix}
		ck, _, err = store.LoadLatestValid(train.Readable)
	} else {
		ck, err = checkpoint.Load(path)
	}
	if err != nil {
		return nil, err
	}
	return New(ck, o)
}

// New builds a classifier from a loaded checkpoint.
func New(ck *checkpoint.Checkpoint, o Options) (*Classifier, error) {
	mc, err := train.ModelConfig(ck)
	if err != nil {
		return nil, err
	}
	maxBatch := o.MaxBatch
	if maxBatch == 0 {
		maxBatch = MaxBatch
	}
	if maxBatch < 1 || maxBatch > MaxBatch {
		return nil, fmt.Errorf("predict: maximum batch %d: must be from 1 to %d", maxBatch, MaxBatch)
	}
	var norm *data.Preprocessing
	if s, ok := ck.Meta[data.PreprocessingKey]; ok {
		p, err := data.ParsePreprocessing(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ck.Path, err)
		}
		if [3]int{p.Channels, p.Height, p.Width} != mc.Input {
			return nil, fmt.Errorf("%s: its preprocessing makes %dx%dx%d inputs, its model takes %v", ck.Path, p.Channels, p.Height, p.Width, mc.Input)
		}
		norm = &p
	}
	prep := o.Preprocessing
	if norm != nil {
		// What the model was trained with; digit preparation would feed
		// it values it never saw.
		if prep == Digit {
			return nil, fmt.Errorf("%s: trained on an image folder: its images are scaled and normalised, not prepared as MNIST digits", ck.Path)
		}
		prep = Resize
	}
	prep, err = prep.resolve(mc.Input)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ck.Path, err)
	}
	labels, err := labelsOf(ck, mc.Classes)
	if err != nil {
		return nil, err
	}
	foot, err := model.Measure(mc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ck.Path, err)
	}
	if err := model.CheckMemory(mc, fmt.Sprintf("inference at batch %d", maxBatch), foot.InferenceBytes(maxBatch)); err != nil {
		return nil, fmt.Errorf("%s: %w", ck.Path, err)
	}
	be := o.Backend
	if be == nil {
		be = native.New(0)
	}
	m, err := model.Build(be, mc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ck.Path, err)
	}
	if err := train.LoadWeights(be, m, ck, !o.Raw); err != nil {
		return nil, err
	}
	m.SetTraining(false)
	if o.Int8 {
		if err := quantize.FromCheckpoint(be, m.Net, ck, o.Raw); err != nil {
			return nil, err
		}
	}
	return &Classifier{Path: ck.Path, Step: ck.Step, Labels: labels, Input: mc.Input, Prep: prep, Norm: norm, be: be, m: m, maxBatch: maxBatch}, nil
}

// labelsOf reads the class names a checkpoint carries ("labels": a JSON
// array), or numbers the classes from 0 (MNIST's digits).
func labelsOf(ck *checkpoint.Checkpoint, classes int) ([]string, error) {
	var labels []string
	if s, ok := ck.Meta[data.LabelsKey]; ok {
		if err := json.Unmarshal([]byte(s), &labels); err != nil || len(labels) != classes {
			return nil, fmt.Errorf("%s: its class names (%q) do not name its %d classes", ck.Path, s, classes)
		}
		return labels, nil
	}
	for i := range classes {
		labels = append(labels, strconv.Itoa(i))
	}
	return labels, nil
}

// Prepare turns an image into the model's input, as Classify does.
func (c *Classifier) Prepare(img image.Image) ([]float32, error) {
	if img == nil {
		return nil, errors.New("predict: nil image")
	}
	var x []float32
	var err error
	switch {
	case c.Prep == Digit:
		x, err = DigitInput(img)
	case c.Norm != nil:
		x, err = c.Norm.Input(img)
	default:
		x, err = ResizeInput(img, c.Input)
	}
	if err == nil && len(x) != c.Input[0]*c.Input[1]*c.Input[2] {
		err = fmt.Errorf("predict: prepared %d values, the model takes %v", len(x), c.Input)
	}
	return x, err
}

// Classify returns every class, most likely first.
func (c *Classifier) Classify(img image.Image) ([]Prediction, error) {
	out, err := c.ClassifyBatch([]image.Image{img})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// ClassifyBatch classifies images in as few forward passes as the
// maximum batch allows; the answers are in the images' order, each with
// every class, most likely first. An image that cannot be prepared fails
// the call, naming its index.
func (c *Classifier) ClassifyBatch(imgs []image.Image) ([][]Prediction, error) {
	per := c.Input[0] * c.Input[1] * c.Input[2]
	inputs := make([]float32, len(imgs)*per)
	errs := make([]error, len(imgs))
	// On every core, one image at a time each.
	var wg sync.WaitGroup
	var next atomic.Int64
	for range min(len(imgs), runtime.NumCPU()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(imgs); i = int(next.Add(1)) - 1 {
				x, err := c.Prepare(imgs[i])
				if err != nil {
					errs[i] = fmt.Errorf("image %d: %w", i, err)
					continue
				}
				copy(inputs[i*per:], x)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c.ClassifyInputs(inputs)
}

// ClassifyInputs classifies prepared inputs (as Prepare makes them, one
// after another).
func (c *Classifier) ClassifyInputs(inputs []float32) ([][]Prediction, error) {
	per := c.Input[0] * c.Input[1] * c.Input[2]
	if len(inputs)%per != 0 {
		return nil, fmt.Errorf("predict: %d input values are not whole images of %d", len(inputs), per)
	}
	n := len(inputs) / per
	k := len(c.Labels)
	logits := make([]float32, n*k)
	for lo := 0; lo < n; lo += c.maxBatch {
		hi := min(n, lo+c.maxBatch)
		c.forward(inputs[lo*per:hi*per], hi-lo, logits[lo*k:hi*k])
	}
	out := make([][]Prediction, n)
	for i := range n {
		row := logits[i*k : (i+1)*k]
		for _, v := range row {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("%w: the model's output for input %d is not finite", ErrBadInput, i)
			}
		}
		out[i] = c.rank(row)
	}
	return out, nil
}

func (c *Classifier) forward(x []float32, n int, logits []float32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.be.New(n, c.Input[0], c.Input[1], c.Input[2])
	c.be.Upload(t, x)
	c.be.Download(c.m.Forward(t), logits)
}

// rank turns logits into probabilities (a softmax in float64), sorted.
func (c *Classifier) rank(logits []float32) []Prediction {
	top := math.Inf(-1)
	for _, v := range logits {
		top = math.Max(top, float64(v))
	}
	var sum float64
	out := make([]Prediction, len(logits))
	for j, v := range logits {
		e := math.Exp(float64(v) - top)
		sum += e
		out[j] = Prediction{Class: j, Label: c.Labels[j], Probability: e}
	}
	for j := range out {
		out[j].Probability /= sum
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Probability > out[b].Probability })
	return out
}

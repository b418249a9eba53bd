package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/checkpoint"
	"github.com/resgo/resgo/data"
	"github.com/resgo/resgo/dist"
	"github.com/resgo/resgo/internal/sysinfo"
	"github.com/resgo/resgo/model"
)

// Options configures a training run.
type Options struct {
	Hyper  Hyper
	Model  model.Config
	Prefix string
	// CheckpointDir receives a checkpoint every SaveEvery steps, at the end
	// and on interruption; the newest Keep are kept.
	CheckpointDir string
	SaveEvery     int64
	Keep          int
	// Fresh starts from new weights even when checkpoints exist; the old
	// ones are moved into a subdirectory, never deleted.
	Fresh bool
	// Out receives the tutorial's line per step; Log receives status.
	Out, Log io.Writer
	// Events, when set, receives the loss and learning rate every step,
	// the speed at every checkpoint and weight histograms every
	// HistogramEvery steps (0: never): a TensorBoard log (see tblog).
	Events         EventSink
	HistogramEvery int64
	// Validation, when set, is evaluated (raw weights, evaluation mode)
	// every EvalEvery steps and at the end; the accuracy goes to Log and
	// Events. Training accuracy over the batches since the last
	// checkpoint goes to Events at each checkpoint.
	Validation *data.Set
	EvalEvery  int64
	// Progress, when set, is told about every step (for progress bars).
	Progress func(step int64, loss float64)
	// Augment changes training images as they are drawn (off when zero).
	Augment data.Augment
	// Meta is added to every checkpoint's metadata: what readers of the
	// checkpoint need to treat inputs alike (class names under "labels",
	// the image preprocessing under data.PreprocessingKey).
	Meta map[string]string
	// InitFrom, when set, gives a new run (not a resumed one) its starting
	// weights: another checkpoint's, of the same architecture; a
	// classifier of another shape is replaced by a fresh one.
	InitFrom *checkpoint.Checkpoint
	// Freeze names the parameters not to train (see Trainer.Freeze);
	// FreezeStats keeps the running statistics of their batch norms too.
	Freeze      []string
	FreezeStats bool
	// Transport, when it joins several processes (mpirun), makes this run
	// one rank of a data-parallel job (see Trainer.SetTransport): each
	// rank trains on its share of every global batch of Hyper.BatchSize,
	// in the same order as one process. Rank 0 alone reads and writes
	// checkpoints and writes Out, Log, Events and Progress, and starts
	// every rank from its state; the others need no checkpoint directory.
	// A rank whose Run returns an error the others do not share (its
	// data, say) leaves them waiting for it: end the job with
	// Transport.Abort, as resgo train does. Nil is a job of one.
	Transport dist.Transport
	// Overlap says when the gradients' all-reduces start in a job of
	// several processes (see Overlap); the zero value is OverlapAuto.
	Overlap Overlap
}

// EventSink records training curves; *tblog.Writer is one.
type EventSink interface {
	Scalars(step int64, values map[string]float64) error
	Histogram(tag string, step int64, values []float32) error
	Flush() error
}

// ErrInterrupted is returned when the context was cancelled; the state at
// that step has been saved.
var ErrInterrupted = errors.New("training interrupted")

// Result summarises a finished (or interrupted) run.
type Result struct {
	Step       int64
	Loss       float64
	Checkpoint string
	Trainer    *Trainer
}

// Run trains on train until the configured number of steps, resuming from
// the newest loadable checkpoint unless Fresh is set.
func Run(ctx context.Context, be backend.Backend, train *data.Set, o Options) (*Result, error) {
	h := o.Hyper
	tr := o.Transport
	if tr == nil {
		tr = dist.Single{}
	}
	lead := tr.Rank() == 0
	if o.Log == nil || !lead {
		o.Log = io.Discard
	}
	if o.Out == nil || !lead {
		o.Out = io.Discard
	}
	if !lead {
		o.Events, o.Progress, o.Validation = nil, nil, nil
	}
	if err := o.validate(train); err != nil {
		return nil, err
	}
	if h.BatchSize%tr.Size() != 0 {
		return nil, fmt.Errorf("batch size %d: not divisible by the job's %d processes (each trains on an equal share)", h.BatchSize, tr.Size())
	}
	foot, err := model.Measure(o.Model)
	if err != nil {
		return nil, err
	}
	if err := model.CheckMemory(o.Model, fmt.Sprintf("training at batch %d", h.BatchSize),
		foot.TrainingBytes(h.BatchSize, h.Momentum != 0)); err != nil {
		return nil, err
	}
	store := &checkpoint.Store{Dir: o.CheckpointDir, Prefix: o.Prefix, Keep: o.Keep}
	if lead {
		// One writer per directory: a second trainer would delete the
		// first one's temp files and overwrite its checkpoints.
		lock, err := store.Lock()
		if err != nil {
			return nil, err
		}
		defer lock.Unlock()
		if err := checkWritable(store.Dir, checkpointBytes(foot, h)); err != nil {
			return nil, err
		}
	}
	m, err := model.Build(be, o.Model)
	if err != nil {
		return nil, err
	}
	if lead {
		if err := prepareDir(store, o); err != nil {
			return nil, err
		}
	}
	m.Init(h.Seed)
	t := NewTrainer(be, m, h, train.N)
	if !o.Fresh && lead {
		if err := resume(t, store, o); err != nil {
			return nil, err
		}
	}
	if o.InitFrom != nil && t.Step == 0 && lead {
		fresh, err := t.initFrom(o.InitFrom)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(o.Log, "resgo: starting from the weights of %s", o.InitFrom.Path)
		if len(fresh) > 0 {
			fmt.Fprintf(o.Log, " with a new classifier (%s)", strings.Join(fresh, ", "))
		}
		fmt.Fprintln(o.Log)
	}
	if len(o.Freeze) > 0 {
		n, err := t.Freeze(o.Freeze, o.FreezeStats)
		if err != nil {
			return nil, err
		}
		stats := ""
		if o.FreezeStats {
			stats = ", and their batch norms' statistics"
		}
		fmt.Fprintf(o.Log, "resgo: training %d of %d parameter tensors (frozen: %s%s)\n", len(m.Params)-n, len(m.Params), strings.Join(o.Freeze, ", "), stats)
	}
	if tr.Size() > 1 {
		t.SetOverlap(o.Overlap)
		t.SetTransport(tr)
		if err := shareState(t, tr); err != nil {
			return nil, err
		}
		fmt.Fprintf(o.Log, "resgo: data parallel over %d processes, %d images of each batch of %d on each\n", tr.Size(), h.BatchSize/tr.Size(), h.BatchSize)
	}
	res := &Result{Step: t.Step, Trainer: t}
	if t.Step >= h.Steps {
		fmt.Fprintf(o.Log, "resgo: %s already holds step %d of %d; nothing to do (raise --steps to train on, or --fresh to start over)\n",
			o.CheckpointDir, t.Step, h.Steps)
		return res, nil
	}
	batcher := data.NewBatcher(train, h.BatchSize, h.Seed)
	batcher.Augment = o.Augment
	batcher.SeekBatch(t.Step)
	images := make([]float32, h.BatchSize*train.Pixels())
	labels := make([]int32, h.BatchSize)
	lastSaved := t.Step
	// The speed is timed from the end of this run's first step, so that
	// start-up (loading, first-touch allocation) does not count.
	var speed rateMeter
	correct, seen := 0, 0
	overlapTold := false
	save := func() error {
		if !lead {
			return nil
		}
		tensors, meta := t.Snapshot()
		if len(o.Freeze) > 0 {
			meta[metaFreeze] = freezeDescription(o)
		}
		for k, v := range o.Meta {
			if _, taken := meta[k]; !taken {
				meta[k] = v
			}
		}
		path, err := store.Save(t.Step, tensors, meta)
		if errors.Is(err, checkpoint.ErrNonFinite) {
			return fmt.Errorf("training diverged by step %d (%v); that step was not saved, and the newest checkpoint in %s, %s, is the last good one (lower --learning-rate)",
				t.Step, err, o.CheckpointDir, describeSaved(res.Checkpoint, lastSaved))
		}
		if err != nil {
			return fmt.Errorf("saving checkpoint at step %d: %w", t.Step, err)
		}
		lastSaved, res.Checkpoint = t.Step, path
		return nil
	}
	lo, hi := share(tr, h.BatchSize)
	for t.Step < h.Steps {
		stop := ctx.Err() != nil
		if tr.Size() > 1 {
			if stop, err = anyStops(tr, stop); err != nil {
				return res, fmt.Errorf("rank %d: step %d: %w", tr.Rank(), t.Step+1, err)
			}
		}
		if stop {
			if t.Step > lastSaved {
				if err := save(); err != nil {
					return res, err
				}
			}
			return res, ErrInterrupted
		}
		if err := batcher.Next(images, labels); err != nil {
			// A streamed file gone or changed since it was checked.
			if t.Step > lastSaved {
				if serr := save(); serr != nil {
					return res, serr
				}
			}
			return res, fmt.Errorf("reading the training images for step %d: %w", t.Step+1, err)
		}
		lr := t.LearningRate()
		loss := t.TrainStep(images[lo*train.Pixels():hi*train.Pixels()], labels[lo:hi])
		res.Step, res.Loss = t.Step, loss
		if !Finite(loss) {
			return res, fmt.Errorf("loss is %v at step %d: training diverged (lower --learning-rate); that step was not saved, and the newest checkpoint in %s, %s, is the last good one",
				loss, t.Step, o.CheckpointDir, describeSaved(res.Checkpoint, lastSaved))
		}
		speed.step(t.Step, h.BatchSize)
		if d := t.OverlapDecision(); d != "" && !overlapTold {
			fmt.Fprintf(o.Log, "resgo: %s\n", d)
			overlapTold = true
		}
		fmt.Fprintf(o.Out, "After %d training step(s), loss on training batch is %s.\n", t.Step, FormatLoss(loss))
		if o.Progress != nil {
			o.Progress(t.Step, loss)
		}
		correct, seen = correct+t.BatchCorrect, seen+len(labels)
		if err := logStep(o, t, loss, lr); err != nil {
			return res, err
		}
		if o.Validation != nil && o.EvalEvery > 0 && (t.Step%o.EvalEvery == 0 || t.Step == h.Steps) {
			if err := validate(ctx, o, t); err != nil {
				if serr := save(); serr != nil {
					return res, serr
				}
				return res, err
			}
		}
		saving := t.Step%o.SaveEvery == 0 || t.Step == h.Steps
		if saving {
			if err := save(); err != nil {
				return res, err
			}
		}
		// A speed and time-left line early on (a newcomer should not wait
		// a hundred steps to learn how long this takes), then at each
		// checkpoint.
		if !saving && speed.steps()+1 != earlySpeedSteps {
			continue
		}
		rate := speed.rate()
		line := fmt.Sprintf("resgo: step %d/%d, lr %.6g, %s, ETA %s", t.Step, h.Steps, lr, formatRate(rate), eta(h.Steps-t.Step, h.BatchSize, rate))
		if saving {
			line += "; saved " + res.Checkpoint
		}
		fmt.Fprintln(o.Log, line)
		if saving && o.Events != nil {
			scalars := map[string]float64{"train_accuracy": float64(correct) / float64(seen)}
			if rate > 0 {
				scalars["images_per_second"] = rate
			}
			correct, seen = 0, 0
			if err := o.Events.Scalars(t.Step, scalars); err != nil {
				return res, err
			}
			if err := o.Events.Flush(); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// earlySpeedSteps is the step of a run (counting from its first) that
// prints the first speed line.
const earlySpeedSteps = 10

// rateMeter times a run's steps from the end of its first one.
type rateMeter struct {
	start      time.Time
	first, now int64
	batch      int
}

func (r *rateMeter) step(step int64, batch int) {
	if r.start.IsZero() {
		r.start, r.first = time.Now(), step
	}
	r.now, r.batch = step, batch
}

// steps is how many steps have been timed.
func (r *rateMeter) steps() int64 { return r.now - r.first }

// rate is images per second over the timed steps; 0 before any.
func (r *rateMeter) rate() float64 {
	el := time.Since(r.start).Seconds()
	if r.steps() == 0 || el <= 0 {
		return 0
	}
	return float64(r.steps()*int64(r.batch)) / el
}

func formatRate(rate float64) string {
	if rate == 0 {
		return "speed not measured yet"
	}
	return fmt.Sprintf("%.1f images/s", rate)
}

func eta(steps int64, batch int, rate float64) string {
	if rate == 0 {
		return "unknown"
	}
	return time.Duration(float64(steps) * float64(batch) / rate * float64(time.Second)).Round(time.Second).String()
}

// describeSaved names the newest checkpoint: the last one this run wrote
// (path), else the one it resumed from (at step), else none.
func describeSaved(path string, step int64) string {
	switch {
	case path != "":
		return filepath.Base(path)
	case step > 0:
		return fmt.Sprintf("the one this run resumed from at step %d", step)
	}
	return "none yet (no checkpoint was written)"
}

// validate checks the options Run needs before it touches anything.
func (o Options) validate(train *data.Set) error {
	if err := o.Hyper.Validate(); err != nil {
		return err
	}
	switch {
	case train == nil || train.N == 0:
		return errors.New("train: no training examples")
	case o.Hyper.BatchSize > train.N:
		return fmt.Errorf("--batch-size %d: larger than the %d training examples", o.Hyper.BatchSize, train.N)
	case o.SaveEvery <= 0:
		return fmt.Errorf("--save-every %d: must be positive", o.SaveEvery)
	case o.EvalEvery < 0:
		return fmt.Errorf("--eval-every %d: must be 0 (never) or positive", o.EvalEvery)
	case o.Overlap < OverlapAuto || o.Overlap > OverlapOff:
		return fmt.Errorf("train: %v: not an overlap mode (auto, on or off)", o.Overlap)
	case o.HistogramEvery < 0:
		return fmt.Errorf("--histogram-every %d: must be 0 (never) or positive", o.HistogramEvery)
	case o.Augment.Pad < 0 || o.Augment.Pad > min(train.Rows, train.Cols):
		return fmt.Errorf("--augment crop=%d: the shift must be from 0 to the image's side", o.Augment.Pad)
	}
	c := o.Model
	if err := c.Normalize(); err != nil {
		return err
	}
	if shape := [3]int{max(1, train.Channels), train.Rows, train.Cols}; c.Input != shape {
		return fmt.Errorf("train: the model takes %dx%dx%d images, the data set holds %dx%dx%d", c.Input[0], c.Input[1], c.Input[2], shape[0], shape[1], shape[2])
	}
	for _, l := range train.Labels {
		if l < 0 || int(l) >= c.Classes {
			return fmt.Errorf("train: label %d, but the model has %d classes", l, c.Classes)
		}
	}
	return nil
}

// checkpointBytes is about the size of one checkpoint file: weights,
// running statistics, their moving averages and any momentum buffers.
func checkpointBytes(f model.Footprint, h Hyper) float64 {
	n := 2 * float64(f.State)
	if h.Momentum != 0 {
		n += float64(f.Params)
	}
	return 4*n + 64<<10 // and the header
}

// checkWritable finds out before the first step, not at the first save a
// hundred steps in, that checkpoints cannot be written to dir: it writes
// and removes a probe file, and compares the free space with one
// checkpoint's size (the new file is complete before an old one goes).
func checkWritable(dir string, need float64) error {
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, checkpoint.TempPrefix+"probe-")
	if err != nil {
		return fmt.Errorf("checkpoint directory %s is not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("checkpoint directory %s: %w", dir, err)
	}
	if free, ok := sysinfo.FreeDisk(dir); ok && float64(free) < need {
		return fmt.Errorf("checkpoint directory %s has %s free, and one checkpoint of this model takes %s: free some space or choose another --checkpoint-dir",
			dir, model.FormatBytes(float64(free)), model.FormatBytes(need))
	}
	return nil
}

// validate evaluates the current (raw) weights on the validation set.
func validate(ctx context.Context, o Options, t *Trainer) error {
	ev, err := EvaluateContext(ctx, t.Be, t.Model, o.Validation, t.Hyper.BatchSize, nil)
	if err != nil && ctx.Err() != nil {
		return nil // interrupted: the loop saves and stops
	}
	if err != nil {
		return fmt.Errorf("evaluating on the validation set at step %d: %w", t.Step, err) // a streamed file gone or damaged
	}
	fmt.Fprintf(o.Log, "resgo: step %d: validation accuracy %.4f\n", t.Step, ev.Accuracy())
	if o.Events == nil {
		return nil
	}
	if err := o.Events.Scalars(t.Step, map[string]float64{"validation_accuracy": ev.Accuracy()}); err != nil {
		return fmt.Errorf("writing the TensorBoard log: %w", err)
	}
	return nil
}

// logStep sends one step's curves (and, now and then, the weights'
// histograms) to the event sink.
func logStep(o Options, t *Trainer, loss, lr float64) error {
	if o.Events == nil {
		return nil
	}
	if err := o.Events.Scalars(t.Step, map[string]float64{"loss": loss, "learning_rate": lr}); err != nil {
		return fmt.Errorf("writing the TensorBoard log: %w", err)
	}
	if o.HistogramEvery <= 0 || t.Step%o.HistogramEvery != 0 {
		return nil
	}
	for _, p := range t.Model.Params {
		v := make([]float32, backend.Len(p.Shape))
		t.Be.Download(p.Value, v)
		if err := o.Events.Histogram(p.Name, t.Step, v); err != nil {
			return fmt.Errorf("writing the TensorBoard log: %w", err)
		}
	}
	return nil
}

// prepareDir clears temp files a killed process left and, for a fresh
// start, moves earlier checkpoints aside so they are neither resumed nor
// pruned.
func prepareDir(store *checkpoint.Store, o Options) error {
	if err := checkpoint.RemoveStaleTemps(store.Dir); err != nil {
		return err
	}
	if !o.Fresh {
		return nil
	}
	old, err := store.List()
	if err != nil || len(old) == 0 {
		return err
	}
	aside := filepath.Join(store.Dir, "previous-"+time.Now().UTC().Format("20060102-150405"))
	if err := os.MkdirAll(aside, 0o755); err != nil {
		return err
	}
	for _, e := range old {
		if err := os.Rename(e.Path, filepath.Join(aside, filepath.Base(e.Path))); err != nil {
			return fmt.Errorf("moving %s aside: %w", e.Path, err)
		}
	}
	_ = os.Rename(filepath.Join(store.Dir, checkpoint.IndexFile), filepath.Join(aside, checkpoint.IndexFile))
	fmt.Fprintf(o.Log, "resgo: --fresh: moved %d earlier checkpoint(s) to %s\n", len(old), aside)
	return nil
}

func resume(t *Trainer, store *checkpoint.Store, o Options) error {
	log := o.Log
	// A newest checkpoint whose configuration cannot be read is damaged
	// as much as one whose bytes are: fall back past it too.
	ck, skipped, err := store.LoadLatestValid(Readable)
	for _, s := range skipped {
		fmt.Fprintf(log, "resgo: warning: skipping unreadable checkpoint: %v\n", s)
	}
	if errors.Is(err, checkpoint.ErrNoCheckpoint) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := t.Restore(ck); err != nil {
		return fmt.Errorf("%w (use --fresh to start over, or another --checkpoint-dir)", err)
	}
	// The classes and preprocessing must be those it was trained with: a
	// renamed class folder, or images added, would change what the
	// weights mean.
	for _, k := range slices.Sorted(maps.Keys(o.Meta)) {
		if was, ok := ck.Meta[k]; ok && was != o.Meta[k] {
			return fmt.Errorf("%s was trained with %s %s; this run's data gives %s (use --fresh to start over, or another --checkpoint-dir)",
				ck.Path, k, was, o.Meta[k])
		}
	}
	// Unfreezing on resume is a choice (gradual unfreezing), but not one
	// to make by forgetting a flag.
	if was, now := ck.Meta[metaFreeze], freezeDescription(o); was != now {
		fmt.Fprintf(log, "resgo: warning: %s was trained with --freeze %q; continuing with %q\n", ck.Path, was, now)
	}
	if h, err := HyperOf(ck); err == nil && (h.LearningRate != t.Hyper.LearningRate || h.BatchSize != t.Hyper.BatchSize || h.Seed != t.Hyper.Seed) {
		fmt.Fprintf(log, "resgo: warning: %s was trained with learning rate %g, batch %d, seed %d; continuing with %g, %d, %d\n",
			ck.Path, h.LearningRate, h.BatchSize, h.Seed, t.Hyper.LearningRate, t.Hyper.BatchSize, t.Hyper.Seed)
	}
	fmt.Fprintf(log, "resgo: resuming from %s at step %d (learning rate %.6g)\n", ck.Path, t.Step, t.LearningRate())
	return nil
}

// metaFreeze records what a run froze, so that a resume can say when it
// differs.
const metaFreeze = "freeze"

// freezeDescription is --freeze (and --freeze-stats) as recorded.
func freezeDescription(o Options) string {
	d := strings.Join(o.Freeze, ",")
	if d != "" && o.FreezeStats {
		d += " (and statistics)"
	}
	return d
}

package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/checkpoint"
	"github.com/resgo/resgo/data"
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
	if o.Log == nil {
		o.Log = io.Discard
	}
	m, err := model.Build(be, o.Model)
	if err != nil {
		return nil, err
	}
	store := &checkpoint.Store{Dir: o.CheckpointDir, Prefix: o.Prefix, Keep: o.Keep}
	if err := prepareDir(store, o); err != nil {
		return nil, err
	}
	m.Init(h.Seed)
	t := NewTrainer(be, m, h, train.N)
	if !o.Fresh {
		if err := resume(t, store, o.Log); err != nil {
			return nil, err
		}
	}
	res := &Result{Step: t.Step, Trainer: t}
	if t.Step >= h.Steps {
		fmt.Fprintf(o.Log, "resgo: %s already holds step %d of %d; nothing to do (raise --steps to train on, or --fresh to start over)\n",
			o.CheckpointDir, t.Step, h.Steps)
		return res, nil
	}
	batcher := data.NewBatcher(train, h.BatchSize, h.Seed)
	batcher.SeekBatch(t.Step)
	images := make([]float32, h.BatchSize*train.Rows*train.Cols)
	labels := make([]int32, h.BatchSize)
	lastSaved, start, startStep := t.Step, time.Now(), t.Step
	correct, seen := 0, 0
	save := func() error {
		tensors, meta := t.Snapshot()
		path, err := store.Save(t.Step, tensors, meta)
		if err != nil {
			return fmt.Errorf("saving checkpoint at step %d: %w", t.Step, err)
		}
		lastSaved, res.Checkpoint = t.Step, path
		return nil
	}
	for t.Step < h.Steps {
		if ctx.Err() != nil {
			if t.Step > lastSaved {
				if err := save(); err != nil {
					return res, err
				}
			}
			return res, ErrInterrupted
		}
		batcher.Next(images, labels)
		loss := t.TrainStep(images, labels)
		res.Step, res.Loss = t.Step, loss
		if !Finite(loss) {
			return res, fmt.Errorf("loss is %v at step %d: training diverged (lower --learning-rate); the last good checkpoint is kept in %s",
				loss, t.Step, o.CheckpointDir)
		}
		fmt.Fprintf(o.Out, "After %d training step(s), loss on training batch is %s.\n", t.Step, FormatLoss(loss))
		if o.Progress != nil {
			o.Progress(t.Step, loss)
		}
		correct, seen = correct+t.BatchCorrect, seen+len(labels)
		if err := logStep(o, t, loss); err != nil {
			return res, err
		}
		if o.Validation != nil && o.EvalEvery > 0 && (t.Step%o.EvalEvery == 0 || t.Step == h.Steps) {
			if err := validate(o, t); err != nil {
				return res, err
			}
		}
		if t.Step%o.SaveEvery == 0 || t.Step == h.Steps {
			if err := save(); err != nil {
				return res, err
			}
			rate := float64((t.Step-startStep)*int64(h.BatchSize)) / time.Since(start).Seconds()
			eta := time.Duration(float64(h.Steps-t.Step) * float64(h.BatchSize) / rate * float64(time.Second))
			fmt.Fprintf(o.Log, "resgo: step %d/%d, lr %.6g, %.1f images/s, ETA %s; saved %s\n",
				t.Step, h.Steps, t.LearningRate(), rate, eta.Round(time.Second), res.Checkpoint)
			if o.Events != nil {
				scalars := map[string]float64{"images_per_second": rate, "train_accuracy": float64(correct) / float64(seen)}
				correct, seen = 0, 0
				if err := o.Events.Scalars(t.Step, scalars); err != nil {
					return res, err
				}
				if err := o.Events.Flush(); err != nil {
					return res, err
				}
			}
		}
	}
	return res, nil
}

// validate evaluates the current (raw) weights on the validation set.
func validate(o Options, t *Trainer) error {
	ev := Evaluate(t.Be, t.Model, o.Validation, t.Hyper.BatchSize)
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
func logStep(o Options, t *Trainer, loss float64) error {
	if o.Events == nil {
		return nil
	}
	// The rate the step used: Step has already advanced.
	lr := t.Schedule.At(t.Step - 1)
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
	if err := os.MkdirAll(store.Dir, 0o755); err != nil {
		return fmt.Errorf("checkpoint directory %s: %w", store.Dir, err)
	}
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

func resume(t *Trainer, store *checkpoint.Store, log io.Writer) error {
	ck, skipped, err := store.LoadLatestGood()
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
	if h, err := HyperOf(ck); err == nil && (h.LearningRate != t.Hyper.LearningRate || h.BatchSize != t.Hyper.BatchSize || h.Seed != t.Hyper.Seed) {
		fmt.Fprintf(log, "resgo: warning: %s was trained with learning rate %g, batch %d, seed %d; continuing with %g, %d, %d\n",
			ck.Path, h.LearningRate, h.BatchSize, h.Seed, t.Hyper.LearningRate, t.Hyper.BatchSize, t.Hyper.Seed)
	}
	fmt.Fprintf(log, "resgo: resuming from %s at step %d (learning rate %.6g)\n", ck.Path, t.Step, t.LearningRate())
	return nil
}

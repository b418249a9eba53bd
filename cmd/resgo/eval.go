package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/checkpoint"
	"github.com/resgo/resgo/data"
	"github.com/resgo/resgo/model"
	"github.com/resgo/resgo/quantize"
	"github.com/resgo/resgo/train"
)

func runEval(args []string) error {
	fs := newFlagSet("eval", "Evaluates a checkpoint (the newest in --checkpoint-dir unless --checkpoint names\n"+
		"one) on the validation and test sets, with the moving-average weights unless --raw.\n"+
		"--watch evaluates every new checkpoint as training writes it.")
	var (
		bf                    backendFlags
		df                    dataFlags
		ff                    folderFlags
		cf                    checkpointFlags
		ckPath                string
		batch                 int
		raw, watch, confusion bool
		interval              time.Duration
	)
	bf.register(fs)
	bf.inference = true
	df.register(fs)
	ff.registerEval(fs)
	cf.register(fs)
	fs.StringVar(&ckPath, "checkpoint", "", "a checkpoint file to evaluate instead of the newest")
	fs.BoolVar(&raw, "raw", false, "evaluate the raw weights instead of their moving averages")
	fs.BoolVar(&confusion, "confusion", true, "print the test set's confusion matrix")
	fs.IntVar(&batch, "batch-size", 500, "images per forward pass")
	fs.BoolVar(&watch, "watch", false, "keep evaluating each new checkpoint until interrupted")
	fs.DurationVar(&interval, "interval", 10*time.Second, "how often --watch looks for a new checkpoint")
	if err := parse(fs, args); err != nil {
		return err
	}
	fs.Visit(func(fl *flag.Flag) { ff.valFracSet = ff.valFracSet || fl.Name == "validation-fraction" })
	switch {
	case batch <= 0:
		return fmt.Errorf("--batch-size %d: must be positive", batch)
	case watch && interval <= 0:
		return fmt.Errorf("--interval %s: must be positive", interval)
	case watch && ckPath != "":
		return errors.New("--watch follows --checkpoint-dir; it cannot be combined with --checkpoint")
	case watch && ff.dir != "":
		return errors.New("--watch evaluates on MNIST; it cannot be combined with --data")
	case watch && bf.int8():
		return errors.New("--watch evaluates the checkpoints training writes, which have no int8 calibration: quantize one with resgo quantize and evaluate it with --checkpoint")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	store := &checkpoint.Store{Dir: cf.dir, Prefix: cf.prefix}
	// The checkpoint first: a missing or damaged one is reported before
	// MNIST is fetched and loaded.
	var ck *checkpoint.Checkpoint
	if !watch {
		var err error
		if ck, err = findCheckpoint(store, ckPath); err != nil {
			return err
		}
	}
	be, err := bf.open()
	if err != nil {
		return err
	}
	var ds *data.MNIST
	if ff.dir != "" {
		ds, err = ff.forCheckpoint(ctx, ck)
	} else {
		ds, err = df.load(ctx)
	}
	if err != nil {
		return err
	}
	if !watch {
		return evalOne(ctx, be, ds, ck, raw, confusion, batch, bf.int8())
	}
	seen := ""
	warned := map[string]bool{}
	logf("watching %s for new checkpoints every %s (Ctrl-C to stop)", cf.dir, interval)
	for {
		ck, skipped, err := store.LoadLatestValid(train.Readable)
		for _, s := range skipped {
			if !warned[s.Error()] {
				warned[s.Error()] = true
				logf("warning: skipping damaged checkpoint: %v", s)
			}
		}
		if err != nil && !errors.Is(err, checkpoint.ErrNoCheckpoint) {
			logf("%v", err)
		}
		if err == nil && ck.Path != seen {
			seen = ck.Path
			if err := evalOne(ctx, be, ds, ck, raw, false, batch, false); err != nil && !errors.Is(err, errInterrupted) {
				logf("%v", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

// findCheckpoint loads the named file, or the newest checkpoint of the
// store that loads (skipping damaged ones with a warning, as train does).
func findCheckpoint(store *checkpoint.Store, path string) (*checkpoint.Checkpoint, error) {
	if path != "" {
		ck, err := checkpoint.Load(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: checkpoint not found", path)
		}
		if err != nil {
			return nil, err
		}
		return ck, train.Readable(ck)
	}
	ck, skipped, err := store.LoadLatestValid(train.Readable)
	for _, s := range skipped {
		logf("warning: skipping damaged checkpoint: %v", s)
	}
	if errors.Is(err, checkpoint.ErrNoCheckpoint) {
		return nil, fmt.Errorf("%s: no checkpoint found (train first with %s train)", store.Dir, progName())
	}
	return ck, err
}

func evalOne(ctx context.Context, be backend.Backend, ds *data.MNIST, ck *checkpoint.Checkpoint, raw, confusion bool, batch int, int8 bool) error {
	path := ck.Path
	mc, err := train.ModelConfig(ck)
	if err != nil {
		return err
	}
	// MNIST, loaded for eval, has its training part; a folder read for a
	// checkpoint has none.
	if _, folder := ck.Meta[data.PreprocessingKey]; folder && ds.Train != nil {
		return fmt.Errorf("%s was trained on an image folder: evaluate it with --data DIR", path)
	}
	foot, err := model.Measure(mc)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := model.CheckMemory(mc, fmt.Sprintf("evaluating at batch %d", batch), foot.InferenceBytes(batch)); err != nil {
		return err
	}
	m, err := model.Build(be, mc)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := train.LoadWeights(be, m, ck, !raw); err != nil {
		return err
	}
	weights := quantize.WeightsName(raw) + " weights"
	if int8 {
		if err := quantize.FromCheckpoint(be, m.Net, ck, raw); err != nil {
			return err
		}
		weights += ", int8 convolutions"
	}
	// An image folder may lack a validation or a test part.
	var parts []*data.Set
	var names []string
	total := 0
	for i, set := range []*data.Set{ds.Validation, ds.Test} {
		if set != nil && set.N > 0 {
			parts, names, total = append(parts, set), append(names, []string{"validation", "test"}[i]), total+set.N
		}
	}
	if len(parts) == 0 {
		return errors.New("nothing to evaluate on: no validation or test images")
	}
	bar := newProgress("evaluating "+filepath.Base(path), 0, int64(total), 1)
	bar.noun = "image"
	var results []string
	var last train.Evaluation
	done := 0
	for i, set := range parts {
		ev, err := train.EvaluateContext(ctx, be, m, set, batch, func(n int) { bar.update(int64(done+n), "") })
		if err != nil && ctx.Err() == nil {
			bar.finish()
			return err // a streamed image gone or damaged: the error names it
		}
		if err != nil {
			break
		}
		done += set.N
		last = ev
		results = append(results, fmt.Sprintf("%s accuracy = %.4f", names[i], ev.Accuracy()))
	}
	if len(results) == len(parts) {
		fmt.Printf("After %d training step(s) (%s, %s): %s\n", ck.Step, filepath.Base(path), weights, strings.Join(results, ", "))
		if confusion {
			printConfusion(last, names[len(names)-1])
		}
		return nil
	}
	bar.finish()
	logf("interrupted; evaluation of %s abandoned", filepath.Base(path))
	return errInterrupted
}

func printConfusion(e train.Evaluation, set string) {
	var b strings.Builder
	fmt.Fprintf(&b, "\n%s%s confusion matrix (rows: true class, columns: predicted):\n     ", strings.ToUpper(set[:1]), set[1:])
	for j := range e.Confusion {
		fmt.Fprintf(&b, "%6d", j)
	}
	b.WriteString("  recall\n")
	for i, row := range e.Confusion {
		fmt.Fprintf(&b, "%4d ", i)
		total := 0
		for _, v := range row {
			fmt.Fprintf(&b, "%6d", v)
			total += v
		}
		recall := 0.0
		if total > 0 {
			recall = float64(row[i]) / float64(total)
		}
		fmt.Fprintf(&b, "  %.4f\n", recall)
	}
	fmt.Print(b.String())
}

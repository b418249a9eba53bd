package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/backend/native"
	"github.com/resgo/resgo/data"
	"github.com/resgo/resgo/train"
)

func runTrain(args []string) error {
	fs := newFlagSet("train", "Trains a model on MNIST, printing the loss of every step, saving a checkpoint\n"+
		"every --save-every steps and resuming from the newest checkpoint when one exists.\n"+
		"Ctrl-C saves a checkpoint and stops; run the same command again to continue.\n"+
		"--data DIR trains on your own images instead: DIR/train/<class>/*.png|jpg|... (see the README).")
	h := train.DefaultHyper()
	var mf modelFlags
	var (
		bf         backendFlags
		df         dataFlags
		ff         folderFlags
		cf         checkpointFlags
		saveEvery  int64
		keep       int
		trainLimit int
		fresh      bool
		logDir     string
		histEvery  int64
		evalEvery  int64
	)
	bf.register(fs)
	df.register(fs)
	ff.register(fs)
	cf.register(fs)
	mf.register(fs, true, false)
	registerHyper(fs, &h)
	fs.Int64Var(&evalEvery, "eval-every", 1000, "evaluate on the validation set every this many steps and at the end (0: never)")
	fs.IntVar(&trainLimit, "train-limit", 0, "train on only the first N training images (0: all), for quick trials")
	fs.Int64Var(&saveEvery, "save-every", 100, "save a checkpoint every this many steps")
	fs.IntVar(&keep, "keep", 5, "how many recent checkpoints to keep")
	fs.BoolVar(&fresh, "fresh", false, "start from new weights; earlier checkpoints are moved aside, not deleted")
	fs.StringVar(&logDir, "log-dir", "log", "TensorBoard log directory (empty: no log)")
	fs.Int64Var(&histEvery, "histogram-every", 500, "log weight histograms every this many steps (0: never)")
	if err := parse(fs, args); err != nil {
		return err
	}
	mc, err := mf.resolve()
	if err != nil && ff.dir == "" { // with --data, the data set sets the input shape
		return err
	}
	if err := checkHyper(h); err != nil {
		return err
	}
	augment, err := parseAugment(ff.augment)
	if err != nil {
		return err
	}
	switch {
	case evalEvery < 0:
		return fmt.Errorf("--eval-every %d: must be 0 (never) or positive", evalEvery)
	case saveEvery <= 0:
		return fmt.Errorf("--save-every %d: must be positive", saveEvery)
	case keep <= 0:
		return fmt.Errorf("--keep %d: must be positive", keep)
	case trainLimit < 0:
		return fmt.Errorf("--train-limit %d: must be 0 (all) or positive", trainLimit)
	case histEvery < 0:
		return fmt.Errorf("--histogram-every %d: must be 0 (never) or positive", histEvery)
	}
	// Ctrl-C is ours from here on: during the data's loading too, where
	// it would otherwise kill the process by signal.
	ctx, stop := interruptContext()
	defer stop()
	var be backend.Backend
	var ds *data.MNIST
	var meta map[string]string
	what := "MNIST images"
	if ff.dir == "" {
		if be, ds, err = loadTraining(ctx, &bf, &df, trainLimit, h.BatchSize); err != nil {
			return err
		}
	} else {
		if be, err = bf.open(); err != nil {
			return err
		}
		f, err := ff.load(ctx, h.Seed)
		if err != nil {
			return err
		}
		// The model takes the data set's images and classes.
		mf.config.Input = [3]int{f.Prep.Channels, f.Prep.Height, f.Prep.Width}
		mf.config.Classes = len(f.Classes)
		if mc, err = mf.resolve(); err != nil {
			return err
		}
		ds = &data.MNIST{Train: f.Train, Validation: f.Validation, Test: f.Test}
		if trainLimit > 0 && trainLimit < ds.Train.N {
			ds.Train = ds.Train.Subset(0, trainLimit)
		}
		labels, _ := json.Marshal(f.Classes)
		meta = map[string]string{data.LabelsKey: string(labels), data.PreprocessingKey: f.Prep.String()}
		if f.HeldOut {
			meta[validationFractionKey] = strconv.FormatFloat(ff.valFrac, 'g', -1, 64)
		}
		what = fmt.Sprintf("images of %d classes from %s", len(f.Classes), ff.dir)
	}
	kernel := ""
	if be.Name() == "native" {
		kernel = ", GEMM kernel " + native.KernelName()
	}
	logf("training %s on %d %s (backend %s, %d threads%s)", mc.Arch, ds.Train.N, what, be.Name(), be.Threads(), kernel)

	opts := train.Options{
		Hyper: h, Model: mc, Prefix: cf.prefix, CheckpointDir: cf.dir, SaveEvery: saveEvery, Keep: keep,
		Fresh: fresh, Out: os.Stdout, Log: os.Stderr, HistogramEvery: histEvery,
		Validation: ds.Validation, EvalEvery: evalEvery, Meta: meta, Augment: augment,
	}
	if logDir != "" {
		events := &eventLog{dir: logDir, model: mc, opened: func(path string) {
			logf("TensorBoard log: %s (tensorboard --logdir %s)", path, logDir)
		}}
		defer events.Close()
		opts.Events = events
	}
	start := time.Now()
	res, err := train.Run(ctx, be, ds.Train, opts)
	if errors.Is(err, train.ErrInterrupted) {
		if res.Checkpoint != "" {
			logf("interrupted at step %d; saved %s. Run the same command to resume.", res.Step, res.Checkpoint)
		} else {
			logf("interrupted at step %d. Run the same command to resume.", res.Step)
		}
		return errInterrupted
	}
	if err != nil {
		return err
	}
	if res.Checkpoint != "" {
		logf("finished step %d in %s; final checkpoint %s", res.Step, time.Since(start).Round(time.Second), res.Checkpoint)
		hint := progName() + " eval"
		if cf.dir != "MNIST_model" || cf.prefix != "mnist_model" {
			hint += fmt.Sprintf(" --checkpoint-dir %s --checkpoint-name %s", cf.dir, cf.prefix)
		}
		logf("evaluate it with: %s", hint)
	}
	return nil
}

// interruptContext is cancelled by Ctrl-C or SIGTERM, after which a second
// signal kills the process: checkpoints are written atomically, so that
// loses at most the current step.
func interruptContext() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	return ctx, stop
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/checkpoint"
	"github.com/resgo/resgo/data"
	"github.com/resgo/resgo/dist"
	"github.com/resgo/resgo/train"
)

func runTrain(args []string) (err error) {
	fs := newFlagSet("train", "Trains a model on MNIST, printing the loss of every step, saving a checkpoint\n"+
		"every --save-every steps and resuming from the newest checkpoint when one exists.\n"+
		"Ctrl-C saves a checkpoint and stops; run the same command again to continue.\n"+
		"--data DIR trains on your own images instead: DIR/train/<class>/*.png|jpg|... (see the README).")
	h := train.DefaultHyper()
	var mf modelFlags
	var (
		bf          backendFlags
		df          dataFlags
		ff          folderFlags
		cf          checkpointFlags
		saveEvery   int64
		keep        int
		trainLimit  int
		fresh       bool
		logDir      string
		histEvery   int64
		evalEvery   int64
		initFrom    string
		freeze      string
		freezeStats bool
		overlap     string
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
	fs.StringVar(&initFrom, "init-from", "", "start a new run from this checkpoint file's weights (its moving averages), e.g. one made by resgo import; its architecture is used unless given; a classifier for another number of classes starts fresh")
	fs.BoolVar(&freezeStats, "freeze-stats", false, "with --freeze: keep the running statistics of the frozen batch norms too (by default they follow the new data)")
	fs.StringVar(&freeze, "freeze", "", "parameters not to train: backbone (all but the classifier), or comma-separated name prefixes such as conv1,bn1,layer1,layer2")
	fs.StringVar(&overlap, "overlap", "auto", "under mpirun: when the gradients' all-reduces start: on (bucket by bucket during backward, as PyTorch's DDP), off (after backward: faster when computation takes every core) or auto (time both on the first steps, keep the faster); results are the same")
	if err := parse(fs, args); err != nil {
		return err
	}
	overlapMode, err := train.ParseOverlap(overlap)
	if err != nil {
		return fmt.Errorf("--%w", err)
	}
	var source *checkpoint.Checkpoint
	if initFrom != "" {
		if source, err = loadInitFrom(fs, initFrom, &mf, &ff); err != nil {
			return err
		}
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
	// Under mpirun, this process is one rank of a data-parallel job: rank
	// 0 alone speaks and writes; a rank that fails ends the whole job,
	// saying which and why (the others would wait for it forever).
	job, err := dist.Open()
	if err != nil {
		return err
	}
	logQuiet = job.Rank() != 0
	defer func() {
		if err != nil && job.Size() > 1 && !errors.Is(err, errInterrupted) {
			// MPI_Finalize would wait for the others, who wait for us.
			fmt.Fprintf(os.Stderr, "resgo train: rank %d of %d: %v\n", job.Rank(), job.Size(), err)
			job.Abort(1)
		}
		if cerr := job.Close(); err == nil {
			err = cerr
		}
	}()
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
		f, err := ff.loadWith(ctx, h.Seed, ff.mean, ff.std)
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
	logf("training %s on %d %s (%s)", mc.Arch, ds.Train.N, what, describeBackend(be))

	opts := train.Options{
		Hyper: h, Model: mc, Prefix: cf.prefix, CheckpointDir: cf.dir, SaveEvery: saveEvery, Keep: keep,
		Fresh: fresh, Out: os.Stdout, Log: os.Stderr, HistogramEvery: histEvery,
		Validation: ds.Validation, EvalEvery: evalEvery, Meta: meta, Augment: augment, InitFrom: source,
		Transport: job, Overlap: overlapMode,
	}
	if freeze != "" {
		opts.Freeze, opts.FreezeStats = strings.Split(freeze, ","), freezeStats
	} else if freezeStats {
		return errors.New("--freeze-stats goes with --freeze (which layers)")
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

// loadInitFrom reads --init-from's checkpoint and takes from it what the
// user did not set: the architecture and its options, and for an image
// folder the size and normalisation its weights were trained with.
func loadInitFrom(fs *flag.FlagSet, path string, mf *modelFlags, ff *folderFlags) (*checkpoint.Checkpoint, error) {
	ck, err := checkpoint.Load(path)
	if err != nil {
		return nil, fmt.Errorf("--init-from: %w", err)
	}
	src, err := train.ModelConfig(ck)
	if err != nil {
		return nil, fmt.Errorf("--init-from: %w", err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["arch"] {
		mf.config.Arch = src.Arch
	}
	if !set["base-depth"] {
		mf.config.BaseDepth = src.BaseDepth
	}
	if !set["shortcut"] {
		mf.config.Shortcut = src.Shortcut
	}
	if !set["stem"] {
		mf.config.Stem = src.Stem
	}
	if !set["bottleneck-stride"] {
		mf.config.BottleneckStride = src.BottleneckStride
	}
	if s, ok := ck.Meta[data.PreprocessingKey]; ok && ff.dir != "" {
		p, err := data.ParsePreprocessing(s)
		if err != nil {
			return nil, fmt.Errorf("--init-from %s: %w", path, err)
		}
		if !set["image-size"] {
			ff.size, ff.resizeShorter = fmt.Sprintf("%dx%d", p.Height, p.Width), p.ResizeShorter
		}
		if !set["channels"] {
			ff.channels = p.Channels
		}
		if ff.channels == p.Channels {
			ff.mean, ff.std = p.Mean, p.Std
		}
	}
	return ck, nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/charts"
	"github.com/resgo/resgo/checkpoint"
	"github.com/resgo/resgo/data"
	"github.com/resgo/resgo/internal/atomicfile"
	"github.com/resgo/resgo/model"
	"github.com/resgo/resgo/tblog"
	"github.com/resgo/resgo/train"
)

// compareResult is one row of the comparison table.
type compareResult struct {
	arch                    string
	params                  int64
	step                    int64
	trainErr, valErr        float64
	testErr, testErrAverage float64
	imagesPerSecond         float64
}

func runCompare(args []string) error {
	fs := newFlagSet("compare", "Trains several models on MNIST with the same data, steps and optimiser, then draws\n"+
		"their training (thin) and validation (bold) error curves, as in He et al.'s Figure 4,\n"+
		"into <out-dir>/compare.png and compare.svg, with a table in compare.md. Each model's\n"+
		"checkpoints and TensorBoard log are kept in <out-dir>/<arch>; running the same command\n"+
		"again resumes unfinished models and redraws.")
	h := train.DefaultHyper()
	h.Steps, h.LearningRate, h.Momentum, h.DecayRate = 1650, 0.05, 0.9, 0.3
	var (
		bf        backendFlags
		df        dataFlags
		mf        modelFlags
		archs     string
		outDir    string
		evalEvery int64
		limit     int
	)
	bf.register(fs)
	df.register(fs)
	mf.register(fs, false, false)
	mf.config.BaseDepth = 32
	fs.Lookup("base-depth").DefValue = "32"
	registerHyper(fs, &h)
	fs.StringVar(&archs, "archs", "plain18,plain34,resnet18,resnet34", "comma-separated architectures to compare")
	fs.StringVar(&outDir, "out-dir", "compare", "directory for the models, logs, chart and table")
	fs.Int64Var(&evalEvery, "eval-every", 100, "validation (and training-error window) every this many steps")
	fs.IntVar(&limit, "train-limit", 0, "train on only the first N training images (0: all), for quick trials")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkHyper(h); err != nil {
		return err
	}
	if evalEvery <= 0 {
		return fmt.Errorf("--eval-every %d: must be positive", evalEvery)
	}
	if limit < 0 {
		return fmt.Errorf("--train-limit %d: must be 0 (all) or positive", limit)
	}
	var configs []model.Config
	for _, a := range strings.Split(archs, ",") {
		c := mf.config
		c.Arch = strings.TrimSpace(a)
		c.Input, c.Classes = [3]int{1, 28, 28}, 10
		// --shortcut and --stem apply to the architectures that have them.
		shortcut, stem := model.ArchOptions(c.Arch)
		if !shortcut {
			c.Shortcut = ""
		}
		if !stem {
			c.Stem = ""
		}
		if err := c.Normalize(); err != nil {
			return fmt.Errorf("--archs: %v", err)
		}
		configs = append(configs, c)
	}
	ctx, stop := interruptContext()
	defer stop()
	be, ds, err := loadTraining(ctx, &bf, &df, limit, h.BatchSize)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	var results []compareResult
	var runs []charts.Run
	for _, c := range configs {
		dir := filepath.Join(outDir, c.Arch)
		r, err := compareOne(ctx, be, ds, c, h, dir, evalEvery)
		if errors.Is(err, train.ErrInterrupted) {
			logf("interrupted; run the same command to resume")
			return errInterrupted
		}
		if err != nil {
			return fmt.Errorf("%s: %w", c.Arch, err)
		}
		results = append(results, r)
		run, err := curves(c.Arch, filepath.Join(dir, "log"))
		if err != nil {
			return err
		}
		runs = append(runs, run)
	}
	title := fmt.Sprintf("MNIST: %d steps of %d images, width %d", h.Steps, h.BatchSize, mf.config.BaseDepth)
	png, svg := filepath.Join(outDir, "compare.png"), filepath.Join(outDir, "compare.svg")
	if err := charts.ErrorCurves(runs, charts.Options{Title: title, XLabel: "iterations"}, png, svg); err != nil {
		return err
	}
	table := compareTable(results, h, be)
	fmt.Print(table)
	if err := atomicfile.Write(outDir, "compare.md", ".compare.md.tmp-", func(w io.Writer) error {
		_, err := io.WriteString(w, table)
		return err
	}); err != nil {
		return err
	}
	logf("wrote %s, %s and %s", png, svg, filepath.Join(outDir, "compare.md"))
	return nil
}

// compareOne trains (or resumes) one model and measures it on the test set.
func compareOne(ctx context.Context, be backend.Backend, ds *data.MNIST, c model.Config, h train.Hyper, dir string, evalEvery int64) (compareResult, error) {
	res := compareResult{arch: c.Arch}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, err
	}
	w := &eventLog{dir: filepath.Join(dir, "log"), model: c}
	defer w.Close()
	logFile, err := os.OpenFile(filepath.Join(dir, "train.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return res, err
	}
	defer logFile.Close()
	bar := newProgress(c.Arch, 0, h.Steps, h.BatchSize)
	opts := train.Options{Hyper: h, Model: c, Prefix: "model", CheckpointDir: filepath.Join(dir, "checkpoints"),
		SaveEvery: evalEvery, Keep: 2, Out: io.Discard, Log: logFile, Events: w,
		Validation: ds.Validation, EvalEvery: evalEvery,
		Progress: func(step int64, loss float64) { bar.update(step, fmt.Sprintf(", loss %.4f", loss)) }}
	out, err := train.Run(ctx, be, ds.Train, opts)
	if err != nil {
		bar.finish()
		return res, err
	}
	m := out.Trainer.Model
	res.params, res.step = m.NumParams(), out.Step
	res.testErr = 1 - train.Evaluate(be, m, ds.Test, 500).Accuracy()
	// The moving averages, from the final checkpoint.
	store := &checkpoint.Store{Dir: opts.CheckpointDir, Prefix: opts.Prefix}
	ck, _, err := store.LoadLatestGood()
	if err != nil {
		return res, err
	}
	avg, err := model.Build(be, c)
	if err != nil {
		return res, err
	}
	if err := train.LoadWeights(be, avg, ck, true); err != nil {
		return res, err
	}
	res.testErrAverage = 1 - train.Evaluate(be, avg, ds.Test, 500).Accuracy()
	scalars, err := tblog.ReadScalars(filepath.Join(dir, "log"))
	if err != nil {
		return res, err
	}
	res.trainErr = 1 - last(scalars["train_accuracy"])
	res.valErr = 1 - last(scalars["validation_accuracy"])
	var sum float64
	for _, p := range scalars["images_per_second"] {
		sum += p.Value
	}
	if n := len(scalars["images_per_second"]); n > 0 {
		res.imagesPerSecond = sum / float64(n)
	}
	logf("%s: test error %.2f%% (moving average %.2f%%), validation %.2f%%", c.Arch, 100*res.testErr, 100*res.testErrAverage, 100*res.valErr)
	return res, nil
}

func last(ps []tblog.Point) float64 {
	if len(ps) == 0 {
		return 0
	}
	return ps[len(ps)-1].Value
}

// curves reads a run's error curves from its TensorBoard log.
func curves(name, logDir string) (charts.Run, error) {
	s, err := tblog.ReadScalars(logDir)
	if err != nil {
		return charts.Run{}, err
	}
	run := charts.Run{Name: name}
	for _, p := range s["train_accuracy"] {
		run.Train = append(run.Train, charts.Point{X: float64(p.Step), Y: 1 - p.Value})
	}
	for _, p := range s["validation_accuracy"] {
		run.Validate = append(run.Validate, charts.Point{X: float64(p.Step), Y: 1 - p.Value})
	}
	return run, nil
}

func compareTable(rs []compareResult, h train.Hyper, be backend.Backend) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| model | parameters | steps | training error | validation error | test error | test error (moving average) | images/s |\n")
	fmt.Fprintf(&b, "|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %s | %d | %.2f%% | %.2f%% | %.2f%% | %.2f%% | %.0f |\n", r.arch, model.FormatCount(r.params), r.step,
			100*r.trainErr, 100*r.valErr, 100*r.testErr, 100*r.testErrAverage, r.imagesPerSecond)
	}
	fmt.Fprintf(&b, "\nBatch %d, learning rate %g (x%g per epoch), momentum %g, L2 %g; backend %s, %d threads.\n",
		h.BatchSize, h.LearningRate, h.DecayRate, h.Momentum, h.L2, be.Name(), be.Threads())
	return b.String()
}

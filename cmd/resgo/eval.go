package main

import (
	"context"
	"errors"
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
	"github.com/resgo/resgo/train"
)

func runEval(args []string) error {
	fs := newFlagSet("eval", "Evaluates a checkpoint (the newest in --checkpoint-dir unless --checkpoint names\n"+
		"one) on the validation and test sets, with the moving-average weights unless --raw.\n"+
		"--watch evaluates every new checkpoint as training writes it.")
	var (
		bf                    backendFlags
		df                    dataFlags
		cf                    checkpointFlags
		ckPath                string
		batch                 int
		raw, watch, confusion bool
		interval              time.Duration
	)
	bf.register(fs)
	df.register(fs)
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
	if batch <= 0 {
		return fmt.Errorf("--batch-size %d: must be positive", batch)
	}
	be, err := bf.open()
	if err != nil {
		return err
	}
	ds, err := df.load()
	if err != nil {
		return err
	}
	store := &checkpoint.Store{Dir: cf.dir, Prefix: cf.prefix}
	if !watch {
		path := ckPath
		if path == "" {
			e, ok, err := store.Latest()
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("%s: no checkpoint found (train first with resgo train)", cf.dir)
			}
			path = e.Path
		}
		return evalOne(be, ds, path, raw, confusion, batch)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	seen := ""
	logf("watching %s for new checkpoints every %s (Ctrl-C to stop)", cf.dir, interval)
	for {
		e, ok, err := store.Latest()
		if err != nil {
			return err
		}
		if ok && e.Path != seen {
			seen = e.Path
			if err := evalOne(be, ds, e.Path, raw, false, batch); err != nil {
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

func evalOne(be backend.Backend, ds *data.MNIST, path string, raw, confusion bool, batch int) error {
	ck, err := checkpoint.Load(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s: checkpoint not found", path)
		}
		return err
	}
	mc, err := train.ModelConfig(ck)
	if err != nil {
		return err
	}
	m, err := model.Build(be, mc)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := train.LoadWeights(be, m, ck, !raw); err != nil {
		return err
	}
	weights := "moving-average"
	if raw {
		weights = "raw"
	}
	total := ds.Validation.N + ds.Test.N
	bar := newProgress("evaluating "+filepath.Base(path), 0, int64(total), 1)
	bar.noun = "image"
	val := train.EvaluateWithProgress(be, m, ds.Validation, batch, func(done int) { bar.update(int64(done), "") })
	test := train.EvaluateWithProgress(be, m, ds.Test, batch, func(done int) { bar.update(int64(ds.Validation.N+done), "") })
	fmt.Printf("After %d training step(s) (%s, %s weights): validation accuracy = %.4f, test accuracy = %.4f\n",
		ck.Step, filepath.Base(path), weights, val.Accuracy(), test.Accuracy())
	if confusion {
		printConfusion(test)
	}
	return nil
}

func printConfusion(e train.Evaluation) {
	var b strings.Builder
	b.WriteString("\nTest confusion matrix (rows: true digit, columns: predicted):\n     ")
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

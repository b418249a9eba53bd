package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/backend/native"
	"github.com/resgo/resgo/checkpoint"
	"github.com/resgo/resgo/data"
	"github.com/resgo/resgo/model"
	"github.com/resgo/resgo/quantize"
	"github.com/resgo/resgo/train"
)

func runQuantize(args []string) error {
	fs := newFlagSet("quantize", "Makes an int8 copy of a checkpoint (the newest in --checkpoint-dir unless --checkpoint names one):\n"+
		"passes --images training images through the float32 model, chooses for every convolution's input the\n"+
		"byte range that minimises the squared error (on a histogram of its values), and writes the ranges as\n"+
		"a section of a copy of the checkpoint (--output; default NAME.int8.safetensors beside it). Batch norms\n"+
		"are folded into their convolutions when the copy is run. Run the copy with --precision int8 on eval,\n"+
		"predict, serve. See docs/precision.md")
	var (
		bf            backendFlags
		df            dataFlags
		ff            folderFlags
		cf            checkpointFlags
		ckPath, out   string
		images, batch int
		raw           bool
	)
	bf.register(fs)
	df.register(fs)
	ff.registerEval(fs)
	cf.register(fs)
	fs.StringVar(&ckPath, "checkpoint", "", "the checkpoint file to quantize instead of the newest")
	fs.StringVar(&out, "output", "", "the int8 checkpoint to write (default: the checkpoint's name with .int8.safetensors)")
	fs.IntVar(&images, "images", 500, "how many training images to calibrate on (spread evenly over the training set)")
	fs.IntVar(&batch, "batch-size", 100, "images per forward pass")
	fs.BoolVar(&raw, "raw", false, "calibrate (and later run) the raw weights instead of their moving averages")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case images < 1:
		return fmt.Errorf("--images %d: must be positive", images)
	case batch < 1:
		return fmt.Errorf("--batch-size %d: must be positive", batch)
	case bf.precision != string(native.F32):
		return fmt.Errorf("--precision %s: calibration runs the model in f32", bf.precision)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ck, err := findCheckpoint(&checkpoint.Store{Dir: cf.dir, Prefix: cf.prefix}, ckPath)
	if err != nil {
		return err
	}
	if out == "" {
		out = int8Name(ck.Path)
	}
	if sameFile(out, ck.Path) {
		return fmt.Errorf("--output %s: that is the checkpoint being quantized", out)
	}
	mc, err := train.ModelConfig(ck)
	if err != nil {
		return err
	}
	be, err := bf.open()
	if err != nil {
		return err
	}
	var set *data.Set
	if _, folder := ck.Meta[data.PreprocessingKey]; folder {
		if ff.dir == "" {
			return fmt.Errorf("%s was trained on an image folder: give it with --data DIR to calibrate on its training images", ck.Path)
		}
		f, err := ff.folderFor(ctx, ck)
		if err != nil {
			return err
		}
		set = f.Train
	} else {
		if ff.dir != "" {
			return fmt.Errorf("%s was trained on MNIST: calibrate it without --data", ck.Path)
		}
		ds, err := df.load(ctx)
		if err != nil {
			return err
		}
		set = ds.Train
	}
	if set == nil || set.N == 0 {
		return errors.New("no training images to calibrate on")
	}
	m, err := model.Build(be, mc)
	if err != nil {
		return fmt.Errorf("%s: %w", ck.Path, err)
	}
	if err := train.LoadWeights(be, m, ck, !raw); err != nil {
		return err
	}
	m.SetTraining(false)
	n := min(images, set.N)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i * set.N / n
	}
	logf("calibrating %s on %d training images (%s)", filepath.Base(ck.Path), n, describeBackend(be))
	bar := newProgress("calibrating", 0, int64(2*n), 1)
	bar.noun = "image"
	done := 0
	per := set.Pixels()
	buf := make([]float32, batch*per)
	var x backend.Tensor
	run := func() error {
		for lo := 0; lo < n; lo += batch {
			if err := ctx.Err(); err != nil {
				return errInterrupted
			}
			k := min(batch, n-lo)
			if err := set.ReadImages(idx[lo:lo+k], buf[:k*per]); err != nil {
				return err
			}
			if x == nil || x.Shape()[0] != k {
				x = be.New(k, mc.Input[0], mc.Input[1], mc.Input[2])
			}
			be.Upload(x, buf[:k*per])
			m.Forward(x)
			done += k
			bar.update(int64(done), "")
		}
		return nil
	}
	stats, err := quantize.Calibrate(be, m.Net, run)
	bar.finish()
	if err != nil {
		return err
	}
	printCalibration(stats)
	section, meta, err := quantize.Section(stats, quantize.Info{Method: quantize.Method, Bins: quantize.Bins, Images: n,
		Weights: quantize.WeightsName(raw), From: filepath.Base(ck.Path)})
	if err != nil {
		return err
	}
	tensors := map[string]checkpoint.Tensor{}
	for name, t := range ck.Tensors {
		if !strings.HasPrefix(name, "int8/") { // an earlier calibration's
			tensors[name] = t
		}
	}
	maps.Copy(tensors, section)
	allMeta := maps.Clone(ck.Meta)
	maps.Copy(allMeta, meta)
	if err := checkpoint.SaveFile(out, ck.Step, tensors, allMeta); err != nil {
		return err
	}
	fmt.Printf("wrote %s\nrun it with --precision int8, e.g.: %s eval --checkpoint %s --precision int8\n", out, progName(), out)
	return nil
}

// int8Name is the default name of checkpoint path's int8 copy: beside
// it, NAME.int8.safetensors (a store does not take it for one of its
// own).
func int8Name(path string) string {
	base := strings.TrimSuffix(strings.TrimSuffix(path, ".safetensors"), ".int8")
	return base + ".int8.safetensors"
}

// printCalibration prints each convolution input's range, the clip range
// chosen and what it is predicted to cost.
func printCalibration(stats []quantize.InputStats) {
	w := 0
	for _, s := range stats {
		w = max(w, len(s.Conv))
	}
	fmt.Printf("%-*s %23s %23s %7s %5s %9s\n", w, "convolution input", "seen", "clipped to", "zeros", "zero", "SQNR (dB)")
	for _, s := range stats {
		fmt.Printf("%-*s %11.4g..%-10.4g %11.4g..%-10.4g %6.1f%% %5d %9.1f\n", w, s.Conv, s.Min, s.Max, s.Lo, s.Hi, 100*s.Zeros, s.Quant.Zero, s.SQNR)
	}
}

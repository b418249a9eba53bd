package main

import (
	"flag"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/resgo/resgo/model"
	"github.com/resgo/resgo/train"
)

// FuzzNumericFlags feeds arbitrary text to the numeric flags of train (and
// summary's --input): parsing and the checks after it must either refuse
// the value in an error or accept a configuration that is finite, in
// range, and whose model can be measured without overflow.
func FuzzNumericFlags(f *testing.F) {
	f.Add("0.03", "0.99", "0", "0.99", "100", "8000", "64", "1x28x28", "10")
	f.Add("nan", "inf", "-0", "1e308", "0", "-1", "4611686018427387904", "3x224x224", "1000")
	f.Add("0x1p-2", "1", "0.9", "0.5", "65536", "1", "1024", "64x4096x4096", "1048576")
	f.Fuzz(func(t *testing.T, lr, decay, momentum, ema, batch, steps, depth, input, classes string) {
		fs := flag.NewFlagSet("train", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		h := train.DefaultHyper()
		registerHyper(fs, &h)
		var mf modelFlags
		mf.register(fs, true, true)
		args := []string{"--learning-rate", lr, "--decay-rate", decay, "--momentum", momentum, "--ema-decay", ema,
			"--batch-size", batch, "--steps", steps, "--base-depth", depth, "--input", input, "--classes", classes}
		if fs.Parse(args) != nil {
			return
		}
		if checkHyper(h) == nil {
			for _, v := range []float64{h.LearningRate, h.DecayRate, h.Momentum, h.EMADecay, h.L2} {
				if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
					t.Fatalf("accepted %+v", h)
				}
			}
			if h.BatchSize < 1 || h.BatchSize > train.MaxBatchSize || h.Steps < 1 {
				t.Fatalf("accepted %+v", h)
			}
		}
		mc, err := mf.resolve()
		if err != nil {
			return
		}
		// The architecture may still refuse the shape (seed-resnet34 wants
		// even sizes): an error, not a panic or an overflow.
		foot, err := model.Measure(mc)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "model: ") {
				t.Fatalf("%+v: %v", mc, err)
			}
			return
		}
		if foot.Params <= 0 || foot.State < foot.Params || foot.Activations <= 0 {
			t.Fatalf("%+v: footprint %+v", mc, foot)
		}
		if b := foot.TrainingBytes(100, true); math.IsNaN(b) || b <= 0 {
			t.Fatalf("%+v: training bytes %v", mc, b)
		}
	})
}

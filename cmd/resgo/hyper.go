package main

import (
	"errors"
	"flag"
	"math"
	"strconv"

	"github.com/resgo/resgo/train"
)

// registerHyper adds the optimisation flags, with h's values as defaults.
func registerHyper(fs *flag.FlagSet, h *train.Hyper) {
	fs.IntVar(&h.BatchSize, "batch-size", h.BatchSize, "examples per step")
	fs.Int64Var(&h.Steps, "steps", h.Steps, "train until this global step")
	finiteFloatVar(fs, &h.LearningRate, "learning-rate", h.LearningRate, "base learning `rate`")
	finiteFloatVar(fs, &h.DecayRate, "decay-rate", h.DecayRate, "learning-rate decay `factor` per period")
	fs.Int64Var(&h.DecaySteps, "decay-steps", h.DecaySteps, "learning-rate decay period in steps (0: one epoch)")
	fs.BoolVar(&h.Staircase, "staircase", h.Staircase, "decay in whole periods (false: continuously)")
	finiteFloatVar(fs, &h.L2, "l2", h.L2, "L2 regularisation `rate` on the weights (seed-resnet34: the final fully connected weight only)")
	finiteFloatVar(fs, &h.Momentum, "momentum", h.Momentum, "SGD `momentum` (0: plain SGD, the tutorial's)")
	finiteFloatVar(fs, &h.EMADecay, "ema-decay", h.EMADecay, "moving-average `decay` of the weights")
	fs.Uint64Var(&h.Seed, "seed", h.Seed, "seed for the initial weights and the data order")
}

// checkHyper rejects values no training can use (the library checks
// again: the command line is one caller among others).
func checkHyper(h train.Hyper) error { return h.Validate() }

// finiteFloat is a float64 flag that refuses NaN and infinities when it is
// parsed: strconv accepts "nan" and "inf", and every later range check
// would let NaN through.
type finiteFloat struct{ p *float64 }

func (f finiteFloat) String() string {
	if f.p == nil {
		return "0"
	}
	return strconv.FormatFloat(*f.p, 'g', -1, 64)
}

func (f finiteFloat) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return errors.New("not a number")
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return errors.New("not a finite number")
	}
	*f.p = v
	return nil
}

func finiteFloatVar(fs *flag.FlagSet, p *float64, name string, value float64, usage string) {
	*p = value
	fs.Var(finiteFloat{p}, name, usage)
}

package main

import (
	"flag"
	"fmt"

	"github.com/resgo/resgo/train"
)

// registerHyper adds the optimisation flags, with h's values as defaults.
func registerHyper(fs *flag.FlagSet, h *train.Hyper) {
	fs.IntVar(&h.BatchSize, "batch-size", h.BatchSize, "examples per step")
	fs.Int64Var(&h.Steps, "steps", h.Steps, "train until this global step")
	fs.Float64Var(&h.LearningRate, "learning-rate", h.LearningRate, "base learning rate")
	fs.Float64Var(&h.DecayRate, "decay-rate", h.DecayRate, "learning-rate decay factor per period")
	fs.Int64Var(&h.DecaySteps, "decay-steps", h.DecaySteps, "learning-rate decay period in steps (0: one epoch)")
	fs.BoolVar(&h.Staircase, "staircase", h.Staircase, "decay in whole periods (false: continuously)")
	fs.Float64Var(&h.L2, "l2", h.L2, "L2 regularisation rate on the weights (seed-resnet34: the final fully connected weight only)")
	fs.Float64Var(&h.Momentum, "momentum", h.Momentum, "SGD momentum (0: plain SGD, the tutorial's)")
	fs.Float64Var(&h.EMADecay, "ema-decay", h.EMADecay, "moving-average decay of the weights")
	fs.Uint64Var(&h.Seed, "seed", h.Seed, "seed for the initial weights and the data order")
}

// checkHyper rejects values no training can use.
func checkHyper(h train.Hyper) error {
	switch {
	case h.BatchSize <= 0:
		return fmt.Errorf("--batch-size %d: must be positive", h.BatchSize)
	case h.Steps <= 0:
		return fmt.Errorf("--steps %d: must be positive", h.Steps)
	case h.LearningRate <= 0:
		return fmt.Errorf("--learning-rate %g: must be positive", h.LearningRate)
	case h.DecayRate <= 0 || h.DecayRate > 1:
		return fmt.Errorf("--decay-rate %g: must be in (0, 1]", h.DecayRate)
	case h.DecaySteps < 0:
		return fmt.Errorf("--decay-steps %d: must be 0 (one epoch) or positive", h.DecaySteps)
	case h.L2 < 0:
		return fmt.Errorf("--l2 %g: must not be negative", h.L2)
	case h.EMADecay < 0 || h.EMADecay >= 1:
		return fmt.Errorf("--ema-decay %g: must be in [0, 1)", h.EMADecay)
	case h.Momentum < 0 || h.Momentum >= 1:
		return fmt.Errorf("--momentum %g: must be in [0, 1)", h.Momentum)
	}
	return nil
}

package main

import (
	"fmt"
	"os"

	"github.com/resgo/resgo/model"
)

func runSummary(args []string) error {
	fs := newFlagSet("summary", "Prints a model's layers with their output shapes, parameter counts and\nmultiply-adds per image, e.g. resgo summary --arch resnet50 --input 3x224x224 --classes 1000.")
	var mf modelFlags
	mf.register(fs, true, true)
	if err := parse(fs, args); err != nil {
		return err
	}
	mc, err := mf.resolve()
	if err != nil {
		return err
	}
	m, err := model.Describe(mc)
	if err != nil {
		return err
	}
	fmt.Printf("%s, input %dx%dx%d, %d classes", mc.Arch, mc.Input[0], mc.Input[1], mc.Input[2], mc.Classes)
	if mc.Shortcut != "" {
		fmt.Printf(", shortcut %s", mc.Shortcut)
	}
	if model.HasBottlenecks(mc.Arch) {
		if mc.BottleneckStride == model.BottleneckStride3x3 {
			fmt.Printf(", bottleneck stride on the 3x3 (torchvision's \"v1.5\")")
		} else {
			fmt.Printf(", bottleneck stride on the first 1x1 (the paper's)")
		}
	}
	if mc.Stem != "" {
		fmt.Printf(", %s stem", mc.Stem)
	}
	fmt.Printf("\n\n")
	m.Summary(os.Stdout)
	f, err := model.Measure(mc)
	if err != nil {
		return err
	}
	fmt.Printf("\nmemory (estimates): weights %s; training at batch 100 about %s; inference at batch 100 about %s\n",
		model.FormatBytes(4*float64(f.State)), model.FormatBytes(f.TrainingBytes(100, false)), model.FormatBytes(f.InferenceBytes(100)))
	return nil
}

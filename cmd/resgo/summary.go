package main

import (
	"fmt"
	"os"

	"github.com/resgo/resgo/backend/native"
	"github.com/resgo/resgo/model"
)

func runSummary(args []string) error {
	fs := newFlagSet("summary", "Prints a model's layers with their output shapes, parameter counts and\nmultiply-adds per image.")
	mc := model.DefaultConfig()
	fs.StringVar(&mc.Arch, "arch", mc.Arch, "model architecture")
	fs.IntVar(&mc.BaseDepth, "base-depth", mc.BaseDepth, "channels of the first stage")
	fs.IntVar(&mc.Classes, "classes", mc.Classes, "number of classes")
	if err := parse(fs, args); err != nil {
		return err
	}
	m, err := model.Build(native.New(1), mc)
	if err != nil {
		return err
	}
	fmt.Printf("%s, input %dx%dx%d, %d classes\n\n", mc.Arch, mc.Input[0], mc.Input[1], mc.Input[2], mc.Classes)
	m.Summary(os.Stdout)
	return nil
}

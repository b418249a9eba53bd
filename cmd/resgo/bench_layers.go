package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/model"
)

// printLayerTimes times each top-level layer of the model (a residual
// block counts as one) over steps passes: its forward and, when training,
// its backward, and prints where the time goes.
func printLayerTimes(be backend.Backend, m *model.Model, images []float32, labels []int32, training bool, steps int) {
	c := m.Config
	n := len(labels)
	x := be.New(n, c.Input[0], c.Input[1], c.Input[2])
	be.Upload(x, images)
	dlogits := be.New(n, c.Classes)
	layers := m.Net.Layers
	fwd := make([]time.Duration, len(layers))
	bwd := make([]time.Duration, len(layers))
	m.SetTraining(training)
	defer m.SetTraining(true)
	for s := 0; s < steps; s++ {
		h := x
		for i, l := range layers {
			t0 := time.Now()
			h = l.Forward(h)
			fwd[i] += time.Since(t0)
		}
		if !training {
			continue
		}
		be.SoftmaxCrossEntropy(h, labels, dlogits)
		g := dlogits
		for i := len(layers) - 1; i >= 0; i-- {
			t0 := time.Now()
			g = layers[i].Backward(g)
			bwd[i] += time.Since(t0)
		}
	}
	var total time.Duration
	for i := range layers {
		total += fwd[i] + bwd[i]
	}
	ms := func(d time.Duration) string {
		return fmt.Sprintf("%.2f", d.Seconds()*1e3/float64(steps))
	}
	mode := "inference"
	if training {
		mode = "training"
	}
	fmt.Printf("\n%s, batch %d: time per layer (ms per step)\n", mode, n)
	fmt.Printf("%-36s %-26s %12s %9s %9s %6s\n", "layer", "kind", "output", "forward", "backward", "share")
	in := c.Input[:]
	for i, l := range layers {
		info := l.Describe(in)
		in = info.Out
		b := "-"
		if training {
			b = ms(bwd[i])
		}
		out := make([]string, len(info.Out))
		for j, d := range info.Out {
			out[j] = fmt.Sprint(d)
		}
		fmt.Printf("%-36s %-26s %12s %9s %9s %5.1f%%\n", info.Name, info.Kind, strings.Join(out, "x"), ms(fwd[i]), b,
			100*float64(fwd[i]+bwd[i])/float64(total))
	}
	fmt.Printf("%-36s %-26s %12s %9s\n", "total", "", "", ms(total))
}

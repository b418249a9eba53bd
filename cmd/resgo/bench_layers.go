package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/backend/native"
	"github.com/resgo/resgo/model"
	"github.com/resgo/resgo/nn"
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
	fmt.Printf("%-36s %-26s %12s %9s %9s %6s  %s\n", "layer", "kind", "output", "forward", "backward", "share", "convolution algorithms")
	in := c.Input[:]
	var reasons []string
	for i, l := range layers {
		algos, why := convAlgorithms(be, l, n, in, training)
		reasons = append(reasons, why...)
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
		fmt.Printf("%-36s %-26s %12s %9s %9s %5.1f%%  %s\n", info.Name, info.Kind, strings.Join(out, "x"), ms(fwd[i]), b,
			100*float64(fwd[i]+bwd[i])/float64(total), algos)
	}
	fmt.Printf("%-36s %-26s %12s %9s\n", "total", "", "", ms(total))
	if len(reasons) > 0 {
		fmt.Printf("\nwhy each algorithm (the rules are in backend/native/algo.go):\n")
		seen := map[string]bool{}
		for _, r := range reasons {
			if !seen[r] {
				seen[r] = true
				fmt.Printf("  %s\n", r)
			}
		}
	}
}

// convAlgorithms lists the algorithm the backend runs for each convolution
// inside l (on n inputs of shape in), in order, when the backend can say
// (backend.ConvExplainer): "3x3 winograd" and, when training and the
// backward passes run another, "(backward im2col)"; "bf16" where the
// native backend multiplies in bfloat16. Repeats are counted.
// It also returns, per convolution, the backend's reasons.
func convAlgorithms(be backend.Backend, l nn.Layer, n int, in []int, training bool) (string, []string) {
	ex, ok := be.(backend.ConvExplainer)
	if !ok {
		return "-", nil
	}
	var labels, reasons []string
	var walk func(l nn.Layer, in []int) []int
	walk = func(l nn.Layer, in []int) []int {
		switch c := l.(type) {
		case *nn.Sequential:
			for _, sub := range c.Layers {
				in = walk(sub, in)
			}
			return in
		case *nn.Residual:
			out := walk(c.Body, in)
			if c.Shortcut != nil {
				walk(c.Shortcut, in)
			}
			return out
		case *nn.Conv2D:
			x, w, d := append([]int{n}, in...), []int{c.Out, c.In, c.KH, c.KW}, c.ConvDesc(in)
			fwd, why := ex.ConvAlgorithm(x, w, d, backend.Forward)
			label := fmt.Sprintf("%dx%d %s", c.KH, c.KW, fwd)
			if nb, ok := be.(*native.Backend); ok && nb.ConvPrecision(x, w, d, backend.Forward) == native.BF16 {
				label += " bf16"
			}
			if q, ok := be.(backend.QuantizedConv); ok && c.InQuant != nil && q.Int8Conv(x, w, d) {
				label, why = fmt.Sprintf("%dx%d int8", c.KH, c.KW), "int8 (direct tiles on bytes)"
			}
			shape := fmt.Sprintf("%dx%dx%d -> %d channels", in[0], in[1], in[2], c.Out)
			reasons = append(reasons, fmt.Sprintf("%s on %s: %s", label, shape, why))
			if training {
				if bwd, whyBwd := ex.ConvAlgorithm(x, w, d, backend.BackwardFilter); bwd != fwd {
					label += " (backward " + bwd + ")"
					reasons = append(reasons, fmt.Sprintf("%dx%d %s (backward) on %s: %s", c.KH, c.KW, bwd, shape, whyBwd))
				}
			}
			labels = append(labels, label)
		}
		return l.Describe(in).Out
	}
	walk(l, in)
	if len(labels) == 0 {
		return "", nil
	}
	var out []string
	for i := 0; i < len(labels); {
		j := i
		for j < len(labels) && labels[j] == labels[i] {
			j++
		}
		if j-i > 1 {
			out = append(out, fmt.Sprintf("%d x %s", j-i, labels[i]))
		} else {
			out = append(out, labels[i])
		}
		i = j
	}
	return strings.Join(out, ", "), reasons
}

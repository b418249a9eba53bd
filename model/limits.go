package model

import (
	"fmt"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/internal/sysinfo"
	"github.com/resgo/resgo/nn"
)

// Bounds on a configuration. They are far past anything trainable here
// and keep every size and count below in range of int64, so that no
// product overflows (a huge --base-depth once crashed with a stack trace,
// and vgg19's parameter total came out negative).
const (
	MaxBaseDepth    = 1024      // 16x the paper's width
	MaxInputSide    = 4096      // pixels, each of height and width
	MaxInputChannel = 64        // image channels
	MaxClasses      = 1 << 20   // outputs
	maxFootprint    = 1 << 50.0 // bytes: beyond this no estimate matters
)

// checkBounds rejects sizes no model can have.
func (c *Config) checkBounds() error {
	switch {
	case c.BaseDepth < 4 || c.BaseDepth%4 != 0 || c.BaseDepth > MaxBaseDepth:
		return fmt.Errorf("model: base depth %d: must be a multiple of 4 from 4 to %d", c.BaseDepth, MaxBaseDepth)
	case c.Classes < 2 || c.Classes > MaxClasses:
		return fmt.Errorf("model: %d classes: must be from 2 to %d", c.Classes, MaxClasses)
	case c.Input[0] < 1 || c.Input[0] > MaxInputChannel:
		return fmt.Errorf("model: input %dx%dx%d: channels must be from 1 to %d", c.Input[0], c.Input[1], c.Input[2], MaxInputChannel)
	case c.Input[1] < 1 || c.Input[2] < 1 || c.Input[1] > MaxInputSide || c.Input[2] > MaxInputSide:
		return fmt.Errorf("model: input %dx%dx%d: height and width must be from 1 to %d", c.Input[0], c.Input[1], c.Input[2], MaxInputSide)
	}
	return nil
}

// Footprint counts the float32 values a model holds.
type Footprint struct {
	// Params are the trained values; State adds the running statistics.
	Params, State int64
	// Activations is the sum of every layer's output size for one example:
	// what a forward pass keeps for the backward one.
	Activations int64
}

// Measure counts a configuration's values without allocating them.
func Measure(c Config) (Footprint, error) {
	m, err := Describe(c)
	if err != nil {
		return Footprint{}, err
	}
	f := Footprint{Params: m.NumParams()}
	for _, p := range m.State() {
		f.State += int64(backend.Len(p.Shape))
	}
	var walk func(l nn.Layer, in []int) []int
	walk = func(l nn.Layer, in []int) []int {
		if s, ok := l.(*nn.Sequential); ok {
			for _, sub := range s.Layers {
				in = walk(sub, in)
			}
			return in
		}
		if r, ok := l.(*nn.Residual); ok {
			walk(r.Body, in)
			if r.Shortcut != nil {
				walk(r.Shortcut, in)
			}
		}
		out := l.Describe(in).Out
		f.Activations += int64(backend.Len(out))
		return out
	}
	walk(m.Net, c.Input[:])
	return f, nil
}

// TrainingBytes estimates the memory training takes at a batch size: the
// weights, their gradients, moving averages and momentum buffers, and per
// image the activations, their gradients and the backends' working
// copies (three copies in all: 630 MiB for seed-resnet34 at batch 100,
// whose measured peak is 605 MiB).
func (f Footprint) TrainingBytes(batch int, momentum bool) float64 {
	copies := 3.0 // value, gradient, moving average
	if momentum {
		copies++
	}
	return 4 * (copies*float64(f.State) + 3*float64(batch)*float64(f.Activations))
}

// InferenceBytes estimates the memory inference takes at a batch size:
// the weights and, per image, the activations (buffers are reused).
func (f Footprint) InferenceBytes(batch int) float64 {
	return 4 * (float64(f.State) + float64(batch)*float64(f.Activations))
}

// CheckMemory refuses work whose estimated memory (need, in bytes) is
// more than the machine has available, saying how much it needs before
// anything is allocated; what names the work ("training at batch 100").
func CheckMemory(c Config, what string, need float64) error {
	avail, ok := sysinfo.AvailableMemory()
	if need < maxFootprint && (!ok || need <= float64(avail)) {
		return nil
	}
	have := "no machine has that much"
	if ok {
		have = fmt.Sprintf("this machine has %s available", FormatBytes(float64(avail)))
	}
	return fmt.Errorf("model: %s, %s needs about %s of memory; %s (choose a smaller --base-depth, input or batch)",
		describeConfig(c), what, FormatBytes(need), have)
}

// FormatBytes writes a size in MiB or GiB.
func FormatBytes(b float64) string {
	if b < 1<<30 {
		return fmt.Sprintf("%.0f MiB", b/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", b/(1<<30))
}

func describeConfig(c Config) string {
	return fmt.Sprintf("%s at base depth %d, input %dx%dx%d, %d classes", c.Arch, c.BaseDepth, c.Input[0], c.Input[1], c.Input[2], c.Classes)
}

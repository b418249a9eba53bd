package model

import (
	"fmt"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/nn"
)

// buildSeedResNet34 is the tutorial's network, with TF-slim's scope names:
// a 7x7 stem and 2x2 max-pool; four stages of 3, 4, 6 and 3 residual layers
// at depths d, 2d, 4d, 8d; before stages 2-4 a 1x1 stride-2 convolution with
// ReLU to a quarter of the stage's depth (the tutorial halves twice); the
// shortcut zero-pads channels; a 2x2 average-pool and a fully connected
// layer. Residual sums have no ReLU after them.
func buildSeedResNet34(be backend.Backend, c Config) (*nn.Sequential, error) {
	d := c.BaseDepth
	if c.Input[1]%2 != 0 || c.Input[2]%2 != 0 {
		return nil, fmt.Errorf("model: seed-resnet34 needs even input sizes, got %dx%d", c.Input[1], c.Input[2])
	}
	net := &nn.Sequential{Name: "seed-resnet34"}
	stem := nn.NewConv2D(be, "layer1-initconv/Conv", c.Input[0], d, 7, 1, nn.Same, true)
	stem.NoInputGrad = true
	net.Layers = append(net.Layers, stem,
		nn.NewMaxPool(be, "layer1-initconv/MaxPool2D", 2, 2, nn.Same))
	stages := []struct {
		scope  string
		depth  int
		layers int
		half   bool
	}{
		{"layer4-9-conv", d, 3, false},
		{"layer10-15-conv", 2 * d, 4, true},
		{"layer16-27-conv", 4 * d, 6, true},
		{"layer28-33-conv", 8 * d, 3, true},
	}
	in := d
	for _, s := range stages {
		scope := "resnet_layer/" + s.scope
		conv := 0
		next := func() string {
			name := scope + "/Conv"
			if conv > 0 {
				name = fmt.Sprintf("%s/Conv_%d", scope, conv)
			}
			conv++
			return name
		}
		if s.half {
			net.Layers = append(net.Layers, nn.NewConv2D(be, next(), in, s.depth/4, 1, 2, nn.Same, true))
			in = s.depth / 4
		}
		for i := 0; i < s.layers; i++ {
			net.Layers = append(net.Layers, nn.NewResidual(be, fmt.Sprintf("%s/res%d", scope, i+1),
				nn.NewConv2D(be, next(), in, s.depth, 3, 1, nn.Same, true),
				nn.NewConv2D(be, next(), s.depth, s.depth, 3, 1, nn.Same, false)))
			in = s.depth
		}
	}
	h, w := c.Input[1]/2, c.Input[2]/2
	for range 3 {
		h, w = (h+1)/2, (w+1)/2
	}
	net.Layers = append(net.Layers,
		nn.NewAvgPool(be, "AvgPool2D", 2, 2, nn.Valid),
		nn.NewLinear(be, "layer34-fc", in*(h/2)*(w/2), c.Classes))
	return net, nil
}

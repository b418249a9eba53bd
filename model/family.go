package model

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/nn"
)

// netKind is how a family member joins its blocks.
type netKind int

const (
	residualNet netKind = iota // blocks with shortcuts (He et al.)
	plainNet                   // the same blocks without shortcuts
	vggNet                     // stacks of 3x3 convolutions and max-pools
)

// familySpec is one row of the family's table.
type familySpec struct {
	kind       netKind
	bottleneck bool
	// blocks per stage (residual and plain nets); conv widths in units of
	// the base depth, 0 for a max-pool (VGG).
	blocks [4]int
	vgg    []int
}

// family is the configuration table of He et al. (2015), Table 1, with
// VGG-19 (Simonyan & Zisserman, configuration E).
var family = map[string]familySpec{
	"resnet18":  {kind: residualNet, blocks: [4]int{2, 2, 2, 2}},
	"resnet34":  {kind: residualNet, blocks: [4]int{3, 4, 6, 3}},
	"resnet50":  {kind: residualNet, bottleneck: true, blocks: [4]int{3, 4, 6, 3}},
	"resnet101": {kind: residualNet, bottleneck: true, blocks: [4]int{3, 4, 23, 3}},
	"resnet152": {kind: residualNet, bottleneck: true, blocks: [4]int{3, 8, 36, 3}},
	"plain18":   {kind: plainNet, blocks: [4]int{2, 2, 2, 2}},
	"plain34":   {kind: plainNet, blocks: [4]int{3, 4, 6, 3}},
	"vgg19":     {kind: vggNet, vgg: []int{1, 1, 0, 2, 2, 0, 4, 4, 4, 4, 0, 8, 8, 8, 8, 0, 8, 8, 8, 8, 0}},
}

// Shortcut options of He et al. section 4.1.
const (
	ShortcutA = "A" // identity; zero-padding (and subsampling) where shapes change
	ShortcutB = "B" // identity; projection where shapes change
	ShortcutC = "C" // projection everywhere
)

// BottleneckStride3x3 puts a bottleneck's stride on its 3x3 convolution
// (torchvision's "v1.5"); the paper's "1x1" is the default, empty.
const (
	BottleneckStride1x1 = "1x1"
	BottleneckStride3x3 = "3x3"
)

// Stems.
const (
	StemImageNet = "imagenet" // 7x7/2 convolution and 3x3/2 max-pool
	StemSmall    = "small"    // one 3x3/1 convolution, for 28x28 and 32x32 images
)

// ArchOptions reports whether an architecture takes the shortcut and stem
// options (false for unknown ones).
func ArchOptions(arch string) (shortcut, stem bool) {
	spec, ok := family[arch]
	if !ok {
		return false, false
	}
	return spec.kind == residualNet, spec.kind != vggNet
}

// HasBottlenecks reports whether an architecture is built of bottleneck
// blocks (resnet50, 101, 152), which take the BottleneckStride option.
func HasBottlenecks(arch string) bool { return family[arch].bottleneck }

// normalizeFamily fills in a family member's defaults and checks its
// options.
func normalizeFamily(c *Config, spec familySpec) error {
	if spec.kind != residualNet && c.Shortcut != "" {
		return fmt.Errorf("model: %s has no shortcuts (got shortcut option %q)", c.Arch, c.Shortcut)
	}
	if spec.kind == residualNet {
		switch c.Shortcut {
		case "":
			c.Shortcut = ShortcutB
		case ShortcutA, ShortcutB, ShortcutC:
		default:
			return fmt.Errorf("model: shortcut option %q: want A, B or C", c.Shortcut)
		}
	}
	switch {
	case c.BottleneckStride == BottleneckStride1x1:
		c.BottleneckStride = "" // the default, stored as none: older checkpoints match
	case c.BottleneckStride != "" && c.BottleneckStride != BottleneckStride3x3:
		return fmt.Errorf("model: bottleneck stride %q: want %s (the paper's) or %s (torchvision's)", c.BottleneckStride, BottleneckStride1x1, BottleneckStride3x3)
	case c.BottleneckStride != "" && !spec.bottleneck:
		return fmt.Errorf("model: %s has no bottleneck blocks (got bottleneck stride %q)", c.Arch, c.BottleneckStride)
	}
	if spec.kind == vggNet {
		if c.Stem != "" {
			return fmt.Errorf("model: %s has no stem option (got %q)", c.Arch, c.Stem)
		}
		return nil
	}
	switch c.Stem {
	case "":
		c.Stem = StemSmall
		if min(c.Input[1], c.Input[2]) >= 64 {
			c.Stem = StemImageNet
		}
	case StemImageNet, StemSmall:
	default:
		return fmt.Errorf("model: stem %q: want %s or %s", c.Stem, StemImageNet, StemSmall)
	}
	return nil
}

// kaimingNormal is torchvision's convolution initialiser: a normal of
// variance 2/fan_out, fan_out = out channels x kernel area.
func kaimingNormal(shape []int) func(r *rand.Rand, v []float32) {
	std := math.Sqrt(2 / float64(shape[0]*shape[2]*shape[3]))
	return func(r *rand.Rand, v []float32) {
		for i := range v {
			v[i] = float32(r.NormFloat64() * std)
		}
	}
}

// uniformFanIn is PyTorch's default for fully connected layers, for the
// weight and the bias alike: uniform in +-1/sqrt(fan_in).
func uniformFanIn(fanIn int) func(r *rand.Rand, v []float32) {
	limit := 1 / math.Sqrt(float64(fanIn))
	return func(r *rand.Rand, v []float32) {
		for i := range v {
			v[i] = float32((2*r.Float64() - 1) * limit)
		}
	}
}

func normal(std float64) func(r *rand.Rand, v []float32) {
	return func(r *rand.Rand, v []float32) {
		for i := range v {
			v[i] = float32(r.NormFloat64() * std)
		}
	}
}

func zeros(_ *rand.Rand, v []float32) { clear(v) }

// conv makes a bias-free convolution with torchvision's initialiser and
// weight decay.
func conv(be backend.Backend, name string, in, out, k, stride int) *nn.Conv2D {
	c := nn.NewConvNoBias(be, name, in, out, k, stride, nn.Symmetric)
	c.Weights.Init = kaimingNormal(c.Weights.Shape)
	c.Weights.Decay = true
	return c
}

// buildResNet builds resnetN and plainN: torchvision's ResNet (batch norm
// after every convolution, ReLU after the sum) with the stride of a
// bottleneck on its first 1x1 convolution, as in the paper, unless the
// configuration puts it on the 3x3 as torchvision does, and PyTorch's
// parameter names (conv1.weight, layer1.0.bn1.running_mean, fc.bias...).
func buildResNet(be backend.Backend, c Config, spec familySpec) (*nn.Sequential, error) {
	d := c.BaseDepth
	net := &nn.Sequential{Name: c.Arch}
	if c.Stem == StemImageNet {
		net.Layers = append(net.Layers, conv(be, "conv1", c.Input[0], d, 7, 2),
			nn.NewBatchNorm(be, "bn1", d, true), nn.NewMaxPool(be, "maxpool", 3, 2, nn.Symmetric))
	} else {
		net.Layers = append(net.Layers, conv(be, "conv1", c.Input[0], d, 3, 1), nn.NewBatchNorm(be, "bn1", d, true))
	}
	in := d
	for stage, n := range spec.blocks {
		planes := d << stage
		for b := 0; b < n; b++ {
			stride := 1
			if stage > 0 && b == 0 {
				stride = 2
			}
			name := fmt.Sprintf("layer%d.%d", stage+1, b)
			body, out := blockBody(be, name, in, planes, stride, spec, c.BottleneckStride == BottleneckStride3x3)
			if spec.kind == plainNet {
				net.Layers = append(net.Layers, &nn.Sequential{Name: name, Layers: body})
			} else {
				r := nn.NewResidual(be, name, body...)
				r.ReLU = true
				r.Shortcut = shortcut(be, name, in, out, stride, c.Shortcut)
				net.Layers = append(net.Layers, r)
			}
			in = out
		}
	}
	fc := nn.NewLinearSep(be, "fc", ".", in, c.Classes)
	fc.Weight.Init, fc.Bias.Init = uniformFanIn(in), uniformFanIn(in)
	net.Layers = append(net.Layers, nn.NewGlobalAvgPool(be, "avgpool"), fc)
	return net, nil
}

// blockBody is a basic block (two 3x3 convolutions) or a bottleneck (1x1,
// 3x3, 1x1 at four times the width; strided on the first 1x1, or on the
// 3x3 with stride3x3). In a plain net the last batch norm carries the ReLU
// that follows the sum in a residual one.
func blockBody(be backend.Backend, name string, in, planes, stride int, spec familySpec, stride3x3 bool) ([]nn.Layer, int) {
	last := spec.kind == plainNet
	if !spec.bottleneck {
		return []nn.Layer{
			conv(be, name+".conv1", in, planes, 3, stride), nn.NewBatchNorm(be, name+".bn1", planes, true),
			conv(be, name+".conv2", planes, planes, 3, 1), nn.NewBatchNorm(be, name+".bn2", planes, last),
		}, planes
	}
	out := 4 * planes
	s1, s3 := stride, 1
	if stride3x3 {
		s1, s3 = 1, stride
	}
	return []nn.Layer{
		conv(be, name+".conv1", in, planes, 1, s1), nn.NewBatchNorm(be, name+".bn1", planes, true),
		conv(be, name+".conv2", planes, planes, 3, s3), nn.NewBatchNorm(be, name+".bn2", planes, true),
		conv(be, name+".conv3", planes, out, 1, 1), nn.NewBatchNorm(be, name+".bn3", out, last),
	}, out
}

// shortcut returns the shortcut path of a block, nil for the identity.
func shortcut(be backend.Backend, name string, in, out, stride int, option string) *nn.Sequential {
	changes := stride != 1 || in != out
	switch {
	case option == ShortcutC || (option == ShortcutB && changes):
		return &nn.Sequential{Name: name + ".downsample", Layers: []nn.Layer{
			conv(be, name+".downsample.0", in, out, 1, stride),
			nn.NewBatchNorm(be, name+".downsample.1", out, false),
		}}
	case option == ShortcutA && stride != 1:
		// Subsampling by the stride is a 1x1 max-pool; the residual layer
		// zero-pads the channels.
		return &nn.Sequential{Name: name + ".subsample", Layers: []nn.Layer{
			nn.NewMaxPool(be, name+".subsample", 1, stride, nn.Valid),
		}}
	}
	return nil
}

// buildVGG builds VGG-19 with torchvision's names (features.N,
// classifier.N). Max-pools round up (TensorFlow's SAME), so that 28x28
// inputs still reach 1x1; the classifier reads the last map whole (at
// 224x224 it is 7x7, where torchvision's adaptive pooling does nothing).
// Dropout is left out.
func buildVGG(be backend.Backend, c Config, spec familySpec) (*nn.Sequential, error) {
	d := c.BaseDepth
	net := &nn.Sequential{Name: c.Arch}
	in, idx := c.Input[0], 0
	h, w := c.Input[1], c.Input[2]
	for _, v := range spec.vgg {
		if v == 0 {
			net.Layers = append(net.Layers, nn.NewMaxPool(be, fmt.Sprintf("features.%d", idx), 2, 2, nn.Same))
			h, w = (h+1)/2, (w+1)/2
			idx++
			continue
		}
		cv := nn.NewConvWithBias(be, fmt.Sprintf("features.%d", idx), in, v*d, 3, 1, nn.Symmetric, true)
		cv.Weights.Init, cv.Biases.Init = kaimingNormal(cv.Weights.Shape), zeros
		cv.Weights.Decay = true
		net.Layers = append(net.Layers, cv)
		in = v * d
		idx += 2 // torchvision counts the ReLU
	}
	hidden := 64 * d
	fcs := []int{in * h * w, hidden, hidden, c.Classes}
	for i := 0; i < 3; i++ {
		fc := nn.NewLinearSep(be, fmt.Sprintf("classifier.%d", 3*i), ".", fcs[i], fcs[i+1])
		fc.Weight.Init, fc.Bias.Init = normal(0.01), zeros
		net.Layers = append(net.Layers, fc)
		if i < 2 {
			net.Layers = append(net.Layers, nn.NewReLU(be, fmt.Sprintf("classifier.%d", 3*i+1)))
		}
	}
	return net, nil
}

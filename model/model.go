package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/nn"
)

// Config selects and sizes a model.
type Config struct {
	// Arch is the architecture's name; see Archs.
	Arch string `json:"arch"`
	// BaseDepth is the channel count of the first stage (64 in the paper);
	// smaller values give narrow variants for tests.
	BaseDepth int `json:"base_depth"`
	// Classes is the number of outputs.
	Classes int `json:"classes"`
	// Input is the shape of one example: channels, height, width.
	Input [3]int `json:"input"`
	// Shortcut is the residual nets' shortcut option, A, B (the default)
	// or C; empty for other architectures.
	Shortcut string `json:"shortcut,omitempty"`
	// Stem is the residual and plain nets' first layers: "imagenet" (the
	// default for inputs of 64x64 and more) or "small".
	Stem string `json:"stem,omitempty"`
	// BottleneckStride places a bottleneck block's stride: empty for the
	// paper's first 1x1 convolution, BottleneckStride3x3 for the 3x3, as
	// torchvision's ResNet-50/101/152 ("ResNet v1.5") do; empty for
	// architectures without bottlenecks.
	BottleneckStride string `json:"bottleneck_stride,omitempty"`
}

// Normalize fills in the defaults of the options an architecture has and
// rejects the options it does not have, so that equal models have equal
// configurations.
func (c *Config) Normalize() error {
	if err := c.checkBounds(); err != nil {
		return err
	}
	if c.Arch == "seed-resnet34" {
		if c.Shortcut != "" || c.Stem != "" || c.BottleneckStride != "" {
			return fmt.Errorf("model: seed-resnet34 has a fixed zero-padding shortcut and stem, and no bottlenecks (got shortcut %q, stem %q, bottleneck stride %q)",
				c.Shortcut, c.Stem, c.BottleneckStride)
		}
		return nil
	}
	spec, ok := family[c.Arch]
	if !ok {
		return fmt.Errorf("model: unknown architecture %q (known: %s)", c.Arch, strings.Join(Archs(), ", "))
	}
	return normalizeFamily(c, spec)
}

// DefaultConfig is the tutorial's model on MNIST.
func DefaultConfig() Config {
	return Config{Arch: "seed-resnet34", BaseDepth: 64, Classes: 10, Input: [3]int{1, 28, 28}}
}

// Model is a built network with its parameters.
type Model struct {
	Config Config
	Net    *nn.Sequential
	// Params are trained by gradients; Stats are the rest of the state
	// (batch norm's running statistics).
	Params []*nn.Param
	Stats  []*nn.Param
	be     backend.Backend
}

// Archs lists the architectures Build knows.
func Archs() []string {
	names := []string{"seed-resnet34"}
	for n := range family {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Build makes the model the configuration describes, with zero weights;
// call Init for the initial ones.
func Build(be backend.Backend, c Config) (*Model, error) {
	if err := c.Normalize(); err != nil {
		return nil, err
	}
	if _, shapes := be.(shapesOnly); !shapes {
		// Refuse a model whose weights alone cannot fit, before
		// allocating them.
		f, err := Measure(c)
		if err != nil {
			return nil, err
		}
		if err := CheckMemory(c, "holding its weights", 4*float64(f.State)); err != nil {
			return nil, err
		}
	}
	var net *nn.Sequential
	var err error
	switch spec := family[c.Arch]; {
	case c.Arch == "seed-resnet34":
		net, err = buildSeedResNet34(be, c)
	case spec.kind == vggNet:
		net, err = buildVGG(be, c, spec)
	default:
		net, err = buildResNet(be, c, spec)
	}
	if err != nil {
		return nil, err
	}
	return &Model{Config: c, Net: net, Params: net.Params(), Stats: nn.Stats(net), be: be}, nil
}

// State lists the parameters followed by the running statistics:
// everything a checkpoint or a moving average holds.
func (m *Model) State() []*nn.Param {
	return append(m.Params[:len(m.Params):len(m.Params)], m.Stats...)
}

// SetTraining switches the layers that differ (batch norm) between
// training and evaluation.
func (m *Model) SetTraining(training bool) { nn.SetTraining(m.Net, training) }

// Forward computes the logits [N, Classes] for a batch x [N, C, H, W].
func (m *Model) Forward(x backend.Tensor) backend.Tensor { return m.Net.Forward(x) }

// Backward back-propagates the gradient of the loss with respect to the
// logits, setting every parameter's gradient.
func (m *Model) Backward(dlogits backend.Tensor) { m.Net.Backward(dlogits) }

// BackwardEach is Backward, calling done with each top-level layer (of
// Net.Layers, last to first) once its backward pass is over and its
// parameters' gradients are final: data-parallel training starts
// averaging them while the layers before it run.
func (m *Model) BackwardEach(dlogits backend.Tensor, done func(nn.Layer)) {
	dy := dlogits
	for i := len(m.Net.Layers) - 1; i >= 0; i-- {
		dy = m.Net.Layers[i].Backward(dy)
		done(m.Net.Layers[i])
	}
}

// Param returns the parameter with the given name, or nil.
func (m *Model) Param(name string) *nn.Param {
	for _, p := range m.Params {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Init draws the initial weights. Parameters that carry their own
// initialiser (the family's, torchvision's) use it; the seed model's are
// drawn the way TF-slim does: Glorot-uniform convolution kernels with zero
// biases; the fully connected weight from a normal of stddev 0.1
// truncated at two standard deviations, its bias 0.1.
func (m *Model) Init(seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	for _, p := range m.State() {
		v := make([]float32, backend.Len(p.Shape))
		switch {
		case p.Init != nil:
			p.Init(r, v)
		case len(p.Shape) == 4:
			// Kernel [out, in, kh, kw]: TF counts fans over the receptive field.
			rf := p.Shape[2] * p.Shape[3]
			limit := math.Sqrt(6 / float64(rf*(p.Shape[0]+p.Shape[1])))
			for i := range v {
				v[i] = float32((2*r.Float64() - 1) * limit)
			}
		case len(p.Shape) == 2:
			for i := range v {
				v[i] = float32(truncatedNormal(r) * 0.1)
			}
		case strings.HasSuffix(p.Name, "/bias"):
			for i := range v {
				v[i] = 0.1
			}
		}
		m.be.Upload(p.Value, v)
	}
}

func truncatedNormal(r *rand.Rand) float64 {
	for {
		if v := r.NormFloat64(); math.Abs(v) <= 2 {
			return v
		}
	}
}

// NumParams is the total number of trainable values.
func (m *Model) NumParams() int64 {
	var n int64
	for _, p := range m.Params {
		n += int64(backend.Len(p.Shape))
	}
	return n
}

// shapesOnly is a backend that only records shapes: it lets Describe
// build ImageNet-sized models without allocating their weights.
type shapesOnly struct{ backend.Backend }

type shapeTensor []int

func (s shapeTensor) Shape() []int { return s }

func (shapesOnly) New(shape ...int) backend.Tensor  { return shapeTensor(append([]int(nil), shape...)) }
func (shapesOnly) Upload(backend.Tensor, []float32) {}

// Describe builds the model a configuration describes without allocating
// its weights, for summaries; it cannot compute.
func Describe(c Config) (*Model, error) { return Build(shapesOnly{}, c) }

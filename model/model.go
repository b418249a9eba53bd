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
}

// DefaultConfig is the tutorial's model on MNIST.
func DefaultConfig() Config {
	return Config{Arch: "seed-resnet34", BaseDepth: 64, Classes: 10, Input: [3]int{1, 28, 28}}
}

// Model is a built network with its parameters.
type Model struct {
	Config Config
	Net    *nn.Sequential
	Params []*nn.Param
	be     backend.Backend
}

type builder func(be backend.Backend, c Config) (*nn.Sequential, error)

var archs = map[string]builder{
	"seed-resnet34": buildSeedResNet34,
}

// Archs lists the architectures Build knows.
func Archs() []string {
	var names []string
	for n := range archs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Build makes the model the configuration describes, with zero weights;
// call Init for the initial ones.
func Build(be backend.Backend, c Config) (*Model, error) {
	b, ok := archs[c.Arch]
	if !ok {
		return nil, fmt.Errorf("model: unknown architecture %q (known: %s)", c.Arch, strings.Join(Archs(), ", "))
	}
	if c.BaseDepth < 4 || c.BaseDepth%4 != 0 {
		return nil, fmt.Errorf("model: base depth %d: must be a positive multiple of 4", c.BaseDepth)
	}
	if c.Classes < 2 {
		return nil, fmt.Errorf("model: %d classes: need at least 2", c.Classes)
	}
	net, err := b(be, c)
	if err != nil {
		return nil, err
	}
	return &Model{Config: c, Net: net, Params: net.Params(), be: be}, nil
}

// Forward computes the logits [N, Classes] for a batch x [N, C, H, W].
func (m *Model) Forward(x backend.Tensor) backend.Tensor { return m.Net.Forward(x) }

// Backward back-propagates the gradient of the loss with respect to the
// logits, setting every parameter's gradient.
func (m *Model) Backward(dlogits backend.Tensor) { m.Net.Backward(dlogits) }

// Param returns the parameter with the given name, or nil.
func (m *Model) Param(name string) *nn.Param {
	for _, p := range m.Params {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Init draws the initial weights the way TF-slim does: Glorot-uniform
// convolution kernels with zero biases; the fully connected weight from a
// normal of stddev 0.1 truncated at two standard deviations, its bias 0.1.
func (m *Model) Init(seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	for _, p := range m.Params {
		v := make([]float32, backend.Len(p.Shape))
		switch {
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

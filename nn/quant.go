package nn

import (
	"fmt"
	"math"

	"github.com/resgo/resgo/backend"
)

// Convs lists every convolution in l, depth first (the order of the
// forward pass).
func Convs(l Layer) []*Conv2D {
	var out []*Conv2D
	visit(l, func(l Layer) {
		if c, ok := l.(*Conv2D); ok {
			out = append(out, c)
		}
	})
	return out
}

// FoldBatchNorm merges every batch norm that directly follows a
// convolution (nothing between: no ReLU on the convolution) into that
// convolution, as its evaluation-mode behaviour (running statistics)
// allows: the weights of output channel
// o are scaled by γ_o/√(var_o+ε) and the bias becomes
// β_o + (b_o − mean_o)·γ_o/√(var_o+ε); the batch norm's ReLU moves to the
// convolution and the batch norm leaves its Sequential. It returns how
// many it folded. The convolutions get new weight tensors (a model built
// for training shares its parameters with an optimizer: fold a model
// built for inference). Not for training: the folded model has no batch
// norms to train.
func FoldBatchNorm(l Layer) int {
	folded := 0
	visit(l, func(l Layer) {
		s, ok := l.(*Sequential)
		if !ok {
			return
		}
		var kept []Layer
		for i := 0; i < len(s.Layers); i++ {
			kept = append(kept, s.Layers[i])
			c, ok := s.Layers[i].(*Conv2D)
			if !ok || c.ReLU || i+1 == len(s.Layers) {
				continue
			}
			bn, ok := s.Layers[i+1].(*BatchNorm)
			if !ok || bn.C != c.Out {
				continue
			}
			c.foldBatchNorm(bn)
			folded++
			i++ // the batch norm is gone
		}
		s.Layers = kept
	})
	return folded
}

func (c *Conv2D) foldBatchNorm(bn *BatchNorm) {
	be := c.be
	get := func(t backend.Tensor) []float32 {
		v := make([]float32, backend.Len(t.Shape()))
		be.Download(t, v)
		return v
	}
	w, gamma, beta, mean, variance := get(c.Weights.Value), get(bn.Gamma.Value), get(bn.Beta.Value), get(bn.RunningMean.Value), get(bn.RunningVar.Value)
	bias := make([]float32, c.Out)
	if c.Biases != nil {
		bias = get(c.Biases.Value)
	}
	per := len(w) / c.Out
	for o := range c.Out {
		scale := float64(gamma[o]) / math.Sqrt(float64(variance[o])+float64(bn.Epsilon))
		for i := o * per; i < (o+1)*per; i++ {
			w[i] = float32(float64(w[i]) * scale)
		}
		bias[o] = float32(float64(beta[o]) + (float64(bias[o])-float64(mean[o]))*scale)
	}
	c.Weights = &Param{Name: c.Weights.Name, Shape: c.Weights.Shape, Value: be.New(c.Weights.Shape...)}
	be.Upload(c.Weights.Value, w)
	c.Biases = &Param{Name: bn.Name + ".folded_bias", Shape: []int{c.Out}, Value: be.New(c.Out)}
	be.Upload(c.Biases.Value, bias)
	c.ReLU = bn.ReLU
}

// forwardInt8 is Forward on int8 values: InQuant set, the backend a
// backend.QuantizedConv.
func (c *Conv2D) forwardInt8(x backend.Tensor, d backend.ConvDesc) {
	q, ok := c.be.(backend.QuantizedConv)
	if !ok {
		panic(fmt.Sprintf("nn: %s has an int8 input map but backend %s has no int8 convolutions", c.Name, c.be.Name()))
	}
	q.ConvForwardU8S8(x, c.Weights.Value, c.biasValue(), c.y, d, *c.InQuant)
}

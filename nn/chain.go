package nn

import "github.com/resgo/resgo/backend"

// Chains: in evaluation (or on int8 values), consecutive convolutions and
// residual blocks run as one backend call (backend.ConvChain,
// backend.QuantizedChain), so that the activations between them stay in
// the backend's working layout and the shortcuts' sums are taken while
// the outputs are in cache.

// chainLink is a layer, or a pair of layers, as one block of a chain.
type chainLink struct {
	block backend.ChainBlock
	convs [2]*Conv2D
	res   *Residual // the block's residual layer, if it is one
	int8  bool
	out   []int // output shape
}

// pairLink makes convolutions l1 and l2 a block on inputs of shape in,
// where they chain: both convolutions, nothing observing them, both int8
// (input maps set) or both float32/bfloat16 in evaluation.
func pairLink(l1, l2 Layer, in []int) (chainLink, bool) {
	c1, ok1 := l1.(*Conv2D)
	c2, ok2 := l2.(*Conv2D)
	if !ok1 || !ok2 || c1.Observe != nil || c2.Observe != nil || len(in) != 4 || in[1] != c1.In || c2.In != c1.Out {
		return chainLink{}, false
	}
	int8 := c1.InQuant != nil && c2.InQuant != nil
	if !int8 && (c1.InQuant != nil || c2.InQuant != nil || !c1.evaluating || !c2.evaluating) {
		return chainLink{}, false
	}
	d1, oh1, ow1 := c1.outShape(in[1:])
	d2, oh2, ow2 := c2.outShape([]int{c1.Out, oh1, ow1})
	b := backend.ChainBlock{W1: c1.Weights.Value, B1: c1.biasValue(), D1: d1, W2: c2.Weights.Value, B2: c2.biasValue(), D2: d2}
	if int8 {
		b.In1, b.In2 = *c1.InQuant, *c2.InQuant
	}
	return chainLink{block: b, convs: [2]*Conv2D{c1, c2}, int8: int8, out: []int{in[0], c2.Out, oh2, ow2}}, true
}

// residualLink makes l a block on inputs of shape in where it is a
// residual block that chains: an identity (or zero-padded) shortcut, a
// body of two convolutions that chain (see pairLink).
func residualLink(l Layer, in []int) (chainLink, bool) {
	r, ok := l.(*Residual)
	if !ok || r.Shortcut != nil || len(r.Body.Layers) != 2 {
		return chainLink{}, false
	}
	link, ok := pairLink(r.Body.Layers[0], r.Body.Layers[1], in)
	if !ok {
		return chainLink{}, false
	}
	pad := link.out[1] - in[1]
	if pad < 0 || pad%2 != 0 || link.out[2] != in[2] || link.out[3] != in[3] {
		return chainLink{}, false
	}
	link.block.Shortcut, link.block.Before, link.block.ReLU = true, pad/2, r.ReLU
	link.res = r
	return link, true
}

// forwardChain runs layers from i on as one chained call where the
// backend takes them: a run of residual blocks (all float32/bfloat16 or
// all int8), or else a pair of convolutions. It returns the output and how many layers ran,
// or reports false, computing nothing.
func forwardChain(layers []Layer, i int, x backend.Tensor) (backend.Tensor, int, bool) {
	in := x.Shape()
	var links []chainLink
	for j := i; j < len(layers); j++ {
		link, ok := residualLink(layers[j], in)
		if !ok || (len(links) > 0 && link.int8 != links[0].int8) {
			break
		}
		links, in = append(links, link), link.out
	}
	n := len(links)
	if n == 0 {
		if i+1 >= len(layers) {
			return nil, 0, false
		}
		link, ok := pairLink(layers[i], layers[i+1], in)
		if !ok {
			return nil, 0, false
		}
		links, n = []chainLink{link}, 2
	}
	blocks := make([]backend.ChainBlock, len(links))
	for k, l := range links {
		blocks[k] = l.block
	}
	last := links[len(links)-1]
	c2 := last.convs[1]
	c2.y = buffer(c2.be, c2.y, last.out...)
	var ok bool
	if last.int8 {
		q, is := c2.be.(backend.QuantizedChain)
		ok = is && q.ConvForwardU8S8Chain(x, blocks, c2.y)
	} else {
		c, is := c2.be.(backend.ConvChain)
		ok = is && c.ConvForwardChain(x, blocks, c2.y)
	}
	if !ok {
		return nil, 0, false
	}
	for _, l := range links {
		l.convs[0].chained, l.convs[1].chained = true, true
		if l.res != nil {
			l.res.chained = true
		}
	}
	return c2.y, n, true
}

package native

import (
	"fmt"

	"github.com/resgo/resgo/backend"
)

// Chained convolutions (backend.ConvChain, for inference): a run of
// convolution pairs, each maybe a residual block with its shortcut, in
// one call, so that the activations between them stay in the tile
// kernels' PNC rows instead of going to NCHW and back, and the shortcuts
// are added while the outputs are in cache.

// chainBlock is a backend.ChainBlock planned: its two convolutions'
// geometries, and its input's channel count (the shortcut's).
type chainBlock struct {
	b      backend.ChainBlock
	g1, g2 convGeom
	c      int
}

// planChain works out the geometry of every convolution of blocks on an
// input of shape x, or reports false when they do not follow from each
// other (channels, map sizes), a shortcut does not fit (or a ReLU of the
// sum comes without one), or y has another
// shape than the last output (which panics: a caller's error).
func planChain(x []int, blocks []backend.ChainBlock, y []int) ([]chainBlock, bool) {
	if len(blocks) == 0 {
		return nil, false
	}
	plan := make([]chainBlock, len(blocks))
	in := x
	for i, b := range blocks {
		if b.W1 == nil || b.W2 == nil || (b.ReLU && !b.Shortcut) {
			return nil, false // no weights, or a rectified sum without a sum
		}
		g1, err := geometry(in, b.W1.Shape(), b.D1)
		if err != nil {
			return nil, false
		}
		g2, err := geometry([]int{g1.n, g1.o, g1.oh, g1.ow}, b.W2.Shape(), b.D2)
		if err != nil {
			return nil, false
		}
		out := []int{g2.n, g2.o, g2.oh, g2.ow}
		if !b.ShortcutFits(in, out) {
			return nil, false
		}
		plan[i] = chainBlock{b: b, g1: g1, g2: g2, c: in[1]}
		in = out
	}
	if len(y) != 4 || y[0] != in[0] || y[1] != in[1] || y[2] != in[2] || y[3] != in[3] {
		panic(fmt.Sprintf("native: chained convolution output shape %v, want %v", y, in))
	}
	return plan, true
}

// ConvForwardChain implements backend.ConvChain where every convolution
// runs on Winograd's algorithm (3x3, stride 1, maps of 4x4 and larger:
// each group of images goes through all of them, see winoChain) or every
// one on the direct tile kernels with output channels a whole number of
// tile columns (see directChain). Other chains are refused.
func (be *Backend) ConvForwardChain(x backend.Tensor, blocks []backend.ChainBlock, y backend.Tensor) bool {
	plan, ok := planChain(x.Shape(), blocks, y.Shape())
	if !ok {
		return false
	}
	wino, direct := true, true
	prs := make([][2]*convPrimitive, len(plan))
	for i, cb := range plan {
		p1, p2 := be.primitive(cb.g1, backend.Forward), be.primitive(cb.g2, backend.Forward)
		prs[i] = [2]*convPrimitive{p1, p2}
		nr := be.kern.tileCols
		wino = wino && p1.algo == Winograd && p2.algo == Winograd
		direct = direct && p1.algo == Direct && p2.algo == Direct && cb.g1.o%nr == 0 && (cb.g2.o%nr == 0 || i == len(plan)-1)
	}
	if !wino && !direct {
		return false
	}
	written(y)
	ws := be.begin(prs[0][0])
	defer be.end(prs[0][0])
	be.packNow = true
	defer func() { be.packNow = false }()
	if direct {
		be.directChain(ws, plan, prs, data(x), data(y))
		return true
	}
	var steps []winoStep
	group := prs[0][0].group
	for i, cb := range plan {
		b := cb.b
		s1 := be.winoForwardStep(prs[i][0], ws, b.W1.(*Tensor), data(b.B1), b.D1.ReLU)
		s2 := be.winoForwardStep(prs[i][1], ws, b.W2.(*Tensor), data(b.B2), b.D2.ReLU)
		s1.keep = b.Shortcut
		s2.add, s2.before, s2.sumReLU = b.Shortcut, b.Before, b.ReLU
		steps = append(steps, s1, s2)
		group = min(group, prs[i][0].group, prs[i][1].group)
	}
	be.winoChain(ws, plan[0].g1.n, group, data(x), steps, data(y))
	return true
}

// addRows adds the shortcut rows src (rows of c channels) to rows of dst
// (co channels), from channel before on, then applies the ReLU to the
// whole of dst's rows if relu: a residual block's sum in PNC rows. With
// the shapes alike, the sum and the ReLU are one pass (addReLU: the bits
// of add, then biasReLU with a zero bias).
func addRows(kern *kernels, dst []float32, co int, src []float32, c, rows, before int, relu bool) {
	if before == 0 && c == co {
		kern.addReLU(dst[:rows*co], dst[:rows*co], src[:rows*c], relu)
		return
	}
	for r := range rows {
		kern.add(dst[r*co+before:r*co+before+c], src[r*c:(r+1)*c])
	}
	if relu {
		kern.biasReLU(dst[:rows*co], 0, true)
	}
}

// addRowsParallel is addRows on the workers, each taking a share of the
// rows: for a whole batch's rows (the direct and int8 chains), which one
// thread summed while the others waited.
func (be *Backend) addRowsParallel(dst []float32, co int, src []float32, c, rows, before int, relu bool) {
	be.parallel(rows, func(lo, hi int) {
		addRows(be.kern, dst[lo*co:], co, src[lo*c:], c, hi-lo, before, relu)
	})
}

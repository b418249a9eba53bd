package native

import (
	"fmt"

	"github.com/resgo/resgo/backend"
)

// Chained convolutions (backend.ConvChain, for inference): two
// convolutions in a row, and a residual block's shortcut, in one call, so
// that the activation between them stays in the tile kernels' PNC rows
// instead of going to NCHW and back, and the shortcut is added while the
// output is in cache.

// ConvForwardChain implements backend.ConvChain for two convolutions that
// both run on Winograd's algorithm (3x3, stride 1, on maps of 4x4 and
// larger): each group of images goes through both, the first's output
// rows in PNC being the second's input rows (see winoChain); or both on
// the direct tile kernels, the first's output channels a whole number of
// tile columns (see directChain). Other pairs are refused.
func (be *Backend) ConvForwardChain(x, w1, b1 backend.Tensor, d1 backend.ConvDesc, w2, b2, y backend.Tensor, d2 backend.ConvDesc, s backend.Shortcut) bool {
	g1, err := geometry(x.Shape(), w1.Shape(), d1)
	if err != nil {
		return false
	}
	g2, err := geometry([]int{g1.n, g1.o, g1.oh, g1.ow}, w2.Shape(), d2)
	if err != nil {
		return false
	}
	p1, p2 := be.primitive(g1, backend.Forward), be.primitive(g2, backend.Forward)
	wino := p1.algo == Winograd && p2.algo == Winograd
	direct := p1.algo == Direct && p2.algo == Direct && g1.o%be.kern.tileCols == 0
	if !wino && !direct {
		return false
	}
	if ys := y.Shape(); len(ys) != 4 || ys[0] != g2.n || ys[1] != g2.o || ys[2] != g2.oh || ys[3] != g2.ow {
		panic(fmt.Sprintf("native: chained convolution output shape %v, want %v", ys, []int{g2.n, g2.o, g2.oh, g2.ow}))
	}
	sc, ok := shortcutFor(s, y.Shape())
	if !ok {
		return false
	}
	written(y)
	ws := be.begin(p1)
	defer be.end(p1)
	if direct {
		be.directChain(p1, p2, ws, data(x), w1.(*Tensor), data(b1), d1.ReLU, w2.(*Tensor), data(b2), d2.ReLU, data(y), sc)
		return true
	}
	steps := []winoStep{
		be.winoForwardStep(p1, ws, w1.(*Tensor), data(b1), d1.ReLU),
		be.winoForwardStep(p2, ws, w2.(*Tensor), data(b2), d2.ReLU),
	}
	be.winoChain(ws, g1.n, min(p1.group, p2.group), data(x), steps, data(y), sc)
	return true
}

// shortcut is a chain's residual shortcut (backend.Shortcut) as data:
// xs [n, c, p] NCHW, added to an output's channels before to before+c-1.
type shortcut struct {
	xs        []float32
	c, before int
}

// shortcutFor checks s against an output of shape y: the shortcut, or ok
// false when it does not fit.
func shortcutFor(s backend.Shortcut, y []int) (sc shortcut, ok bool) {
	if !s.Fits(y) {
		return shortcut{}, false
	}
	if s.X != nil {
		sc = shortcut{xs: data(s.X), c: s.X.Shape()[1], before: s.Before}
	}
	return sc, true
}

// add adds image img's shortcut to its output planes (dst [n, co, p]
// NCHW), while they are still in cache from being written.
func (sc shortcut) add(kern *kernels, dst []float32, img, co, p int) {
	if sc.xs == nil {
		return
	}
	kern.add(dst[(img*co+sc.before)*p:(img*co+sc.before+sc.c)*p], sc.xs[img*sc.c*p:(img+1)*sc.c*p])
}

package native

import (
	"fmt"

	"github.com/resgo/resgo/backend"
)

// A convolution pass runs as a primitive, built the first time its
// geometry and pass are seen (as oneDNN builds one per shape) and kept by
// the Backend: it holds the algorithm chooseConv picked, everything
// planned from the shapes alone (tables, tilings, blockings), and the size
// of the workspace its last run used. (Packed weights are kept per weight
// tensor instead: see cachedPack.)

// convGeom is a convolution's shapes and descriptor.
type convGeom struct {
	n, c, h, w, o, kh, kw, oh, ow int
	d                             backend.ConvDesc
}

// geometry checks and combines the shapes of x [N,C,H,W] and w
// [O,C,KH,KW] with d.
func geometry(x, w []int, d backend.ConvDesc) (convGeom, error) {
	if len(x) != 4 || len(w) != 4 {
		return convGeom{}, fmt.Errorf("native: convolution of shapes %v and %v: want 4-d NCHW and OCHW", x, w)
	}
	if x[1] != w[1] {
		return convGeom{}, fmt.Errorf("native: convolution of %d input channels with weights for %d", x[1], w[1])
	}
	if d.StrideH < 1 || d.StrideW < 1 || min(d.PadTop, d.PadBottom, d.PadLeft, d.PadRight) < 0 {
		return convGeom{}, fmt.Errorf("native: convolution descriptor %+v: strides must be positive, padding not negative", d)
	}
	oh, ow := d.OutSize(x[2], x[3], w[2], w[3])
	if oh < 1 || ow < 1 {
		return convGeom{}, fmt.Errorf("native: %dx%d kernel larger than the padded %dx%d input", w[2], w[3], x[2], x[3])
	}
	return convGeom{x[0], x[1], x[2], x[3], w[0], w[2], w[3], oh, ow, d}, nil
}

// newConvGeom is geometry for tensors, checking y's shape too.
func newConvGeom(x, w, y backend.Tensor, d backend.ConvDesc) convGeom {
	g, err := geometry(x.Shape(), w.Shape(), d)
	if err != nil {
		panic(err)
	}
	if ys := y.Shape(); len(ys) != 4 || ys[0] != g.n || ys[1] != g.o || ys[2] != g.oh || ys[3] != g.ow {
		panic(fmt.Sprintf("native: convolution output shape %v, want %v", ys, []int{g.n, g.o, g.oh, g.ow}))
	}
	return g
}

func (g convGeom) k() int { return g.c * g.kh * g.kw }
func (g convGeom) p() int { return g.oh * g.ow }

// convKey identifies a primitive: the geometry (the fused ReLU aside,
// which changes no plan), the pass, and whether it runs on int8 values.
type convKey struct {
	g    convGeom
	pass backend.ConvPass
	int8 bool
}

// convPrimitive is one pass of one convolution geometry.
type convPrimitive struct {
	g      convGeom
	pass   backend.ConvPass
	algo   Algorithm
	reason string

	// Direct (forward, backward-data) and rows: the tile table.
	plan *tilePlan
	// Direct backward-filter: the runs of row pairs each tap joins.
	runs [][]rowRun
	// Im2col on small maps: where each tap reads (tapTable).
	taps []int32
	// Rows: the taps of each output position (tapsByPosition).
	byPosition []int32
	// Planar: the tile table over output channels.
	planar []int32
	// Winograd: the map's 4x4 tiling; forward and backward-data: how
	// many images go through the steps together, and the blocking of
	// their rows; backward-filter: how many images go together (0: the
	// whole batch at once, see winofilter.go). Rows' backward-filter: how
	// many images go together.
	tiling *winoTiles
	group  int
	block  *winoBlock
	// workspace is the floats of scratch memory its last run took.
	workspace int
}

// primitive returns the primitive of pass for g, building it the first
// time.
func (be *Backend) primitive(g convGeom, pass backend.ConvPass) *convPrimitive {
	g.d.ReLU = false // the forward pass is told per call
	key := convKey{g, pass, false}
	if p, ok := be.convs[key]; ok {
		return p
	}
	algo, why := be.chooseConv(g, pass)
	p := be.newPrimitive(g, pass, algo, why)
	if be.convs == nil {
		be.convs = map[convKey]*convPrimitive{}
	}
	be.convs[key] = p
	return p
}

// newPrimitive plans pass of g on algo (which must fit g: chooseConv's
// choice, or a test's).
func (be *Backend) newPrimitive(g convGeom, pass backend.ConvPass, algo Algorithm, why string) *convPrimitive {
	p := &convPrimitive{g: g, pass: pass, algo: algo, reason: why}
	switch algo {
	case Winograd:
		p.tiling = winoTiling(g.h, g.w)
		if pass != backend.BackwardFilter {
			ci, co := g.c, g.o
			if pass == backend.BackwardData {
				ci, co = co, ci
			}
			p.group = be.winoGroupSize(g.n, g.h*g.w, p.tiling.count, ci, co)
			ldc := (co + be.kern.tileCols - 1) / be.kern.tileCols * be.kern.tileCols
			p.block = be.winoBlocking(p.tiling.count*p.group, ci, ldc)
		} else {
			p.group = winoFilterGroup(g, p.tiling.count)
		}
	case Direct:
		if pass == backend.BackwardFilter {
			p.runs = tapRuns(g)
		} else {
			p.plan = be.tilePlanOf(g, pass == backend.BackwardData)
		}
	case Planar:
		p.planar = be.planarTable(g, planarRow(g.kw, be.bf16(p)))
	case Rows:
		p.byPosition = tapsByPosition(g)
		if pass == backend.Forward {
			p.plan = be.rowPlan(g.n*g.p(), g.k())
		} else {
			p.group = rowsFilterGroup(g)
		}
	case Im2col:
		if g.ow < smallWidth {
			p.taps = tapTable(g)
		}
	}
	return p
}

// ConvForward implements backend.Backend.
func (be *Backend) ConvForward(x, w, b, y backend.Tensor, d backend.ConvDesc) {
	written(y)
	g := newConvGeom(x, w, y, d)
	be.convForward(be.primitive(g, backend.Forward), data(x), w.(*Tensor), data(b), d.ReLU, data(y))
}

func (be *Backend) convForward(p *convPrimitive, xs []float32, w *Tensor, bs []float32, relu bool, ys []float32) {
	ws := be.begin(p)
	defer be.end(p)
	switch p.algo {
	case Winograd:
		be.winoForward(p, ws, xs, w, bs, relu, ys)
	case Direct:
		be.directForward(p, ws, xs, w, bs, relu, ys)
	case Planar:
		be.planarForward(p, ws, xs, w, bs, relu, ys)
	case Rows:
		be.rowsForward(p, ws, xs, w, bs, relu, ys)
	default:
		be.im2colForward(p, ws, xs, w.Data, bs, relu, ys)
	}
}

// ConvBackwardData implements backend.Backend.
func (be *Backend) ConvBackwardData(dy, w, dx backend.Tensor, d backend.ConvDesc) {
	written(dx)
	g := newConvGeom(dx, w, dy, d)
	be.convBackwardData(be.primitive(g, backend.BackwardData), data(dy), data(w), data(dx))
}

func (be *Backend) convBackwardData(p *convPrimitive, dys, ws, dxs []float32) {
	wk := be.begin(p)
	defer be.end(p)
	switch p.algo {
	case Winograd:
		be.winoBackwardData(p, wk, dys, ws, dxs)
	case Direct:
		be.directBackwardData(p, wk, dys, ws, dxs)
	default:
		be.im2colBackwardData(p, wk, dys, ws, dxs)
	}
}

// ConvBackwardFilter implements backend.Backend.
func (be *Backend) ConvBackwardFilter(x, dy, dw, db backend.Tensor, d backend.ConvDesc) {
	written(dw, db)
	g := newConvGeom(x, dw, dy, d)
	be.convBackwardFilter(be.primitive(g, backend.BackwardFilter), data(x), data(dy), data(dw), data(db))
}

func (be *Backend) convBackwardFilter(p *convPrimitive, xs, dys, dws, dbs []float32) {
	ws := be.begin(p)
	defer be.end(p)
	switch p.algo {
	case Winograd:
		be.winoBackwardFilter(p, ws, xs, dys, dws, dbs)
	case Direct:
		be.directBackwardFilter(p, ws, xs, dys, dws, dbs)
	case Rows:
		be.rowsBackwardFilter(p, ws, xs, dys, dws, dbs)
	default:
		be.im2colBackwardFilter(p, ws, xs, dys, dws, dbs)
	}
}

// begin hands a primitive's pass the backend's workspace, emptied and at
// least as large as the pass took last time; end records what it took.
func (be *Backend) begin(p *convPrimitive) *workspace {
	be.ws.reserve(p.workspace)
	be.ws.used, be.ws.high = 0, 0
	return &be.ws
}

func (be *Backend) end(p *convPrimitive) { p.workspace = be.ws.high }

// workspace is the scratch memory of the primitive running now: one
// buffer, taken from in order and released back to a mark, that grows to
// what the largest primitive needs, so that a training step allocates
// nothing once its shapes have been seen. Values taken are not cleared.
type workspace struct {
	buf        []float32
	used, high int
}

// reserve makes the buffer hold at least n floats.
func (w *workspace) reserve(n int) {
	if len(w.buf) < n {
		w.buf = make([]float32, n)
	}
}

// take returns the next n floats. When the buffer is too small a larger
// one replaces it: what was taken before stays valid in the old one, and
// the next run reserves the whole size at once.
func (w *workspace) take(n int) []float32 {
	if w.used+n > len(w.buf) {
		w.buf = make([]float32, w.used+n)
	}
	s := w.buf[w.used : w.used+n : w.used+n]
	w.used += n
	w.high = max(w.high, w.used)
	return s
}

// mark and release bracket temporaries: release(mark()) gives back what
// was taken in between.
func (w *workspace) mark() int     { return w.used }
func (w *workspace) release(m int) { w.used = m }

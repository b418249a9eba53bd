//go:build dnnl

package dnnl

/*
#include <string.h>
#include "glue.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/resgo/resgo/backend"
)

// Backend runs primitives on oneDNN's CPU engine. Like the native backend
// it is not safe for concurrent use.
type Backend struct {
	eng      C.dnnl_engine_t
	stream   C.dnnl_stream_t
	threads  int
	winograd bool
	prims    map[primKey]*C.rg_prim
	// avgFwd remembers the forward primitive of each average-pooling
	// geometry: its backward pass needs it as a hint.
	avgFwd map[C.rg_geom]*C.rg_prim
	// argKinds and argMems pass a primitive's arguments to C without
	// allocating.
	argKinds [12]C.int
	argMems  [12]C.dnnl_memory_t
	// scratch is the scratchpad all primitives share (they run one at a
	// time), grown to the largest any of them asks for.
	scratch    *buffer
	scratchMem map[*C.rg_prim]scratchView
	// matmuls are the products of the 2x2-map convolutions (conv2x2.go).
	matmuls map[primKey]*matmul
	mmArgs  [4]arg
	// transientBuf holds short-lived reordered copies (see transient).
	transientBuf   *buffer
	transientViews map[C.dnnl_memory_desc_t]*buffer
}

// scratchView is a memory object with one primitive's scratchpad layout
// over the shared scratch bytes.
type scratchView struct {
	mem C.dnnl_memory_t
	of  *buffer
}

// Options tune the backend.
type Options struct {
	// Threads is the number of compute threads (0: one per CPU).
	Threads int
	// Winograd computes 3x3 stride-1 convolutions on maps of 4x4 and more
	// (batches of 16 and more) with Winograd's F(4x4, 3x3) algorithm: about
	// 25% faster training on the tutorial's model. Each convolution agrees
	// with direct convolution to ~2e-6 relative, but through 34 layers the
	// difference flips some ReLUs, and after a few steps weights differ by
	// up to ~1e-2 of their scale, so it is off unless asked for.
	Winograd bool
}

// New makes a backend computing with threads threads (0: one per CPU) and
// direct convolutions.
func New(threads int) (*Backend, error) { return NewWithOptions(Options{Threads: threads}) }

// NewWithOptions makes a backend. oneDNN's OpenMP thread count is global
// to the process: the last backend made sets it.
func NewWithOptions(o Options) (*Backend, error) {
	threads := o.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	be := &Backend{threads: threads, winograd: o.Winograd, prims: map[primKey]*C.rg_prim{}, avgFwd: map[C.rg_geom]*C.rg_prim{},
		matmuls: map[primKey]*matmul{}, transientViews: map[C.dnnl_memory_desc_t]*buffer{}}
	if st := C.dnnl_engine_create(&be.eng, C.dnnl_cpu, 0); st != 0 {
		return nil, fmt.Errorf("dnnl: no CPU engine (status %d)", int(st))
	}
	if st := C.dnnl_stream_create(&be.stream, be.eng, C.dnnl_stream_default_flags); st != 0 {
		return nil, fmt.Errorf("dnnl: no stream (status %d)", int(st))
	}
	C.rg_set_threads(C.int(threads))
	return be, nil
}

// Name implements backend.Backend.
func (be *Backend) Name() string {
	if be.winograd {
		return "dnnl-winograd"
	}
	return "dnnl"
}

// Threads implements backend.Backend.
func (be *Backend) Threads() int { return be.threads }

type arg struct {
	kind C.int
	buf  *buffer
}

func (be *Backend) exec(p *C.rg_prim, args []arg) {
	for i, a := range args {
		be.argKinds[i], be.argMems[i] = a.kind, a.buf.mem
	}
	n := len(args)
	if md := query(p, C.dnnl_query_scratchpad_md); C.dnnl_memory_desc_get_size(md) > 0 {
		need := int(C.dnnl_memory_desc_get_size(md))
		if be.scratch == nil || be.scratch.size < need {
			be.scratch.free()
			be.scratch = be.allocBytes(need)
		}
		be.argKinds[n], be.argMems[n] = C.DNNL_ARG_SCRATCHPAD, be.scratchFor(p, md)
		n++
	}
	if st := C.rg_exec(p, be.stream, C.int(n), &be.argKinds[0], &be.argMems[0]); st != 0 {
		panic(fmt.Sprintf("dnnl: executing a primitive failed (status %d)", int(st)))
	}
	runtime.KeepAlive(args)
}

// primKey identifies a primitive: its kind, geometry, flags and the
// layouts it was made for. It is a comparable value, so looking a
// primitive up allocates nothing.
type primKey struct {
	op    string
	g     C.rg_geom
	flags int
	a, b  C.dnnl_memory_desc_t
	// rows and stride tell apart matrix products (conv2x2.go).
	rows, stride int64
}

// scratchFor returns a memory object with p's scratchpad layout over the
// shared scratch buffer, made once per primitive and buffer.
func (be *Backend) scratchFor(p *C.rg_prim, md *C.dnnl_memory_desc_t) C.dnnl_memory_t {
	if v, ok := be.scratchMem[p]; ok && v.of == be.scratch {
		return v.mem
	} else if ok {
		C.dnnl_memory_destroy(v.mem)
	}
	var mem C.dnnl_memory_t
	if st := C.dnnl_memory_create(&mem, md, be.eng, be.scratch.ptr()); st != 0 {
		panic(fmt.Sprintf("dnnl: scratchpad memory (status %d)", int(st)))
	}
	if be.scratchMem == nil {
		be.scratchMem = map[*C.rg_prim]scratchView{}
	}
	be.scratchMem[p] = scratchView{mem: mem, of: be.scratch}
	return mem
}

// prim returns the cached primitive for key, creating it with make.
func (be *Backend) prim(key primKey, make func(p *C.rg_prim) C.int) *C.rg_prim {
	if p, ok := be.prims[key]; ok {
		return p
	}
	p := new(C.rg_prim)
	if st := make(p); st != 0 {
		panic(fmt.Sprintf("dnnl: creating a %s primitive for %+v failed (status %d)", key.op, key.g, int(st)))
	}
	be.prims[key] = p
	return p
}

func (be *Backend) reorderPrim(from, to *C.dnnl_memory_desc_t) *C.rg_prim {
	return be.prim(primKey{op: "reorder", a: *from, b: *to}, func(p *C.rg_prim) C.int { return C.rg_reorder(p, be.eng, from, to) })
}

func query(p *C.rg_prim, what C.dnnl_query_t) *C.dnnl_memory_desc_t { return C.rg_query_md(p, what) }

func tensor(t backend.Tensor) *Tensor {
	if t == nil {
		return nil
	}
	dt, ok := t.(*Tensor)
	if !ok {
		panic(fmt.Sprintf("dnnl: tensor of type %T belongs to another backend", t))
	}
	return dt
}

// New implements backend.Backend.
func (be *Backend) New(shape ...int) backend.Tensor { return be.newTensor(shape, plainMD(shape)) }

// Upload implements backend.Backend.
func (be *Backend) Upload(t backend.Tensor, src []float32) {
	defer alive(t)
	dt := tensor(t)
	if len(src) != backend.Len(dt.shape) {
		panic(fmt.Sprintf("dnnl: upload of %d values into shape %v", len(src), dt.shape))
	}
	md := plainMD(dt.shape)
	be.becomeOutput(dt, &md)
	copy(dt.buf.floats(), src)
}

// Download implements backend.Backend.
func (be *Backend) Download(t backend.Tensor, dst []float32) {
	defer alive(t)
	dt := tensor(t)
	md := plainMD(dt.shape)
	copy(dst, be.transient(dt, &md).floats()[:backend.Len(dt.shape)])
}

// Zero implements backend.Backend.
func (be *Backend) Zero(t backend.Tensor) {
	defer alive(t)
	dt := tensor(t)
	dt.touch()
	clear(dt.buf.floats())
}

// Copy implements backend.Backend.
func (be *Backend) Copy(dst, src backend.Tensor) {
	defer alive(dst, src)
	d, s := tensor(dst), tensor(src)
	be.becomeOutput(d, &s.md)
	copy(d.buf.floats(), s.buf.floats())
}

// Reshape implements backend.Backend. The result shares t's memory when t
// is plain, else it holds a plain copy (refreshed by each call); either way
// it is the same tensor object on every call with the same shape, so its
// own layout views are kept from step to step.
func (be *Backend) Reshape(t backend.Tensor, shape ...int) backend.Tensor {
	dt := tensor(t)
	var key [4]int
	copy(key[:], shape)
	r := dt.reshapes[key]
	if r == nil {
		if dt.reshapes == nil {
			dt.reshapes = map[[4]int]*Tensor{}
		}
		r = &Tensor{shape: append([]int(nil), shape...), md: plainMD(shape)}
		dt.reshapes[key] = r
	}
	md := plainMD(dt.shape)
	r.buf = be.as(dt, &md)
	r.buf.shared = true
	r.md = plainMD(shape)
	r.touch()
	return r
}

func convGeom(x, w, y backend.Tensor, d backend.ConvDesc) C.rg_geom {
	xs, ws, ys := x.Shape(), w.Shape(), y.Shape()
	return C.rg_geom{n: C.int(xs[0]), c: C.int(xs[1]), h: C.int(xs[2]), w: C.int(xs[3]),
		o: C.int(ws[0]), kh: C.int(ws[2]), kw: C.int(ws[3]), oh: C.int(ys[2]), ow: C.int(ys[3]),
		sh: C.int(d.StrideH), sw: C.int(d.StrideW), pt: C.int(d.PadTop), pb: C.int(d.PadBottom),
		pl: C.int(d.PadLeft), pr: C.int(d.PadRight)}
}

func (be *Backend) convGeom(x, w, y backend.Tensor, d backend.ConvDesc) C.rg_geom {
	g := convGeom(x, w, y, d)
	g.winograd = b2i(be.winograd)
	return g
}

func b2i(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

func (be *Backend) convFwdPrim(g C.rg_geom, bias, relu bool) *C.rg_prim {
	return be.prim(primKey{op: "conv-fwd", g: g, flags: int(b2i(bias) + 2*b2i(relu))}, func(p *C.rg_prim) C.int {
		return C.rg_conv_fwd(p, be.eng, &g, b2i(bias), b2i(relu))
	})
}

// ConvForward implements backend.Backend.
func (be *Backend) ConvForward(x, w, b, y backend.Tensor, d backend.ConvDesc) {
	g := be.convGeom(x, w, y, d)
	xt, wt, yt := tensor(x), tensor(w), tensor(y)
	if is2x2(g) {
		be.conv2x2Forward(xt, wt, tensor(b), yt, g, d.ReLU)
		return
	}
	p := be.convFwdPrim(g, b != nil, d.ReLU)
	be.convert(xt, query(p, C.dnnl_query_src_md))
	be.convert(wt, query(p, C.dnnl_query_weights_md))
	be.becomeOutput(yt, query(p, C.dnnl_query_dst_md))
	args := []arg{{C.DNNL_ARG_SRC, xt.buf}, {C.DNNL_ARG_WEIGHTS, wt.buf}, {C.DNNL_ARG_DST, yt.buf}}
	if b != nil {
		args = append(args, arg{C.DNNL_ARG_BIAS, be.biasBuf(p, tensor(b))})
	}
	be.exec(p, args)
}

// biasBuf returns the bias in the layout the primitive wants.
func (be *Backend) biasBuf(p *C.rg_prim, b *Tensor) *buffer {
	md := C.dnnl_primitive_desc_query_md(p.pd, C.dnnl_query_weights_md, 1)
	be.convert(b, md)
	return b.buf
}

// ConvBackwardData implements backend.Backend.
func (be *Backend) ConvBackwardData(dy, w, dx backend.Tensor, d backend.ConvDesc) {
	g := be.convGeom(dx, w, dy, d)
	if is2x2(g) {
		be.conv2x2BackwardData(tensor(dy), tensor(w), tensor(dx), g)
		return
	}
	fwd := be.convFwdPrim(g, true, false)
	p := be.prim(primKey{op: "conv-bwd-data", g: g}, func(p *C.rg_prim) C.int {
		return C.rg_conv_bwd_data(p, be.eng, &g, fwd)
	})
	dyt, wt, dxt := tensor(dy), tensor(w), tensor(dx)
	be.convert(dyt, query(p, C.dnnl_query_diff_dst_md))
	be.becomeOutput(dxt, query(p, C.dnnl_query_diff_src_md))
	be.exec(p, []arg{{C.DNNL_ARG_DIFF_DST, dyt.buf}, {C.DNNL_ARG_WEIGHTS, be.transient(wt, query(p, C.dnnl_query_weights_md))},
		{C.DNNL_ARG_DIFF_SRC, dxt.buf}})
}

// ConvBackwardFilter implements backend.Backend.
func (be *Backend) ConvBackwardFilter(x, dy, dw, db backend.Tensor, d backend.ConvDesc) {
	g := be.convGeom(x, dw, dy, d)
	if is2x2(g) {
		be.conv2x2BackwardFilter(tensor(x), tensor(dy), tensor(dw), tensor(db), g)
		return
	}
	fwd := be.convFwdPrim(g, db != nil, false)
	p := be.prim(primKey{op: "conv-bwd-weights", g: g, flags: int(b2i(db != nil))}, func(p *C.rg_prim) C.int {
		return C.rg_conv_bwd_weights(p, be.eng, &g, b2i(db != nil), fwd)
	})
	xt, dyt, dwt := tensor(x), tensor(dy), tensor(dw)
	be.convert(xt, query(p, C.dnnl_query_src_md))
	be.convert(dyt, query(p, C.dnnl_query_diff_dst_md))
	be.becomeOutput(dwt, query(p, C.dnnl_query_diff_weights_md))
	args := []arg{{C.DNNL_ARG_SRC, xt.buf}, {C.DNNL_ARG_DIFF_DST, dyt.buf}, {C.DNNL_ARG_DIFF_WEIGHTS, dwt.buf}}
	if db != nil {
		dbt := tensor(db)
		be.becomeOutput(dbt, C.dnnl_primitive_desc_query_md(p.pd, C.dnnl_query_diff_weights_md, 1))
		args = append(args, arg{C.DNNL_ARG_DIFF_BIAS, dbt.buf})
	}
	be.exec(p, args)
}

// parallel runs fn over [0, n) split across the backend's threads.
func (be *Backend) parallel(n int, fn func(lo, hi int)) {
	parts := min(be.threads, max(1, n/65536))
	if parts <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for t := 0; t < parts; t++ {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			fn(lo, hi)
		}(t*n/parts, (t+1)*n/parts)
	}
	wg.Wait()
}

// ReLUBackward implements backend.Backend.
func (be *Backend) ReLUBackward(y, dy, dx backend.Tensor) {
	defer alive(y, dy, dx)
	yt, dyt, dxt := tensor(y), tensor(dy), tensor(dx)
	if dxt == dyt {
		// In place: dy takes y's layout first.
		be.convert(dyt, &yt.md)
	}
	g := be.as(dyt, &yt.md).floats()
	if dxt != dyt {
		be.becomeOutput(dxt, &yt.md)
	}
	dxt.touch()
	ys, out := yt.buf.floats(), dxt.buf.floats()
	be.parallel(len(ys), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if ys[i] > 0 {
				out[i] = g[i]
			} else {
				out[i] = 0
			}
		}
	})
}

func poolGeom(x, y backend.Tensor, d backend.PoolDesc) C.rg_geom {
	xs, ys := x.Shape(), y.Shape()
	return C.rg_geom{n: C.int(xs[0]), c: C.int(xs[1]), h: C.int(xs[2]), w: C.int(xs[3]),
		o: C.int(xs[1]), kh: C.int(d.KH), kw: C.int(d.KW), oh: C.int(ys[2]), ow: C.int(ys[3]),
		sh: C.int(d.StrideH), sw: C.int(d.StrideW), pt: C.int(d.PadTop), pb: C.int(d.PadBottom),
		pl: C.int(d.PadLeft), pr: C.int(d.PadRight)}
}

func (be *Backend) poolForward(x, y backend.Tensor, d backend.PoolDesc, max bool) *C.rg_prim {
	g := poolGeom(x, y, d)
	xt, yt := tensor(x), tensor(y)
	p := be.prim(primKey{op: "pool-fwd", g: g, flags: int(b2i(max)), a: xt.md}, func(p *C.rg_prim) C.int {
		return C.rg_pool_fwd(p, be.eng, &xt.md, &g, b2i(max))
	})
	be.becomeOutput(yt, query(p, C.dnnl_query_dst_md))
	args := []arg{{C.DNNL_ARG_SRC, xt.buf}, {C.DNNL_ARG_DST, yt.buf}}
	if max {
		wsmd := query(p, C.dnnl_query_workspace_md)
		if yt.ws == nil || !mdEqual(&yt.ws.md, wsmd) {
			yt.ws = &Tensor{md: *wsmd, buf: be.alloc(wsmd)}
		}
		args = append(args, arg{C.DNNL_ARG_WORKSPACE, yt.ws.buf})
	}
	be.exec(p, args)
	return p
}

func (be *Backend) poolBackward(fwd *C.rg_prim, dy, dx backend.Tensor, ws *Tensor, d backend.PoolDesc, max bool) {
	g := poolGeom(dx, dy, d)
	dyt, dxt := tensor(dy), tensor(dx)
	want := query(fwd, C.dnnl_query_dst_md)
	p := be.prim(primKey{op: "pool-bwd", g: g, flags: int(b2i(max)), a: *want}, func(p *C.rg_prim) C.int {
		return C.rg_pool_bwd(p, be.eng, want, &g, b2i(max), fwd)
	})
	be.becomeOutput(dxt, query(p, C.dnnl_query_diff_src_md))
	args := []arg{{C.DNNL_ARG_DIFF_DST, be.as(dyt, want)}, {C.DNNL_ARG_DIFF_SRC, dxt.buf}}
	if max {
		args = append(args, arg{C.DNNL_ARG_WORKSPACE, ws.buf})
	}
	be.exec(p, args)
}

// MaxPoolForward implements backend.Backend.
func (be *Backend) MaxPoolForward(x, y backend.Tensor, d backend.PoolDesc) {
	tensor(y).pool = be.poolForward(x, y, d, true)
}

// MaxPoolBackward implements backend.Backend.
func (be *Backend) MaxPoolBackward(x, y, dy, dx backend.Tensor, d backend.PoolDesc) {
	yt := tensor(y)
	if yt.pool == nil || yt.ws == nil {
		be.MaxPoolForward(x, y, d)
	}
	be.poolBackward(yt.pool, dy, dx, yt.ws, d, true)
}

// AvgPoolForward implements backend.Backend.
func (be *Backend) AvgPoolForward(x, y backend.Tensor, d backend.PoolDesc) {
	be.avgFwd[poolGeom(x, y, d)] = be.poolForward(x, y, d, false)
}

// AvgPoolBackward implements backend.Backend.
func (be *Backend) AvgPoolBackward(dy, dx backend.Tensor, d backend.PoolDesc) {
	g := poolGeom(dx, dy, d)
	fwd, ok := be.avgFwd[g]
	if !ok {
		// No forward seen: build one for plain inputs as the hint.
		be.AvgPoolForward(be.New(dx.Shape()...), be.New(dy.Shape()...), d)
		fwd = be.avgFwd[g]
	}
	be.poolBackward(fwd, dy, dx, nil, d, false)
}

// ChannelPadForward implements backend.Backend.
func (be *Backend) ChannelPadForward(x, y backend.Tensor, before int) {
	xt, yt := tensor(x), tensor(y)
	if be.padBlocked(xt, yt, before, false) {
		return
	}
	n, c, h, w := xt.shape[0], xt.shape[1], xt.shape[2], xt.shape[3]
	cy := yt.shape[1]
	src := make([]float32, backend.Len(xt.shape))
	be.Download(xt, src)
	out := make([]float32, backend.Len(yt.shape))
	for i := 0; i < n; i++ {
		copy(out[(i*cy+before)*h*w:(i*cy+before+c)*h*w], src[i*c*h*w:(i+1)*c*h*w])
	}
	be.Upload(yt, out)
}

// ChannelPadBackward implements backend.Backend.
func (be *Backend) ChannelPadBackward(dy, dx backend.Tensor, before int) {
	dyt, dxt := tensor(dy), tensor(dx)
	if be.padBlocked(dxt, dyt, before, true) {
		return
	}
	n, c, h, w := dxt.shape[0], dxt.shape[1], dxt.shape[2], dxt.shape[3]
	cy := dyt.shape[1]
	src := make([]float32, backend.Len(dyt.shape))
	be.Download(dyt, src)
	out := make([]float32, backend.Len(dxt.shape))
	for i := 0; i < n; i++ {
		copy(out[i*c*h*w:(i+1)*c*h*w], src[(i*cy+before)*h*w:(i*cy+before+c)*h*w])
	}
	be.Upload(dxt, out)
}

// padBlocked handles channel padding in the nChw16c layout when the
// offset and both channel counts are whole blocks: then it is a copy of
// whole 16-channel blocks. Backward copies the blocks the other way.
func (be *Backend) padBlocked(small, big *Tensor, before int, backward bool) bool {
	defer alive(small, big)
	n, c, h, w := small.shape[0], small.shape[1], small.shape[2], small.shape[3]
	cb := big.shape[1]
	if before%16 != 0 || c%16 != 0 || cb%16 != 0 {
		return false
	}
	var smd, bmd C.dnnl_memory_desc_t
	C.rg_blocked_md(&smd, C.int(n), C.int(c), C.int(h), C.int(w))
	C.rg_blocked_md(&bmd, C.int(n), C.int(cb), C.int(h), C.int(w))
	if !backward {
		if !mdEqual(&small.md, &smd) {
			return false
		}
		be.becomeOutput(big, &bmd)
		bs, ss := big.buf.floats(), small.buf.floats()
		clear(bs)
		for i := 0; i < n; i++ {
			copy(bs[(i*cb+before)*h*w:(i*cb+before)*h*w+c*h*w], ss[i*c*h*w:(i+1)*c*h*w])
		}
		return true
	}
	if !mdEqual(&big.md, &bmd) {
		return false
	}
	be.becomeOutput(small, &smd)
	bs, ss := big.buf.floats(), small.buf.floats()
	for i := 0; i < n; i++ {
		copy(ss[i*c*h*w:(i+1)*c*h*w], bs[(i*cb+before)*h*w:(i*cb+before)*h*w+c*h*w])
	}
	return true
}

// AddTo implements backend.Backend. y keeps its layout and x is read in
// it: sums of activations (residual layers) whose two sides come from
// primitives with different layouts would otherwise reallocate y on every
// step.
func (be *Backend) AddTo(y, x backend.Tensor) {
	defer alive(y, x)
	yt := tensor(y)
	yt.touch()
	xs := be.as(tensor(x), &yt.md).floats()
	ys := yt.buf.floats()
	be.parallel(len(ys), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ys[i] += xs[i]
		}
	})
}

// accumulate prepares an element-wise update of y from x: y adopts x's
// layout (once: a moving average or a gradient then keeps its weight's
// layout) and is marked written; it returns x's values in that layout.
func (be *Backend) accumulate(y, x backend.Tensor) (*Tensor, []float32) {
	yt, xt := tensor(y), tensor(x)
	be.convert(yt, &xt.md)
	yt.touch()
	return yt, be.as(xt, &yt.md).floats()
}

// hostPlain returns t's values in plain row-major order.
func (be *Backend) hostPlain(t *Tensor) []float32 {
	md := plainMD(t.shape)
	return be.as(t, &md).floats()[:backend.Len(t.shape)]
}

// LinearForward implements backend.Backend: a small GEMM done on plain
// memory (10 classes by 512 features in the tutorial's model).
func (be *Backend) LinearForward(x, w, b, y backend.Tensor) {
	defer alive(x, w, b, y)
	xt, wt, yt := tensor(x), tensor(w), tensor(y)
	n, k, m := xt.shape[0], xt.shape[1], wt.shape[0]
	xs, ws := be.hostPlain(xt), be.hostPlain(wt)
	var bs []float32
	if b != nil {
		bs = be.hostPlain(tensor(b))
	}
	md := plainMD(yt.shape)
	be.becomeOutput(yt, &md)
	ys := yt.buf.floats()
	for i := 0; i < n; i++ {
		for j := 0; j < m; j++ {
			var s float32
			if bs != nil {
				s = bs[j]
			}
			for p, v := range xs[i*k : (i+1)*k] {
				s += v * ws[j*k+p]
			}
			ys[i*m+j] = s
		}
	}
}

// LinearBackward implements backend.Backend.
func (be *Backend) LinearBackward(x, w, dy, dx, dw, db backend.Tensor) {
	defer alive(x, w, dy, dx, dw, db)
	xt, wt, dyt := tensor(x), tensor(w), tensor(dy)
	n, k, m := xt.shape[0], xt.shape[1], wt.shape[0]
	xs, ws, g := be.hostPlain(xt), be.hostPlain(wt), be.hostPlain(dyt)
	if dx != nil {
		dxt := tensor(dx)
		md := plainMD(dxt.shape)
		be.becomeOutput(dxt, &md)
		out := dxt.buf.floats()
		for i := 0; i < n; i++ {
			row := out[i*k : (i+1)*k]
			clear(row)
			for j := 0; j < m; j++ {
				gv := g[i*m+j]
				for p, v := range ws[j*k : (j+1)*k] {
					row[p] += gv * v
				}
			}
		}
	}
	dwt := tensor(dw)
	md := plainMD(dwt.shape)
	be.becomeOutput(dwt, &md)
	out := dwt.buf.floats()
	clear(out)
	for i := 0; i < n; i++ {
		for j := 0; j < m; j++ {
			gv := g[i*m+j]
			row := out[j*k : (j+1)*k]
			for p, v := range xs[i*k : (i+1)*k] {
				row[p] += gv * v
			}
		}
	}
	if db != nil {
		dbt := tensor(db)
		md := plainMD(dbt.shape)
		be.becomeOutput(dbt, &md)
		bs := dbt.buf.floats()
		clear(bs)
		for i := 0; i < n; i++ {
			for j := 0; j < m; j++ {
				bs[j] += g[i*m+j]
			}
		}
	}
}

// SoftmaxCrossEntropy implements backend.Backend, on the host: logits are
// a few hundred values.
func (be *Backend) SoftmaxCrossEntropy(logits backend.Tensor, labels []int32, dlogits backend.Tensor) float64 {
	defer alive(logits, dlogits)
	lt := tensor(logits)
	var ds []float32
	if dlogits != nil {
		dt := tensor(dlogits)
		md := plainMD(dt.shape)
		be.becomeOutput(dt, &md)
		ds = dt.buf.floats()[:backend.Len(dt.shape)]
	}
	return backend.SoftmaxCrossEntropyHost(be.hostPlain(lt), lt.shape[0], lt.shape[1], labels, ds)
}

// Axpy implements backend.Backend.
func (be *Backend) Axpy(alpha float32, x, y backend.Tensor) {
	defer alive(x, y)
	yt, xs := be.accumulate(y, x)
	ys := yt.buf.floats()
	be.parallel(len(ys), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ys[i] += alpha * xs[i]
		}
	})
}

// Lerp implements backend.Backend.
func (be *Backend) Lerp(y, x backend.Tensor, t float32) {
	defer alive(y, x)
	yt, xs := be.accumulate(y, x)
	ys := yt.buf.floats()
	be.parallel(len(ys), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ys[i] += t * (xs[i] - ys[i])
		}
	})
}

// SumSquares implements backend.Backend. Padding in blocked layouts is
// zero, so it adds nothing.
func (be *Backend) SumSquares(t backend.Tensor) float64 {
	defer alive(t)
	var s float64
	for _, v := range tensor(t).buf.floats() {
		s += float64(v) * float64(v)
	}
	return s
}

var _ backend.Backend = (*Backend)(nil)

// Implementations names the oneDNN implementation (e.g. "brg:avx512_core")
// of every primitive made so far, by kind and flags: for finding out why a
// layer is slow.
func (be *Backend) Implementations() map[string]string {
	out := map[string]string{}
	for k, p := range be.prims {
		out[fmt.Sprintf("%s/%+v/flags=%d", k.op, k.g, k.flags)] = C.GoString(C.rg_impl(p))
	}
	return out
}

package native

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/resgo/resgo/backend"
)

// Backend is the pure-Go backend. It is not safe for concurrent use: it
// keeps a workspace that primitives reuse from call to call, so a
// training step allocates nothing once its shapes have been seen.
type Backend struct {
	opts  Options
	kern  *kernels
	ws    workspace
	convs map[convKey]*convPrimitive
	packs map[packKey]*packEntry
	// packNow is set while a chain runs (inference, see chain.go): the
	// weights it packs go into the cache at first sight, not into the
	// workspace, which would otherwise grow to hold a whole stage's.
	packNow bool
	workers *lazyPool
}

// Options choose how a Backend computes. The zero value is the default:
// every core, the algorithm chooseConv picks for each convolution, the
// widest instruction set this CPU has.
type Options struct {
	// Threads is the number of goroutines a primitive spreads its work
	// over (0: one per CPU). Results do not depend on it.
	Threads int
	// Conv limits the convolution algorithms (see ConvMode); "" is
	// ConvAuto.
	Conv ConvMode
	// ISA is the instruction set of the kernels (see ISAs); "" is the
	// widest this CPU has.
	ISA ISA
	// Precision is the number format of the convolutions' products (see
	// Precision); "" is F32. BF16 runs on the AVX512-BF16 instructions
	// where the CPU has them and on Go loops that give the same results
	// (much more slowly) where it has not: BF16Native tells which.
	Precision Precision
	// Int8Everywhere computes every int8 convolution (ConvForwardU8S8) on
	// bytes, also those Int8Conv leaves to float32 because bytes are
	// slower there: to test the int8 kernels on every shape, or to see the
	// accuracy of a model quantized throughout.
	Int8Everywhere bool
}

// NewWith returns a native backend with options o, or an error naming
// what is wrong with them (an instruction set this CPU lacks, say).
func NewWith(o Options) (*Backend, error) {
	if o.Threads < 0 {
		return nil, fmt.Errorf("native: %d threads: want 0 (one per CPU) or more", o.Threads)
	}
	if o.Threads == 0 {
		o.Threads = runtime.NumCPU()
	}
	switch o.Conv {
	case "":
		o.Conv = ConvAuto
	case ConvAuto, ConvNoWinograd, ConvIm2col:
	default:
		return nil, fmt.Errorf("native: unknown convolution mode %q (want %s, %s or %s)", o.Conv, ConvAuto, ConvNoWinograd, ConvIm2col)
	}
	switch o.Precision {
	case "":
		o.Precision = F32
	case F32, BF16:
	default:
		return nil, fmt.Errorf("native: unknown precision %q (want %s or %s)", o.Precision, F32, BF16)
	}
	k, err := kernelsFor(o.ISA)
	if err != nil {
		return nil, err
	}
	o.ISA = k.isa
	return &Backend{opts: o, kern: k, workers: &lazyPool{}}, nil
}

// New returns the default native backend using threads goroutines (0
// means one per CPU; fewer than 0 too).
func New(threads int) *Backend {
	be, err := NewWith(Options{Threads: max(0, threads)})
	if err != nil {
		panic(err) // the default options always fit
	}
	return be
}

// NewDirect returns the native backend without Winograd's algorithm
// (ConvNoWinograd): its 3x3 convolutions sum the same products as the
// reference loops, in another order, so it agrees with them (and with
// oneDNN's direct convolutions) to float32 rounding, where Winograd's
// transforms cost a few parts in 10^5.
func NewDirect(threads int) *Backend {
	be, err := NewWith(Options{Threads: max(0, threads), Conv: ConvNoWinograd})
	if err != nil {
		panic(err)
	}
	return be
}

// Options returns the backend's options, defaults filled in.
func (be *Backend) Options() Options { return be.opts }

// Name implements backend.Backend.
func (be *Backend) Name() string {
	switch be.opts.Conv {
	case ConvNoWinograd:
		return "native-direct"
	case ConvIm2col:
		return "native-im2col"
	}
	return "native"
}

// BF16Native reports whether this backend's bfloat16 products run on the
// CPU's AVX512-BF16 instructions (otherwise on Go loops, slowly).
func (be *Backend) BF16Native() bool { return be.kern.bf16.native }

// bf16 reports whether primitive p multiplies in bfloat16: with Precision
// BF16, on the direct and Winograd algorithms, where the sums run over an
// even count (the kernels take them in pairs): input channels forward,
// output channels backward-data, images in the direct weight gradient
// (rows of images are paired); Winograd's weight gradient pairs any rows;
// and on planar (forward only: stems), whose kernel rows it pads to an
// even width. The other algorithms (rows, im2col: a stem's weight
// gradient, 1x1) stay float32.
func (be *Backend) bf16(p *convPrimitive) bool {
	if be.opts.Precision != BF16 || (p.algo != Direct && p.algo != Winograd && p.algo != Planar) {
		return false
	}
	if p.algo == Planar {
		return true
	}
	switch p.pass {
	case backend.Forward:
		return p.g.c%2 == 0
	case backend.BackwardData:
		return p.g.o%2 == 0
	}
	return p.algo == Winograd || p.g.n%2 == 0
}

// ConvPrecision reports the precision of the products of pass of a
// convolution (x [N,C,H,W], w [O,C,KH,KW]) on this backend: BF16 where
// Precision is BF16 and the algorithm chosen computes in it, else F32.
func (be *Backend) ConvPrecision(x, w []int, d backend.ConvDesc, pass backend.ConvPass) Precision {
	g, err := geometry(x, w, d)
	if err != nil {
		return F32
	}
	a, _ := be.chooseConv(g, pass)
	if be.bf16(&convPrimitive{g: g, pass: pass, algo: a}) {
		return BF16
	}
	return F32
}

// Threads implements backend.Backend.
func (be *Backend) Threads() int { return be.opts.Threads }

// parallel splits [0, n) into contiguous ranges run on up to Options.Threads
// goroutines.
func (be *Backend) parallel(n int, fn func(lo, hi int)) {
	be.parallelWorkers(n, func(_, lo, hi int) { fn(lo, hi) })
}

// parallelWorkers is parallel telling each range its worker's index, below
// Options.Threads: for scratch buffers of one per worker.
func (be *Backend) parallelWorkers(n int, fn func(worker, lo, hi int)) {
	parts := min(be.opts.Threads, n)
	if parts <= 1 {
		fn(0, 0, n)
		return
	}
	if be.workers != nil && be.workers.get(be).run(n, parts, fn) {
		return
	}
	// The caller takes the first range itself: one goroutine fewer to
	// start and one less to wake it.
	var wg sync.WaitGroup
	for t := 1; t < parts; t++ {
		lo, hi := t*n/parts, (t+1)*n/parts
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(t, lo, hi)
		}()
	}
	fn(0, 0, n/parts)
	wg.Wait()
}

// parallelClaim runs fn(worker, i) for every i in [0, n) on up to
// Options.Threads workers that claim the items one at a time: for a few
// large items, where equal shares fixed in advance leave one thread
// waiting on the other whenever the items' costs, or the cores' speeds,
// differ. Results must not depend on which worker takes which item.
func (be *Backend) parallelClaim(n int, fn func(worker, i int)) {
	var next atomic.Int64
	be.parallelWorkers(min(be.opts.Threads, n), func(worker, _, _ int) {
		for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
			fn(worker, i)
		}
	})
}

// sumSlots is how many partial sums sumOverSlots keeps: a constant, not
// the thread count, so that the sums are the same bits on any number of
// threads; it also bounds that pass's parallelism.
const sumSlots = 8

// sumOverSlots computes a sum over groups [0, groups) in parallel: the
// groups are dealt out in runs to a few slots, each with an accumulator
// of size floats from ws, and run(worker, grp, acc, first) adds group
// grp's share into its slot's accumulator (first: the slot's first group,
// whose share is to be written rather than added; worker: below
// Options.Threads, for scratch buffers). The slots' accumulators are
// then summed in order into the first one, which is returned.
func (be *Backend) sumOverSlots(ws *workspace, groups, size int, run func(worker, grp int, acc []float32, first bool)) []float32 {
	slots := min(sumSlots, groups)
	accs := ws.take(slots * size)
	be.parallelClaim(slots, func(worker, slot int) {
		acc := accs[slot*size : (slot+1)*size]
		first, last := slot*groups/slots, (slot+1)*groups/slots
		for grp := first; grp < last; grp++ {
			run(worker, grp, acc, grp == first)
		}
	})
	const span = 4 << 10
	be.parallel((size+span-1)/span, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			sum := accs[i*span : min(size, (i+1)*span)]
			for slot := 1; slot < slots; slot++ {
				be.kern.add(sum, accs[slot*size+i*span:][:len(sum)])
			}
		}
	})
	return accs[:size]
}

// New implements backend.Backend.
func (be *Backend) New(shape ...int) backend.Tensor { return NewTensor(shape...) }

// Upload implements backend.Backend.
func (be *Backend) Upload(t backend.Tensor, src []float32) {
	written(t)
	d := data(t)
	if len(src) != len(d) {
		panic(fmt.Sprintf("native: upload of %d values into shape %v", len(src), t.Shape()))
	}
	copy(d, src)
}

// Download implements backend.Backend.
func (be *Backend) Download(t backend.Tensor, dst []float32) {
	d := data(t)
	if len(dst) != len(d) {
		panic(fmt.Sprintf("native: download of shape %v into %d values", t.Shape(), len(dst)))
	}
	copy(dst, d)
}

// HostSlice implements backend.HostMemory: t's own storage.
func (be *Backend) HostSlice(t backend.Tensor) []float32 {
	written(t)
	return data(t)
}

// Zero implements backend.Backend.
func (be *Backend) Zero(t backend.Tensor) {
	written(t)
	be.clear(data(t))
}

// clear zeroes s, in parallel when it is large (a training step clears
// and copies activations of megabytes between parallel regions, and on
// one thread those took 15 ms of a 455 ms step).
func (be *Backend) clear(s []float32) {
	be.elementwise(len(s), func(lo, hi int) { clear(s[lo:hi]) })
}

// copy is copy(dst, src) for slices of one length, in parallel when large.
func (be *Backend) copy(dst, src []float32) {
	be.elementwise(len(src), func(lo, hi int) { copy(dst[lo:hi], src[lo:hi]) })
}

// Copy implements backend.Backend.
func (be *Backend) Copy(dst, src backend.Tensor) {
	written(dst)
	d, s := data(dst), data(src)
	if len(d) != len(s) {
		panic("native: copy between tensors of different sizes")
	}
	be.copy(d, s)
}

// Reshape implements backend.Backend: a view on the same memory.
func (be *Backend) Reshape(t backend.Tensor, shape ...int) backend.Tensor {
	v := Wrap(data(t), shape...)
	v.version = t.(*Tensor).counter()
	return v
}

// ReLUForward implements backend.Backend.
func (be *Backend) ReLUForward(x, y backend.Tensor) {
	written(y)
	xs, ys := data(x), data(y)
	if len(xs) != len(ys) {
		panic("native: ReLUForward between tensors of different sizes")
	}
	// max(0, 0 + x) is max(0, x), bit for bit: the sum only turns -0,
	// which max makes +0 anyway, into +0.
	be.elementwise(len(xs), func(lo, hi int) { be.kern.addReLU(ys[lo:hi], nil, xs[lo:hi], true) })
}

// ReLUBackward implements backend.Backend. It is branch-free: whether a
// unit was active is close to a coin toss, which a branch predicts badly.
func (be *Backend) ReLUBackward(y, dy, dx backend.Tensor) {
	written(dx)
	ys, dys, dxs := data(y), data(dy), data(dx)
	be.parallel(len(ys)/4096+1, func(lo, hi int) {
		lo, hi = lo*4096, min(hi*4096, len(ys))
		be.kern.reluGrad(ys[lo:hi], dys[lo:hi], dxs[lo:hi])
	})
}

// reluGradGo is dx[i] = dy[i] where y[i] > 0, else 0 (see activeMask).
func reluGradGo(y, dy, dx []float32) {
	dy, dx = dy[:len(y)], dx[:len(y)]
	for i, v := range y {
		dx[i] = math.Float32frombits(math.Float32bits(dy[i]) & activeMask(v))
	}
}

// activeMask is all ones when y > 0 and zero otherwise (-0 and NaN
// included): a positive float's bits, read as an int32, are positive.
func activeMask(y float32) uint32 {
	return uint32(^((int64(int32(math.Float32bits(y))) - 1) >> 63))
}

// MaxPoolForward implements backend.Backend.
func (be *Backend) MaxPoolForward(x, y backend.Tensor, d backend.PoolDesc) {
	written(y)
	be.maxPoolForward(x, y, d)
}

// MaxPoolBackward implements backend.Backend.
func (be *Backend) MaxPoolBackward(x, y, dy, dx backend.Tensor, d backend.PoolDesc) {
	written(dx)
	be.maxPoolBackward(x, y, dy, dx, d)
}

// AvgPoolForward implements backend.Backend.
func (be *Backend) AvgPoolForward(x, y backend.Tensor, d backend.PoolDesc) {
	written(y)
	be.avgPoolForward(x, y, d)
}

// AvgPoolBackward implements backend.Backend.
func (be *Backend) AvgPoolBackward(dy, dx backend.Tensor, d backend.PoolDesc) {
	written(dx)
	be.avgPoolBackward(dy, dx, d)
}

// ChannelPadForward implements backend.Backend.
func (be *Backend) ChannelPadForward(x, y backend.Tensor, before int) {
	written(y)
	n, c, h, w := dims4(x)
	_, cy, _, _ := dims4(y)
	xs, ys := data(x), data(y)
	plane := h * w
	be.parallel(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			img := ys[i*cy*plane : (i+1)*cy*plane]
			clear(img[:before*plane])
			copy(img[before*plane:(before+c)*plane], xs[i*c*plane:(i+1)*c*plane])
			clear(img[(before+c)*plane:])
		}
	})
}

// ChannelPadBackward implements backend.Backend.
func (be *Backend) ChannelPadBackward(dy, dx backend.Tensor, before int) {
	written(dx)
	n, c, h, w := dims4(dx)
	_, cy, _, _ := dims4(dy)
	dys, dxs := data(dy), data(dx)
	plane := h * w
	be.parallel(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			copy(dxs[i*c*plane:(i+1)*c*plane], dys[(i*cy+before)*plane:(i*cy+before+c)*plane])
		}
	})
}

// AddTo implements backend.Backend.
func (be *Backend) AddTo(y, x backend.Tensor) {
	written(y)
	ys, xs := data(y), data(x)
	if len(ys) != len(xs) {
		panic("native: AddTo between tensors of different sizes")
	}
	be.elementwise(len(xs), func(lo, hi int) { be.kern.add(ys[lo:hi], xs[lo:hi]) })
}

// MergeResidual implements backend.ResidualMerger, image by image: the
// padded channels' sums are 0 + body, the rest short + body, through
// addReLU.
func (be *Backend) MergeResidual(short, body, y backend.Tensor, before int, relu bool) {
	written(y)
	n, c, h, w := dims4(short)
	nb, cy, hb, wb := dims4(body)
	if ny, cyy, hy, wy := dims4(y); nb != n || hb != h || wb != w || ny != n || cyy != cy || hy != h || wy != w || before < 0 || before+c > cy {
		panic(fmt.Sprintf("native: MergeResidual of shortcut %v at channel %d with body %v into %v", short.Shape(), before, body.Shape(), y.Shape()))
	}
	ss, bs, ys := data(short), data(body), data(y)
	plane := h * w
	be.parallel(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			img := i * cy * plane
			dst, b := ys[img:img+cy*plane], bs[img:img+cy*plane]
			be.kern.addReLU(dst[:before*plane], nil, b[:before*plane], relu)
			be.kern.addReLU(dst[before*plane:(before+c)*plane], ss[i*c*plane:(i+1)*c*plane], b[before*plane:(before+c)*plane], relu)
			be.kern.addReLU(dst[(before+c)*plane:], nil, b[(before+c)*plane:], relu)
		}
	})
}

// LinearForward implements backend.Backend.
func (be *Backend) LinearForward(x, w, b, y backend.Tensor) {
	written(y)
	n, k := x.Shape()[0], x.Shape()[1]
	m := w.Shape()[0]
	ys, bs := data(y), data(b)
	gemm(be.kern, be.opts.Threads, n, m, k, matrix{data: data(x), stride: k}, matrix{data: data(w), stride: k, trans: true}, 0, ys, m)
	if bs != nil {
		for i := 0; i < n; i++ {
			for j := range bs {
				ys[i*m+j] += bs[j]
			}
		}
	}
}

// LinearBackward implements backend.Backend.
func (be *Backend) LinearBackward(x, w, dy, dx, dw, db backend.Tensor) {
	written(dx, dw, db)
	n, k := x.Shape()[0], x.Shape()[1]
	m := w.Shape()[0]
	dys := data(dy)
	if dx != nil {
		gemm(be.kern, be.opts.Threads, n, k, m, matrix{data: dys, stride: m}, matrix{data: data(w), stride: k}, 0, data(dx), k)
	}
	gemm(be.kern, be.opts.Threads, m, k, n, matrix{data: dys, stride: m, trans: true}, matrix{data: data(x), stride: k}, 0, data(dw), k)
	if dbs := data(db); dbs != nil {
		clear(dbs)
		for i := 0; i < n; i++ {
			for j := range dbs {
				dbs[j] += dys[i*m+j]
			}
		}
	}
}

// SoftmaxCrossEntropy implements backend.Backend.
func (be *Backend) SoftmaxCrossEntropy(logits backend.Tensor, labels []int32, dlogits backend.Tensor) float64 {
	written(dlogits)
	s := logits.Shape()
	return backend.SoftmaxCrossEntropyHost(data(logits), s[0], s[1], labels, data(dlogits))
}

// Axpy implements backend.Backend.
func (be *Backend) Axpy(alpha float32, x, y backend.Tensor) {
	written(y)
	xs, ys := data(x), data(y)
	be.elementwise(len(xs), func(lo, hi int) {
		for i, v := range xs[lo:hi] {
			ys[lo+i] += alpha * v
		}
	})
}

// elementwiseGrain is the fewest elements worth a goroutine of their own.
const elementwiseGrain = 1 << 16

// elementwise runs fn over [0, n) in ranges on up to Options.Threads goroutines
// when n is large: the optimizer's updates and the moving averages touch
// every parameter each step.
func (be *Backend) elementwise(n int, fn func(lo, hi int)) {
	chunks := (n + elementwiseGrain - 1) / elementwiseGrain
	be.parallel(chunks, func(lo, hi int) { fn(lo*elementwiseGrain, min(hi*elementwiseGrain, n)) })
}

// Scale implements backend.Backend.
func (be *Backend) Scale(t backend.Tensor, alpha float32) {
	written(t)
	ts := data(t)
	be.elementwise(len(ts), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ts[i] *= alpha
		}
	})
}

// Lerp implements backend.Backend.
func (be *Backend) Lerp(y, x backend.Tensor, t float32) {
	written(y)
	ys, xs := data(y), data(x)
	be.elementwise(len(xs), func(lo, hi int) {
		for i, v := range xs[lo:hi] {
			ys[lo+i] += t * (v - ys[lo+i])
		}
	})
}

// SumSquares implements backend.Backend: chunks of elementwiseGrain
// summed in parallel (four running sums each, for the adder's latency),
// then the chunks' sums in order, so that the result does not depend on
// the thread count. The L2 penalty takes it over every weight each step.
func (be *Backend) SumSquares(t backend.Tensor) float64 {
	xs := data(t)
	chunks := (len(xs) + elementwiseGrain - 1) / elementwiseGrain
	sums := make([]float64, chunks)
	be.parallel(chunks, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			sums[c] = sumSquares(xs[c*elementwiseGrain : min(len(xs), (c+1)*elementwiseGrain)])
		}
	})
	var s float64
	for _, v := range sums {
		s += v
	}
	return s
}

// UpdateParams implements backend.FusedUpdater: every update's chunks of
// elementwiseGrain in one list, split over the threads, each chunk taken
// through every step of its update while in cache, with the expressions
// of SumSquares, Axpy, Scale, AddTo and Lerp (so the same bits); each
// update's sums of squares per chunk are then added in order.
func (be *Backend) UpdateParams(us []backend.ParamUpdate) []float64 {
	type chunk struct{ update, index, lo, hi int }
	var chunks []chunk
	sums := make([][]float64, len(us))
	for k, u := range us {
		ws, gs := data(u.Value), data(u.Grad)
		vs, es := data(u.Velocity), data(u.Shadow)
		if len(gs) != len(ws) || (vs != nil && len(vs) != len(ws)) || (es != nil && len(es) != len(ws)) {
			panic(fmt.Sprintf("native: UpdateParams between tensors of different sizes (value %d, gradient %d, velocity %d, shadow %d)", len(ws), len(gs), len(vs), len(es)))
		}
		written(u.Value, u.Grad, u.Velocity, u.Shadow)
		n := (len(ws) + elementwiseGrain - 1) / elementwiseGrain
		for c := 0; c < n; c++ {
			chunks = append(chunks, chunk{k, c, c * elementwiseGrain, min(len(ws), (c+1)*elementwiseGrain)})
		}
		if u.L2 != 0 {
			sums[k] = make([]float64, n)
		}
	}
	be.parallelClaim(len(chunks), func(_, i int) {
		c := chunks[i]
		ss := be.updateChunk(us[c.update], c.lo, c.hi)
		if sums[c.update] != nil {
			sums[c.update][c.index] = ss
		}
	})
	out := make([]float64, len(us))
	for k, s := range sums {
		for _, v := range s {
			out[k] += v
		}
	}
	return out
}

// updateChunk runs u on elements [a, b) and returns their sum of squares
// before the update (0 without the penalty).
func (be *Backend) updateChunk(u backend.ParamUpdate, a, b int) float64 {
	w, g := data(u.Value)[a:b:b], data(u.Grad)[a:b:b]
	var v, e []float32
	if u.Velocity != nil {
		v = data(u.Velocity)[a:b:b]
	}
	if u.Shadow != nil {
		e = data(u.Shadow)[a:b:b]
	}
	var ss float64
	if u.L2 != 0 {
		ss = sumSquares(w)
	}
	be.kern.update(w, g, v, e, [4]float32{u.L2, -u.LR, u.Momentum, u.EMA})
	return ss
}

// updateGo is kernels.update in Go: with c = {l2, alpha, momentum, ema},
// g += l2*w (l2 not 0), v = v*momentum + g (v not nil: the step is v,
// else g), w += alpha*step, e += ema*(w - e) (e not nil), element by
// element; v and e are nil or as long as w.
func updateGo(w, g, v, e []float32, c [4]float32) {
	l2, alpha, m, t := c[0], c[1], c[2], c[3]
	g = g[:len(w)]
	if l2 != 0 {
		for i, x := range w {
			g[i] += l2 * x
		}
	}
	step := g
	if v != nil {
		v = v[:len(w)]
		for i := range v {
			v[i] = float32(v[i]*m) + g[i] // rounded, then added: as Scale, then AddTo
		}
		step = v
	}
	for i, d := range step {
		w[i] += alpha * d
	}
	if e != nil {
		e = e[:len(w)]
		for i, x := range w {
			e[i] += t * (x - e[i])
		}
	}
}

func sumSquares(x []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		s0 += float64(v[0]) * float64(v[0])
		s1 += float64(v[1]) * float64(v[1])
		s2 += float64(v[2]) * float64(v[2])
		s3 += float64(v[3]) * float64(v[3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i]) * float64(x[i])
	}
	return (s0 + s1) + (s2 + s3)
}

var (
	_ backend.Backend      = (*Backend)(nil)
	_ backend.FusedUpdater = (*Backend)(nil)
)

package native

import (
	"fmt"
	"unsafe"

	"github.com/resgo/resgo/backend"
)

// Int8 inference (backend.QuantizedConv): unsigned bytes (the
// activations, quantized with a zero point) times signed bytes (the
// weights), four channels at a time, summed in int32 as AVX512-VNNI's
// VPDPBUSD does, on the direct path's tiles. The Go functions here are the
// plain versions of internal/asm's int8 kernels (tiles, quantization,
// conversion of the sums), which the tests compare bit for bit.

// tileU8S8Go is the portable u8 x s8 tile kernel for tiles of mr x nr: the
// table as tileFunc's, its offsets counting bytes (kq quads past each
// row's start); w holds quads of signed bytes (channel 4q+i of column j in
// byte i of word q*ldb+j); ldb and tapStride in words. The int32 sums
// (wrapping, as the instruction's do) are stored as float32 through
// int8Epilogue: minus the zero points' share of the taps the tile runs
// (zw[t*nr+j] for tap t), times scale, plus bias, the ReLU when relu.
func tileU8S8Go(mr, nr int, tbl *int32, taps, kq int, x *uint8, w *uint32, c *float32, ldc, ldb, tapStride int, zw *int32, scale, bias *float32, relu bool) {
	acc, comp := u8s8Sums(mr, nr, tbl, taps, kq, x, w, ldb, tapStride, zw)
	cs := unsafe.Slice(c, (mr-1)*ldc+nr)
	sc, bi := unsafe.Slice(scale, nr), unsafe.Slice(bias, nr)
	for r := 0; r < mr; r++ {
		for j, v := range acc[r*nr : (r+1)*nr] {
			cs[r*ldc+j] = int8Epilogue(v-comp[j], sc[j], bi[j], relu)
		}
	}
}

// tileU8S8BytesGo is tileU8S8Go storing each output as the next
// convolution's byte (ldc in bytes; backend.QuantizeScaled with the
// inverse step inv).
func tileU8S8BytesGo(mr, nr int, tbl *int32, taps, kq int, x *uint8, w *uint32, c *uint8, ldc, ldb, tapStride int, zw *int32, scale, bias *float32, relu bool, inv float32, zero int32) {
	acc, comp := u8s8Sums(mr, nr, tbl, taps, kq, x, w, ldb, tapStride, zw)
	cs := unsafe.Slice(c, (mr-1)*ldc+nr)
	sc, bi := unsafe.Slice(scale, nr), unsafe.Slice(bias, nr)
	for r := 0; r < mr; r++ {
		for j, v := range acc[r*nr : (r+1)*nr] {
			cs[r*ldc+j] = backend.QuantizeScaled(int8Epilogue(v-comp[j], sc[j], bi[j], relu)*inv, uint8(zero))
		}
	}
}

// u8s8Sums is the int8 tiles' products: the int32 sums of the mr x nr
// tile (row-major) and the zero points' share of the taps it runs.
func u8s8Sums(mr, nr int, tbl *int32, taps, kq int, x *uint8, w *uint32, ldb, tapStride int, zw *int32) ([]int32, []int32) {
	entries := unsafe.Slice(tbl, taps*(mr+1))
	acc := make([]int32, mr*nr)
	comp := make([]int32, nr)
	for t := 0; t < taps; t++ {
		e := entries[t*(mr+1) : (t+1)*(mr+1)]
		for j, z := range unsafe.Slice((*int32)(unsafe.Add(unsafe.Pointer(zw), 4*nr*int(e[mr]))), nr) {
			comp[j] += z
		}
		bs := unsafe.Slice((*uint32)(unsafe.Add(unsafe.Pointer(w), 4*int(e[mr])*tapStride)), max(0, (kq-1)*ldb+nr))
		for r := 0; r < mr; r++ {
			xs := unsafe.Slice((*uint32)(unsafe.Add(unsafe.Pointer(x), int(e[r])-4*kq)), kq)
			a := acc[r*nr : (r+1)*nr]
			for q, xv := range xs {
				for j, bv := range bs[q*ldb : q*ldb+nr] {
					a[j] += dotU8S8(xv, bv)
				}
			}
		}
	}
	return acc, comp
}

// int8Epilogue is an int8 output from its sum (the zero points' share
// taken off): backend.Int8Output's product, plus the bias, then the ReLU.
func int8Epilogue(sum int32, scale, bias float32, relu bool) float32 {
	y := float32(sum)*scale + bias
	if relu && y < 0 {
		y = 0
	}
	return y
}

// dotU8S8 is the sum of the products of x's four unsigned bytes with w's
// four signed ones.
func dotU8S8(x, w uint32) int32 {
	var s int32
	for i := 0; i < 32; i += 8 {
		s += int32(uint8(x>>i)) * int32(int8(w>>i))
	}
	return s
}

// tileU8S8Func is the int8 tile kernel's signature (see tileU8S8Go).
type tileU8S8Func func(tbl *int32, taps, kq int, x *uint8, w *uint32, c *float32, ldc, ldb, tapStride int, zw *int32, scale, bias *float32, relu bool)

// tileU8S8BytesFunc is the signature of the int8 tile kernel storing
// bytes (see tileU8S8BytesGo).
type tileU8S8BytesFunc func(tbl *int32, taps, kq int, x *uint8, w *uint32, c *uint8, ldc, ldb, tapStride int, zw *int32, scale, bias *float32, relu bool, inv float32, zero int32)

// tileU8S8BytesGoFunc returns tileU8S8BytesGo for tiles of mr x nr.
func tileU8S8BytesGoFunc(mr, nr int) tileU8S8BytesFunc {
	return func(tbl *int32, taps, kq int, x *uint8, w *uint32, c *uint8, ldc, ldb, tapStride int, zw *int32, scale, bias *float32, relu bool, inv float32, zero int32) {
		tileU8S8BytesGo(mr, nr, tbl, taps, kq, x, w, c, ldc, ldb, tapStride, zw, scale, bias, relu, inv, zero)
	}
}

// tileU8S8GoFunc returns tileU8S8Go for tiles of mr x nr.
func tileU8S8GoFunc(mr, nr int) tileU8S8Func {
	return func(tbl *int32, taps, kq int, x *uint8, w *uint32, c *float32, ldc, ldb, tapStride int, zw *int32, scale, bias *float32, relu bool) {
		tileU8S8Go(mr, nr, tbl, taps, kq, x, w, c, ldc, ldb, tapStride, zw, scale, bias, relu)
	}
}

// U8S8Native reports whether this backend's int8 products run on the
// CPU's AVX512-VNNI instruction (otherwise on Go loops, slowly).
func (be *Backend) U8S8Native() bool { return be.kern.u8s8Native }

// Int8Conv implements backend.QuantizedConv: a convolution computes on
// bytes when the CPU has AVX512-VNNI (U8S8Native; the Go loops are many
// times slower than float32) and each output sums at least
// int8MinProducts products; below, converting the input to bytes and the
// sums back costs more than the faster products save (measured: the 7x7
// stem on one channel and the 1x1 convolutions on 64 channels ran
// 1.2-2.3x slower in int8 than in float32, every 3x3 on 32 channels or
// more faster). Options.Int8Everywhere makes every one compute on bytes.
func (be *Backend) Int8Conv(x, w []int, d backend.ConvDesc) bool {
	if be.opts.Int8Everywhere {
		return true
	}
	return be.kern.u8s8Native && len(w) == 4 && w[1]*w[2]*w[3] >= int8MinProducts
}

// int8MinProducts is the fewest products per output (channels x taps)
// that Int8Conv computes on bytes.
const int8MinProducts = 256

// ConvForwardU8S8 implements backend.QuantizedConv on the direct path's
// tiles: the input to PNC rows of bytes (channels padded to a multiple
// of four with zeros), the weights to quads of signed bytes per output
// channel (kept while they do not change), int32 sums, the zero point's
// share taken off, the scale, bias and ReLU applied as they become
// float32, then back to NCHW. Sums of more than about 66,000 products
// (channels x taps) could overflow int32. Shapes Int8Conv leaves to
// float32 go to ConvForward.
func (be *Backend) ConvForwardU8S8(x, w, b, y backend.Tensor, d backend.ConvDesc, in backend.InputQuant) {
	written(y)
	if err := in.Validate(); err != nil {
		panic("native: " + err.Error())
	}
	if !be.Int8Conv(x.Shape(), w.Shape(), d) {
		be.ConvForward(x, w, b, y, d)
		return
	}
	g := newConvGeom(x, w, y, d)
	g.d.ReLU = false
	p := be.int8Primitive(g)
	ws := be.begin(p)
	defer be.end(p)
	q := be.u8s8Input(p, ws, data(x), in)
	op := be.u8s8Operands(p, ws, q, w.(*Tensor), data(b), d.ReLU, in)
	be.u8s8Output(p, ws, op, data(y))
}

// ConvForwardU8S8Chain implements backend.QuantizedChain where both
// convolutions of every block compute on bytes (Int8Conv) and their output
// channels fill whole blocks of tile columns (but the last's): each
// block's first convolution's tiles store their outputs as the second's
// input bytes, in the PNC rows the second reads, so that activation never
// exists in float32 or NCHW; the second's float32 output rows take the
// shortcut's sum (and ReLU) in place, and are the next block's input (and
// shortcut) rows, quantized as they are: the activations go to NCHW once,
// at the end.
func (be *Backend) ConvForwardU8S8Chain(x backend.Tensor, blocks []backend.ChainBlock, y backend.Tensor) bool {
	plan, ok := planChain(x.Shape(), blocks, y.Shape())
	if !ok {
		return false
	}
	nr := be.kern.tileCols
	for i, cb := range plan {
		b := cb.b
		if b.In1.Validate() != nil || b.In2.Validate() != nil || cb.g1.o%nr != 0 || (cb.g2.o%nr != 0 && i < len(plan)-1) ||
			!be.Int8Conv([]int{cb.g1.n, cb.g1.c, cb.g1.h, cb.g1.w}, b.W1.Shape(), b.D1) ||
			!be.Int8Conv([]int{cb.g2.n, cb.g2.c, cb.g2.h, cb.g2.w}, b.W2.Shape(), b.D2) {
			return false
		}
	}
	written(y)
	prs := make([][2]*convPrimitive, len(plan))
	for i, cb := range plan {
		g1, g2 := cb.g1, cb.g2
		g1.d.ReLU, g2.d.ReLU = false, false
		prs[i] = [2]*convPrimitive{be.int8Primitive(g1), be.int8Primitive(g2)}
	}
	ws := be.begin(prs[0][0])
	defer be.end(prs[0][0])
	be.packNow = true
	defer func() { be.packNow = false }()
	xs := data(x)
	// in: the block's input as float32 PNC rows, where a shortcut or a
	// block before needs them; the first block's input is quantized
	// straight from NCHW.
	var in []float32
	var ld int
	if plan[0].b.Shortcut {
		g := plan[0].g1
		in, ld = ws.take(g.n*g.h*g.w*g.c), g.c
		be.toPNC(xs, g.n, g.c, g.h*g.w, in)
	}
	for i, cb := range plan {
		b, g1, g2 := cb.b, cb.g1, cb.g2
		p1, p2 := prs[i][0], prs[i][1]
		var q1 []uint8
		if i == 0 {
			q1 = be.u8s8Input(p1, ws, xs, b.In1)
		} else {
			q1 = be.quantizePNC(ws, in, g1.n*g1.h*g1.w, g1.c, b.In1)
		}
		op1 := be.u8s8Operands(p1, ws, q1, b.W1.(*Tensor), data(b.B1), b.D1.ReLU, b.In1)
		// The second's input rows: every row the first's tiles write
		// (their last tile may run past the images' rows), then the
		// padding row, written after them.
		rows, tileRows, c := g1.n*g1.p(), (len(p1.plan.starts)-1)*be.kern.tileRows, g1.o
		q2 := asBytes(ws.take((max(tileRows, rows+1)*c + 3) / 4))
		op1.int8.out, op1.int8.ld, op1.int8.next = q2, c, b.In2
		be.runTiles(p1.plan, op1, c/nr, nil)
		padRow(q2[rows*c:(rows+1)*c], c, b.In2.Zero)
		op2 := be.u8s8Operands(p2, ws, q2, b.W2.(*Tensor), data(b.B2), b.D2.ReLU, b.In2)
		blocks := (g2.o + nr - 1) / nr
		out := ws.take((len(p2.plan.starts) - 1) * be.kern.tileRows * blocks * nr)
		be.runTiles(p2.plan, op2, blocks, out)
		if b.Shortcut {
			be.addRowsParallel(out, blocks*nr, in, cb.c, g2.n*g2.p(), b.Before, b.ReLU)
		}
		in, ld = out, blocks*nr
	}
	g := plan[len(plan)-1].g2
	be.fromRows(in, ld, g.n, g.o, g.p(), data(y), nil, false)
	return true
}

// quantizePNC writes float32 PNC rows (rows of c channels) as rows of
// bytes for the int8 tiles: c rounded up to a multiple of 4 per row (the
// extra channels 0), then one padding row of zero points.
func (be *Backend) quantizePNC(ws *workspace, pnc []float32, rows, c int, in backend.InputQuant) []uint8 {
	c4 := (c + 3) &^ 3
	q := asBytes(ws.take(((rows+1)*c4 + 3) / 4))
	inv := in.Inverse()
	if c == c4 {
		// The rows are one run of values: quantized in chunks.
		be.elementwise(rows*c, func(lo, hi int) { be.kern.quantizeU8(pnc[lo:hi], q[lo:hi], inv, in.Zero) })
	} else {
		be.parallel(rows, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				be.kern.quantizeU8(pnc[r*c:(r+1)*c], q[r*c4:r*c4+c], inv, in.Zero)
				clear(q[r*c4+c : (r+1)*c4])
			}
		})
	}
	padRow(q[rows*c4:(rows+1)*c4], c, in.Zero)
	return q
}

// int8Primitive returns the int8 forward primitive of g (ReLU cleared):
// the plan of the direct tiles over rows of the channels rounded up to
// quads of bytes.
func (be *Backend) int8Primitive(g convGeom) *convPrimitive {
	c4 := (g.c + 3) &^ 3
	if k := c4 * g.kh * g.kw; k > 66000 {
		panic(fmt.Sprintf("native: int8 convolution over %d products per output: int32 sums could overflow", k))
	}
	key := convKey{g, backend.Forward, true}
	p, ok := be.convs[key]
	if !ok {
		g4 := g
		g4.c = c4
		p = &convPrimitive{g: g, pass: backend.Forward, algo: Direct, reason: "int8 (direct tiles on bytes)", plan: be.tilePlanOf(g4, false)}
		if be.convs == nil {
			be.convs = map[convKey]*convPrimitive{}
		}
		be.convs[key] = p
	}
	return p
}

// u8s8Input returns x ([n, c, h, w]) as the PNC byte rows pr's tiles read
// (see quantizeRows), in the workspace.
func (be *Backend) u8s8Input(pr *convPrimitive, ws *workspace, xs []float32, in backend.InputQuant) []uint8 {
	g := pr.g
	kq := (g.c + 3) / 4
	inRows := g.n * g.h * g.w
	qf := ws.take((inRows + 1) * kq)
	be.quantizeRows(ws, xs, g.n, g.c, g.h*g.w, in, qf)
	return asBytes(qf)
}

// u8s8Operands returns the operands of pr's tiles over the input bytes q:
// the weights quantized and packed (kept), and the epilogue's values per
// output column (zeros past o): the scale, the bias, and the zero points'
// share of each tap, zero·Σ_c q_w, which every sum of a tile running the
// tap holds (the padding row holds zero points too, so only the taps a
// tile skips, not rows reading padding, leave it out).
func (be *Backend) u8s8Operands(pr *convPrimitive, ws *workspace, q []uint8, w *Tensor, bs []float32, relu bool, in backend.InputQuant) *tileOperands {
	g := pr.g
	nr, taps := be.kern.tileCols, g.kh*g.kw
	blocks := (g.o + nr - 1) / nr
	wq, steps, tapSums := be.u8s8Weights(ws, w, g.o, g.c, taps)
	ldc := blocks * nr
	ep := &int8Epilogues{scale: make([]float32, ldc), bias: make([]float32, ldc), relu: relu}
	for o := range g.o {
		ep.scale[o] = in.Step * steps[o]
	}
	copy(ep.bias, bs)
	ep.zw = asInt32(ws.take(blocks * taps * nr))
	clear(ep.zw)
	for o := range g.o {
		j, col := o/nr, o%nr
		for t := range taps {
			ep.zw[(j*taps+t)*nr+col] = int32(in.Zero) * tapSums[o*taps+t]
		}
	}
	return &tileOperands{kc: (g.c + 3) &^ 3, taps: taps, x8: q, w8: wq, int8: ep}
}

// u8s8Output runs pr's tiles into float32 rows and moves them to ys
// (NCHW).
func (be *Backend) u8s8Output(pr *convPrimitive, ws *workspace, op *tileOperands, ys []float32) {
	g, mr, nr := pr.g, be.kern.tileRows, be.kern.tileCols
	blocks := (g.o + nr - 1) / nr
	ldc := blocks * nr
	out := ws.take((len(pr.plan.starts) - 1) * mr * ldc)
	be.runTiles(pr.plan, op, blocks, out)
	be.fromRows(out, ldc, g.n, g.o, g.p(), ys, nil, false)
}

// quantizeRows writes x ([n, c, p] NCHW) as PNC rows of bytes, c4 =
// c rounded up to a multiple of 4 per row (the extra channels 0), then
// one padding row of zero points (the extra channels 0): a padded input
// is an exact 0.
func (be *Backend) quantizeRows(ws *workspace, xs []float32, n, c, p int, in backend.InputQuant, qf []float32) {
	c4 := (c + 3) &^ 3
	rows := n * p
	inv := in.Inverse()
	q := asBytes(qf)
	if c == c4 {
		// Each image's channels four at a time into one word per
		// position (NCHW order), then words moved as floats are into
		// PNC rows: a quarter of float32's data through the transpose.
		quads := c / 4
		wf := ws.take(n * quads * p)
		words := asWords(wf)
		be.parallel(n*quads, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				be.kern.quantizeQuads(p, xs[4*i*p:], p, words[i*p:(i+1)*p], inv, in.Zero)
			}
		})
		be.toPNC(wf, n, quads, p, qf)
		padRow(q[rows*c4:(rows+1)*c4], c, in.Zero)
		return
	}
	pnc := ws.take(rows * c)
	be.toPNC(xs, n, c, p, pnc)
	copy(q, be.quantizePNC(ws, pnc, rows, c, in))
}

// padRow fills the padding row: c zero points, then zeros.
func padRow(row []uint8, c int, zero uint8) {
	for ch := range row {
		row[ch] = 0
		if ch < c {
			row[ch] = zero
		}
	}
}

// quantizeU8Go is the portable quantizeU8: dst[i] = the byte of src[i]
// (backend.InputQuant.Quantize, with its inverse step inv).
func quantizeU8Go(src []float32, dst []uint8, inv float32, zero uint8) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = backend.QuantizeScaled(v*inv, zero)
	}
}

// quantizeQuadsGo is the portable quantizeQuads: n positions of four
// planes (plane floats apart) quantized (inverse step inv) and packed one
// word per position, the first plane's byte lowest.
func quantizeQuadsGo(n int, src []float32, plane int, dst []uint32, inv float32, zero uint8) {
	dst = dst[:n]
	for i := range dst {
		var word uint32
		for k := range 4 {
			word |= uint32(backend.QuantizeScaled(src[k*plane+i]*inv, zero)) << (8 * k)
		}
		dst[i] = word
	}
}

// u8s8Weights returns w quantized (backend.WeightSteps, QuantizeS8) and
// packed tap-major for the int8 tile kernel, [block][tap][quad][column]
// words holding channels 4q..4q+3 of one column (zeros past c and o),
// with the steps of the o output channels and the sums of their bytes at
// each tap ([o][taps]); kept while w does not change.
func (be *Backend) u8s8Weights(ws *workspace, w *Tensor, o, c, taps int) ([]uint32, []float32, []int32) {
	nr := be.kern.tileCols
	kq := (c + 3) / 4
	blocks := (o + nr - 1) / nr
	words := blocks * taps * kq * nr
	packed, _ := be.cachedPack(ws, w, packU8S8, words+o+o*taps, func(_ weightLayout, dst []float32) {
		steps := backend.WeightSteps(w.Data, o)
		copy(dst[words:], steps)
		tapSums := asInt32(dst[words+o:])
		for oc := range o {
			for t := range taps {
				var s int32
				for ch := range c {
					s += int32(backend.QuantizeS8(w.Data[(oc*c+ch)*taps+t], steps[oc]))
				}
				tapSums[oc*taps+t] = s
			}
		}
		wq := asWords(dst[:words])
		be.parallel(blocks*taps, func(lo, hi int) {
			for u := lo; u < hi; u++ {
				j, t := u/taps, u%taps
				blk := wq[(j*taps+t)*kq*nr : (j*taps+t+1)*kq*nr]
				clear(blk)
				for col := 0; col < min(nr, o-j*nr); col++ {
					oc := j*nr + col
					for ch := 0; ch < c; ch++ {
						v := uint32(uint8(backend.QuantizeS8(w.Data[(oc*c+ch)*taps+t], steps[oc])))
						blk[ch/4*nr+col] |= v << (8 * (ch % 4))
					}
				}
			}
		})
	})
	return asWords(packed[:words]), packed[words : words+o], asInt32(packed[words+o : words+o+o*taps])
}

// asBytes and asInt32 view a workspace's float32 buffer as the bytes
// (four times as many) or int32 sums of the int8 path.
func asBytes(s []float32) []uint8 {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*uint8)(unsafe.Pointer(&s[0])), 4*len(s))
}

func asInt32(s []float32) []int32 {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*int32)(unsafe.Pointer(&s[0])), len(s))
}

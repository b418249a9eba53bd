//go:build dnnl

package dnnl

/*
#include "glue.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// A 3x3, stride-1, padding-1 convolution on 2x2 maps (the last stage of
// the tutorial's network) reads zero padding with 5 of its 9 taps on
// average: each output pixel sees the four input pixels through four
// taps. oneDNN's direct kernels compute the padded taps anyway. Here it is
// a few matrix products per tap instead, over the (output pixel p, input
// pixel q) pairs that tap joins, so only the useful 4/9 of the
// multiply-adds are done. Activations are kept in NHWC and weights in
// HWIO for it, so that the rows of the pairs a tap joins are evenly
// strided: the centre tap joins every pixel to itself (one product over
// all 4N rows), a horizontal neighbour tap joins two pixels per image at
// stride 2 (one product over 2N rows), and the other taps take one
// product per pair (N rows at stride 4): 11 products per pass, each tap's
// weights read once.

// min2x2Work is the smallest N*C*O for which the products pay: each
// convolution runs 16 of them, and on small ones (batch 1, narrow layers)
// the fixed cost of a primitive call exceeds the padded work saved.
const min2x2Work = 1 << 21

// is2x2 reports whether a convolution takes this path.
func is2x2(g C.rg_geom) bool {
	return g.h == 2 && g.w == 2 && g.oh == 2 && g.ow == 2 && g.kh == 3 && g.kw == 3 &&
		g.sh == 1 && g.sw == 1 && g.pt == 1 && g.pb == 1 && g.pl == 1 && g.pr == 1 &&
		int(g.n)*int(g.c)*int(g.o) >= min2x2Work
}

// pairRun is a set of pixel pairs joined by one tap that one matrix
// product covers: rows p0, p0+stride, ... of the output side (pixel index
// over the whole batch, n*4 + y*2 + x) and q0, q0+stride, ... of the input
// side, rows = 4N/stride of them.
type pairRun struct {
	tap, p0, q0, stride int
}

// pairRuns lists the products, centre tap first: it covers every output
// pixel, so it can overwrite where the others accumulate.
var pairRuns = func() []pairRun {
	runs := []pairRun{{tap: 4, p0: 0, q0: 0, stride: 1}}
	for t := 0; t < 9; t++ {
		dy, dx := t/3-1, t%3-1
		switch {
		case t == 4:
		case dy == 0:
			// Pixels (y, x0) -> (y, x0+dx) for both rows y: stride 2.
			x0 := max(0, -dx)
			runs = append(runs, pairRun{tap: t, p0: x0, q0: x0 + dx, stride: 2})
		default:
			for py := 0; py < 2; py++ {
				for px := 0; px < 2; px++ {
					qy, qx := py+dy, px+dx
					if qy < 0 || qy > 1 || qx < 0 || qx > 1 {
						continue
					}
					runs = append(runs, pairRun{tap: t, p0: py*2 + px, q0: qy*2 + qx, stride: 4})
				}
			}
		}
	}
	return runs
}()

// matmul is a matrix-product primitive with memory objects for its three
// operand views (and bias), whose data pointers are set before each run.
type matmul struct {
	prim                *C.rg_prim
	src, wei, dst, bias buffer
}

const (
	mmBias = 1 << iota
	mmSum
	mmReLU
)

func (be *Backend) matmul(pass string, g C.rg_geom, dims, strides [6]int64, flags int) *matmul {
	// Within a pass, the rows and the row stride tell the products of a
	// geometry apart.
	key := primKey{op: pass, g: g, flags: flags, rows: dims[0], stride: strides[0] + strides[1]}
	if mm, ok := be.matmuls[key]; ok {
		return mm
	}
	p := be.prim(key, func(p *C.rg_prim) C.int {
		return C.rg_matmul(p, be.eng, (*C.int64_t)(unsafe.Pointer(&dims[0])), (*C.int64_t)(unsafe.Pointer(&strides[0])),
			b2i(flags&mmBias != 0), b2i(flags&mmSum != 0), b2i(flags&mmReLU != 0))
	})
	mm := &matmul{prim: p}
	for _, v := range []struct {
		b    *buffer
		what C.dnnl_query_t
		idx  C.int
	}{{&mm.src, C.dnnl_query_src_md, 0}, {&mm.wei, C.dnnl_query_weights_md, 0}, {&mm.dst, C.dnnl_query_dst_md, 0}, {&mm.bias, C.dnnl_query_weights_md, 1}} {
		md := C.dnnl_primitive_desc_query_md(p.pd, v.what, v.idx)
		if md == nil || C.dnnl_memory_desc_get_size(md) == 0 {
			continue
		}
		if st := C.dnnl_memory_create(&v.b.mem, md, be.eng, nil); st != 0 {
			panic(fmt.Sprintf("dnnl: matmul operand view (status %d)", int(st)))
		}
		v.b.shared = true
	}
	be.matmuls[key] = mm
	return mm
}

// run executes the product on the given operand addresses.
func (be *Backend) runMatmul(mm *matmul, src, wei, dst, bias unsafe.Pointer) {
	C.dnnl_memory_set_data_handle(mm.src.mem, src)
	C.dnnl_memory_set_data_handle(mm.wei.mem, wei)
	C.dnnl_memory_set_data_handle(mm.dst.mem, dst)
	be.mmArgs[0], be.mmArgs[1], be.mmArgs[2] = arg{C.DNNL_ARG_SRC, &mm.src}, arg{C.DNNL_ARG_WEIGHTS, &mm.wei}, arg{C.DNNL_ARG_DST, &mm.dst}
	args := be.mmArgs[:3]
	if bias != nil {
		C.dnnl_memory_set_data_handle(mm.bias.mem, bias)
		be.mmArgs[3] = arg{C.DNNL_ARG_BIAS, &mm.bias}
		args = be.mmArgs[:4]
	}
	be.exec(mm.prim, args)
}

func taggedMD(a, b, c, d C.int, tag C.int) C.dnnl_memory_desc_t {
	var md C.dnnl_memory_desc_t
	if st := C.rg_tagged_md(&md, a, b, c, d, tag); st != 0 {
		panic(fmt.Sprintf("dnnl: no layout %d for %dx%dx%dx%d (status %d)", int(tag), a, b, c, d, int(st)))
	}
	return md
}

// stridedMD describes a 4-D tensor by the stride of each dimension.
func stridedMD(dims, strides [4]int64) C.dnnl_memory_desc_t {
	var md C.dnnl_memory_desc_t
	if st := C.dnnl_memory_desc_init_by_strides(&md, 4, (*C.int64_t)(unsafe.Pointer(&dims[0])), C.dnnl_f32,
		(*C.int64_t)(unsafe.Pointer(&strides[0]))); st != 0 {
		panic(fmt.Sprintf("dnnl: no layout with strides %v for %v (status %d)", strides, dims, int(st)))
	}
	return md
}

func at(b *buffer, floats int64) unsafe.Pointer { return unsafe.Add(b.ptr(), 4*floats) }

// layouts2x2 are the NHWC input and output and HWIO weight layouts.
func layouts2x2(g C.rg_geom) (x, w, y C.dnnl_memory_desc_t) {
	return taggedMD(g.n, g.c, 2, 2, C.dnnl_nhwc), taggedMD(g.o, g.c, 3, 3, C.dnnl_hwio), taggedMD(g.n, g.o, 2, 2, C.dnnl_nhwc)
}

// conv2x2Forward: Y_p = sum over q of X_q W_tap(p,q) (+ bias), then ReLU;
// X_q is the [N, C] matrix of input pixel q, W_t the [C, O] matrix of
// tap t.
func (be *Backend) conv2x2Forward(x, w, b, y *Tensor, g C.rg_geom, relu bool) {
	n, c, o := int64(g.n), int64(g.c), int64(g.o)
	xmd, wmd, ymd := layouts2x2(g)
	xb := be.as(x, &xmd)
	be.convert(w, &wmd)
	be.becomeOutput(y, &ymd)
	var bias unsafe.Pointer
	if b != nil {
		bias = be.plainVector(b, false).ptr()
	}
	for i, r := range pairRuns {
		s := int64(r.stride)
		flags, bq := mmSum, unsafe.Pointer(nil)
		if i == 0 {
			flags = 0
			if bias != nil {
				flags, bq = mmBias, bias
			}
		}
		mm := be.matmul("conv2x2-fwd", g, [6]int64{4 * n / s, c, o}, [6]int64{s * c, 1, o, 1, s * o, 1}, flags)
		be.runMatmul(mm, at(xb, int64(r.q0)*c), at(w.buf, int64(r.tap)*c*o), at(y.buf, int64(r.p0)*o), bq)
	}
	if relu {
		ys := y.buf.floats()[:4*n*o]
		be.parallel(len(ys), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				ys[i] = max(0, ys[i])
			}
		})
	}
}

// conv2x2BackwardData: dX_q = sum over p of dY_p W_tap(p,q)^T.
func (be *Backend) conv2x2BackwardData(dy, w, dx *Tensor, g C.rg_geom) {
	n, c, o := int64(g.n), int64(g.c), int64(g.o)
	xmd, _, ymd := layouts2x2(g)
	// The weights as HWOI (a transient copy): each tap's [O, C] matrix then
	// has unit column stride, which oneDNN's GEMM packs faster than the
	// transposed HWIO view.
	hwoi := stridedMD([4]int64{o, c, 3, 3}, [4]int64{c, 1, 3 * o * c, o * c})
	dyb, wb := be.as(dy, &ymd), be.transient(w, &hwoi)
	be.becomeOutput(dx, &xmd)
	for i, r := range pairRuns {
		s := int64(r.stride)
		flags := mmSum
		if i == 0 {
			flags = 0
		}
		mm := be.matmul("conv2x2-bwd-data", g, [6]int64{4 * n / s, o, c}, [6]int64{s * o, 1, c, 1, s * c, 1}, flags)
		be.runMatmul(mm, at(dyb, int64(r.p0)*o), at(wb, int64(r.tap)*c*o), at(dx.buf, int64(r.q0)*c), nil)
	}
}

// conv2x2BackwardFilter: dW_t = sum over the pairs (p, q) that tap t joins
// of X_q^T dY_p; the bias gradient sums dY over examples and pixels.
func (be *Backend) conv2x2BackwardFilter(x, dy, dw, db *Tensor, g C.rg_geom) {
	n, c, o := int64(g.n), int64(g.c), int64(g.o)
	xmd, wmd, ymd := layouts2x2(g)
	xb, dyb := be.as(x, &xmd), be.as(dy, &ymd)
	be.becomeOutput(dw, &wmd)
	var done [9]bool
	for _, r := range pairRuns {
		s := int64(r.stride)
		flags := 0
		if done[r.tap] {
			flags = mmSum
		}
		done[r.tap] = true
		mm := be.matmul("conv2x2-bwd-weights", g, [6]int64{c, 4 * n / s, o}, [6]int64{1, s * c, s * o, 1, o, 1}, flags)
		be.runMatmul(mm, at(xb, int64(r.q0)*c), at(dyb, int64(r.p0)*o), at(dw.buf, int64(r.tap)*c*o), nil)
	}
	if db == nil {
		return
	}
	out := be.plainVector(db, true).floats()[:o]
	clear(out)
	g32 := dyb.floats()[:n*4*o]
	for r := int64(0); r < n*4; r++ {
		for j, v := range g32[r*o : (r+1)*o] {
			out[j] += v
		}
	}
}

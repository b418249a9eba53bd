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
// sixteen matrix products instead, one per (output pixel p, input pixel
// q) pair through the tap that joins them, so only the useful 4/9 of the
// multiply-adds are done. Activations are kept in NHWC and weights in
// HWIO for it, which makes every operand of every product a plain matrix
// with one unit stride.

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

// tap2x2 is the kernel tap (ky*3+kx) through which input pixel q reaches
// output pixel p; pixels are numbered y*2+x.
func tap2x2(p, q int) int { return (q/2-p/2+1)*3 + (q%2 - p%2 + 1) }

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
	key := primKey{op: pass, g: g, flags: flags}
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

// conv2x2Forward: Y_p = sum_q X_q W_tap(p,q) (+ bias) (then ReLU), with
// X_q the [N, C] matrix of input pixel q and W_t the [C, O] matrix of tap t.
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
	dims, strides := [6]int64{n, c, o}, [6]int64{4 * c, 1, o, 1, 4 * o, 1}
	for p := 0; p < 4; p++ {
		for q := 0; q < 4; q++ {
			flags, bq := 0, unsafe.Pointer(nil)
			if q == 0 && bias != nil {
				flags, bq = mmBias, bias
			}
			if q > 0 {
				flags |= mmSum
			}
			if q == 3 && relu {
				flags |= mmReLU
			}
			mm := be.matmul("conv2x2-fwd", g, dims, strides, flags)
			be.runMatmul(mm, at(xb, int64(q)*c), at(w.buf, int64(tap2x2(p, q))*c*o), at(y.buf, int64(p)*o), bq)
		}
	}
}

// conv2x2BackwardData: dX_q = sum_p dY_p W_tap(p,q)^T.
func (be *Backend) conv2x2BackwardData(dy, w, dx *Tensor, g C.rg_geom) {
	n, c, o := int64(g.n), int64(g.c), int64(g.o)
	xmd, _, ymd := layouts2x2(g)
	// The weights as HWOI (a transient copy): each tap's [O, C] matrix then
	// has unit column stride, which oneDNN's GEMM packs faster than the
	// transposed HWIO view.
	hwoi := stridedMD([4]int64{int64(g.o), c, 3, 3}, [4]int64{c, 1, 3 * o * c, o * c})
	dyb, wb := be.as(dy, &ymd), be.transient(w, &hwoi)
	be.becomeOutput(dx, &xmd)
	dims, strides := [6]int64{n, o, c}, [6]int64{4 * o, 1, c, 1, 4 * c, 1}
	for q := 0; q < 4; q++ {
		for p := 0; p < 4; p++ {
			flags := 0
			if p > 0 {
				flags = mmSum
			}
			mm := be.matmul("conv2x2-bwd-data", g, dims, strides, flags)
			be.runMatmul(mm, at(dyb, int64(p)*o), at(wb, int64(tap2x2(p, q))*c*o), at(dx.buf, int64(q)*c), nil)
		}
	}
}

// conv2x2BackwardFilter: dW_t = sum over the pairs (p, q) joined by tap t
// of X_q^T dY_p; the bias gradient sums dY over examples and pixels.
func (be *Backend) conv2x2BackwardFilter(x, dy, dw, db *Tensor, g C.rg_geom) {
	n, c, o := int64(g.n), int64(g.c), int64(g.o)
	xmd, wmd, ymd := layouts2x2(g)
	xb, dyb := be.as(x, &xmd), be.as(dy, &ymd)
	be.becomeOutput(dw, &wmd)
	dims, strides := [6]int64{c, n, o}, [6]int64{1, 4 * c, 4 * o, 1, o, 1}
	for t := 0; t < 9; t++ {
		first := true
		for p := 0; p < 4; p++ {
			for q := 0; q < 4; q++ {
				if tap2x2(p, q) != t {
					continue
				}
				flags := mmSum
				if first {
					flags = 0
				}
				first = false
				mm := be.matmul("conv2x2-bwd-weights", g, dims, strides, flags)
				be.runMatmul(mm, at(xb, int64(q)*c), at(dyb, int64(p)*o), at(dw.buf, int64(t)*c*o), nil)
			}
		}
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

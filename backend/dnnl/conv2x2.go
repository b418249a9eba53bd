//go:build dnnl

package dnnl

/*
#include "glue.h"
*/
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/resgo/resgo/backend"
)

// The 3x3 convolutions on 2x2 maps (the last stage of the tutorial's
// network) are done as matrix products per tap over the pixel pairs it
// joins (see pairRuns2x2): 11 oneDNN matmul calls per pass that
// skip the zero padding oneDNN's direct kernels would read. Activations
// are kept in NHWC and weights in HWIO for them, so that every operand is
// an evenly strided matrix with a unit column stride, and each tap's
// weights are read once.

// min2x2Work is the smallest N*C*O for which the products pay: each pass
// runs 11 of them, and on small ones (batch 1, narrow layers) the fixed
// cost of a primitive call exceeds the padded work saved.
const min2x2Work = 1 << 21

// is2x2 reports whether a convolution takes this path.
func is2x2(g C.rg_geom) bool {
	d := backend.ConvDesc{StrideH: int(g.sh), StrideW: int(g.sw), PadTop: int(g.pt), PadBottom: int(g.pb),
		PadLeft: int(g.pl), PadRight: int(g.pr)}
	return is2x2Conv(int(g.h), int(g.w), int(g.kh), int(g.kw), d) && int(g.n)*int(g.c)*int(g.o) >= min2x2Work
}

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
	defer alive(x, w, b, y)
	n, c, o := int64(g.n), int64(g.c), int64(g.o)
	xmd, wmd, ymd := layouts2x2(g)
	xb := be.as(x, &xmd)
	be.convert(w, &wmd)
	be.becomeOutput(y, &ymd)
	var bias unsafe.Pointer
	if b != nil {
		bias = be.plainVector(b, false).ptr()
	}
	for i, r := range pairRuns2x2 {
		s := int64(r.Stride)
		flags, bq := mmSum, unsafe.Pointer(nil)
		if i == 0 {
			flags = 0
			if bias != nil {
				flags, bq = mmBias, bias
			}
		}
		mm := be.matmul("conv2x2-fwd", g, [6]int64{4 * n / s, c, o}, [6]int64{s * c, 1, o, 1, s * o, 1}, flags)
		be.runMatmul(mm, at(xb, int64(r.Q0)*c), at(w.buf, int64(r.Tap)*c*o), at(y.buf, int64(r.P0)*o), bq)
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
	defer alive(dy, w, dx)
	n, c, o := int64(g.n), int64(g.c), int64(g.o)
	xmd, _, ymd := layouts2x2(g)
	// The weights as HWOI (a transient copy): each tap's [O, C] matrix then
	// has unit column stride, which oneDNN's GEMM packs faster than the
	// transposed HWIO view.
	hwoi := stridedMD([4]int64{o, c, 3, 3}, [4]int64{c, 1, 3 * o * c, o * c})
	dyb, wb := be.as(dy, &ymd), be.transient(w, &hwoi)
	be.becomeOutput(dx, &xmd)
	for i, r := range pairRuns2x2 {
		s := int64(r.Stride)
		flags := mmSum
		if i == 0 {
			flags = 0
		}
		mm := be.matmul("conv2x2-bwd-data", g, [6]int64{4 * n / s, o, c}, [6]int64{s * o, 1, c, 1, s * c, 1}, flags)
		be.runMatmul(mm, at(dyb, int64(r.P0)*o), at(wb, int64(r.Tap)*c*o), at(dx.buf, int64(r.Q0)*c), nil)
	}
}

// conv2x2BackwardFilter: dW_t = sum over the pairs (p, q) that tap t joins
// of X_q^T dY_p; the bias gradient sums dY over examples and pixels.
func (be *Backend) conv2x2BackwardFilter(x, dy, dw, db *Tensor, g C.rg_geom) {
	defer alive(x, dy, dw, db)
	n, c, o := int64(g.n), int64(g.c), int64(g.o)
	xmd, wmd, ymd := layouts2x2(g)
	xb, dyb := be.as(x, &xmd), be.as(dy, &ymd)
	be.becomeOutput(dw, &wmd)
	var done [9]bool
	for _, r := range pairRuns2x2 {
		s := int64(r.Stride)
		flags := 0
		if done[r.Tap] {
			flags = mmSum
		}
		done[r.Tap] = true
		mm := be.matmul("conv2x2-bwd-weights", g, [6]int64{c, 4 * n / s, o}, [6]int64{1, s * c, s * o, 1, o, 1}, flags)
		be.runMatmul(mm, at(xb, int64(r.Q0)*c), at(dyb, int64(r.P0)*o), at(dw.buf, int64(r.Tap)*c*o), nil)
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

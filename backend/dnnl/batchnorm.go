//go:build dnnl

package dnnl

/*
#include "glue.h"
*/
import "C"

import (
	"math"

	"github.com/resgo/resgo/backend"
)

// bnormKey identifies a batch-norm primitive by the data layout, epsilon
// and flags (1: training, 2: fused ReLU).
func bnormKey(op string, md *C.dnnl_memory_desc_t, eps float32, flags int) primKey {
	return primKey{op: op, a: *md, flags: flags, g: C.rg_geom{n: C.int(math.Float32bits(eps))}}
}

func (be *Backend) bnormFwdPrim(md *C.dnnl_memory_desc_t, d backend.BatchNormDesc) *C.rg_prim {
	flags := int(b2i(d.Training) + 2*b2i(d.ReLU))
	return be.prim(bnormKey("bnorm-fwd", md, d.Epsilon, flags), func(p *C.rg_prim) C.int {
		return C.rg_bnorm_fwd(p, be.eng, md, C.float(d.Epsilon), b2i(d.Training), b2i(d.ReLU))
	})
}

// plainVector makes a [C] tensor plain (it is read or written by oneDNN
// as a plain vector).
func (be *Backend) plainVector(t backend.Tensor, output bool) *buffer {
	dt := tensor(t)
	md := plainMD(dt.shape)
	if output {
		be.becomeOutput(dt, &md)
	} else {
		be.convert(dt, &md)
	}
	return dt.buf
}

// BatchNormForward implements backend.Backend. The output keeps the
// input's layout (nChw16c inside the network).
func (be *Backend) BatchNormForward(x, gamma, beta, mean, variance, y backend.Tensor, d backend.BatchNormDesc) {
	xt, yt := tensor(x), tensor(y)
	p := be.bnormFwdPrim(&xt.md, d)
	be.becomeOutput(yt, query(p, C.dnnl_query_dst_md))
	args := []arg{{C.DNNL_ARG_SRC, xt.buf}, {C.DNNL_ARG_DST, yt.buf},
		{C.DNNL_ARG_SCALE, be.plainVector(gamma, false)}, {C.DNNL_ARG_SHIFT, be.plainVector(beta, false)},
		{C.DNNL_ARG_MEAN, be.plainVector(mean, d.Training)}, {C.DNNL_ARG_VARIANCE, be.plainVector(variance, d.Training)}}
	if d.Training && d.ReLU {
		wsmd := query(p, C.dnnl_query_workspace_md)
		if yt.ws == nil || !mdEqual(&yt.ws.md, wsmd) {
			yt.ws = &Tensor{md: *wsmd, buf: be.alloc(wsmd)}
		}
		args = append(args, arg{C.DNNL_ARG_WORKSPACE, yt.ws.buf})
	}
	be.exec(p, args)
}

// BatchNormBackward implements backend.Backend.
func (be *Backend) BatchNormBackward(x, dy, gamma, mean, variance, dx, dgamma, dbeta backend.Tensor, d backend.BatchNormDesc) {
	xt, dyt, dxt := tensor(x), tensor(dy), tensor(dx)
	plain := backend.BatchNormDesc{Epsilon: d.Epsilon, Training: true}
	fwd := be.bnormFwdPrim(&xt.md, plain)
	p := be.prim(bnormKey("bnorm-bwd", &xt.md, d.Epsilon, 0), func(p *C.rg_prim) C.int {
		return C.rg_bnorm_bwd(p, be.eng, &xt.md, &xt.md, C.float(d.Epsilon), fwd)
	})
	be.becomeOutput(dxt, query(p, C.dnnl_query_diff_src_md))
	// oneDNN 2.6 wants a shift argument here although the gradients do not
	// depend on it; gamma stands in for it.
	be.exec(p, []arg{{C.DNNL_ARG_SRC, xt.buf}, {C.DNNL_ARG_DIFF_DST, be.as(dyt, query(p, C.dnnl_query_diff_dst_md))},
		{C.DNNL_ARG_MEAN, be.plainVector(mean, false)}, {C.DNNL_ARG_VARIANCE, be.plainVector(variance, false)},
		{C.DNNL_ARG_SCALE, be.plainVector(gamma, false)}, {C.DNNL_ARG_SHIFT, be.plainVector(gamma, false)}, {C.DNNL_ARG_DIFF_SRC, dxt.buf},
		{C.DNNL_ARG_DIFF_SCALE, be.plainVector(dgamma, true)}, {C.DNNL_ARG_DIFF_SHIFT, be.plainVector(dbeta, true)}})
}

// ReLUForward implements backend.Backend, element by element in x's
// layout (padding stays zero).
func (be *Backend) ReLUForward(x, y backend.Tensor) {
	defer alive(x, y)
	xt, yt := tensor(x), tensor(y)
	if xt != yt {
		be.becomeOutput(yt, &xt.md)
	}
	yt.touch()
	xs, ys := xt.buf.floats(), yt.buf.floats()
	be.parallel(len(xs), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ys[i] = max(0, xs[i])
		}
	})
}

// Scale implements backend.Backend.
func (be *Backend) Scale(t backend.Tensor, alpha float32) {
	defer alive(t)
	dt := tensor(t)
	dt.touch()
	vs := dt.buf.floats()
	be.parallel(len(vs), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			vs[i] *= alpha
		}
	})
}

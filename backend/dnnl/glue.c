//go:build dnnl

// C glue: builds oneDNN descriptors from plain integers so the Go side
// stays free of C array and struct juggling.
#include <stdlib.h>
#include <string.h>
#include "glue.h"

extern void omp_set_num_threads(int);

void rg_set_threads(int n) { omp_set_num_threads(n); }

static int md_any(dnnl_memory_desc_t *md, int nd, int64_t a, int64_t b, int64_t c, int64_t d) {
	dnnl_dims_t dims = {a, b, c, d};
	return dnnl_memory_desc_init_by_tag(md, nd, dims, dnnl_f32, dnnl_format_tag_any);
}

int rg_plain_md(dnnl_memory_desc_t *md, int nd, const int64_t *dims) {
	dnnl_dims_t d;
	static const dnnl_format_tag_t tags[] = {dnnl_format_tag_undef, dnnl_a, dnnl_ab, dnnl_abc, dnnl_abcd};
	if (nd < 1 || nd > 4) return dnnl_invalid_arguments;
	for (int i = 0; i < nd; i++) d[i] = dims[i];
	return dnnl_memory_desc_init_by_tag(md, nd, d, dnnl_f32, tags[nd]);
}

int rg_blocked_md(dnnl_memory_desc_t *md, int n, int c, int h, int w) {
	dnnl_dims_t d = {n, c, h, w};
	return dnnl_memory_desc_init_by_tag(md, 4, d, dnnl_f32, dnnl_nChw16c);
}

// user_attr returns attributes asking for a user-provided scratchpad: the
// backend shares one scratch buffer among all primitives instead of each
// primitive keeping its own.
static dnnl_primitive_attr_t user_attr(void) {
	dnnl_primitive_attr_t attr;
	dnnl_primitive_attr_create(&attr);
	dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
	return attr;
}

static dnnl_status_t create(rg_prim *p, const_dnnl_op_desc_t d, dnnl_engine_t eng, const rg_prim *hint) {
	dnnl_primitive_attr_t attr = user_attr();
	dnnl_status_t st = dnnl_primitive_desc_create(&p->pd, d, attr, eng, hint ? hint->pd : NULL);
	dnnl_primitive_attr_destroy(attr);
	return st;
}

static int finish(rg_prim *p, dnnl_status_t st) {
	if (st != dnnl_success) return st;
	return dnnl_primitive_create(&p->prim, p->pd);
}

// conv_alg picks Winograd's F(4x4, 3x3) for 3x3 stride-1 convolutions on
// maps of at least 4x4 when asked: fewer multiplications, at the price of
// float32 results a little further from direct convolution's (see
// dnnl.Options). Small batches keep direct convolution, which is faster
// there than Winograd's transforms.
static dnnl_alg_kind_t conv_alg(const rg_geom *g) {
	if (g->winograd && g->n >= 16 && g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1 && g->h >= 4 && g->w >= 4)
		return dnnl_convolution_winograd;
	return dnnl_convolution_direct;
}

int rg_conv_fwd(rg_prim *p, dnnl_engine_t eng, const rg_geom *g, int bias, int relu) {
	dnnl_memory_desc_t src, wei, b, dst;
	md_any(&src, 4, g->n, g->c, g->h, g->w);
	md_any(&wei, 4, g->o, g->c, g->kh, g->kw);
	md_any(&b, 1, g->o, 0, 0, 0);
	md_any(&dst, 4, g->n, g->o, g->oh, g->ow);
	dnnl_dims_t strides = {g->sh, g->sw}, pl = {g->pt, g->pl}, pr = {g->pb, g->pr};
	dnnl_convolution_desc_t cd;
	dnnl_status_t st = dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training,
		conv_alg(g), &src, &wei, bias ? &b : NULL, &dst, strides, pl, pr);
	if (st != dnnl_success) return st;
	dnnl_primitive_attr_t attr = user_attr();
	if (relu) {
		dnnl_post_ops_t po;
		dnnl_post_ops_create(&po);
		dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
		dnnl_primitive_attr_set_post_ops(attr, po);
		dnnl_post_ops_destroy(po);
	}
	st = dnnl_primitive_desc_create(&p->pd, &cd, attr, eng, NULL);
	dnnl_primitive_attr_destroy(attr);
	return finish(p, st);
}

int rg_conv_bwd_data(rg_prim *p, dnnl_engine_t eng, const rg_geom *g, const rg_prim *fwd) {
	dnnl_memory_desc_t dsrc, wei, ddst;
	md_any(&dsrc, 4, g->n, g->c, g->h, g->w);
	md_any(&wei, 4, g->o, g->c, g->kh, g->kw);
	md_any(&ddst, 4, g->n, g->o, g->oh, g->ow);
	dnnl_dims_t strides = {g->sh, g->sw}, pl = {g->pt, g->pl}, pr = {g->pb, g->pr};
	dnnl_convolution_desc_t cd;
	dnnl_status_t st = dnnl_convolution_backward_data_desc_init(&cd, conv_alg(g),
		&dsrc, &wei, &ddst, strides, pl, pr);
	if (st != dnnl_success) return st;
	return finish(p, create(p, &cd, eng, fwd));
}

int rg_conv_bwd_weights(rg_prim *p, dnnl_engine_t eng, const rg_geom *g, int bias, const rg_prim *fwd) {
	dnnl_memory_desc_t src, dwei, db, ddst;
	md_any(&src, 4, g->n, g->c, g->h, g->w);
	// Ask for the forward pass's weight layout, so gradients, weights and
	// their moving averages share one layout and update element-wise.
	dwei = *dnnl_primitive_desc_query_md(fwd->pd, dnnl_query_weights_md, 0);
	md_any(&db, 1, g->o, 0, 0, 0);
	md_any(&ddst, 4, g->n, g->o, g->oh, g->ow);
	dnnl_dims_t strides = {g->sh, g->sw}, pl = {g->pt, g->pl}, pr = {g->pb, g->pr};
	dnnl_convolution_desc_t cd;
	dnnl_status_t st = dnnl_convolution_backward_weights_desc_init(&cd, conv_alg(g),
		&src, &dwei, bias ? &db : NULL, &ddst, strides, pl, pr);
	if (st != dnnl_success) return st;
	st = create(p, &cd, eng, fwd);
	if (st != dnnl_success) {
		// Fall back to the library's choice of gradient layout.
		md_any(&dwei, 4, g->o, g->c, g->kh, g->kw);
		st = dnnl_convolution_backward_weights_desc_init(&cd, conv_alg(g),
			&src, &dwei, bias ? &db : NULL, &ddst, strides, pl, pr);
		if (st != dnnl_success) return st;
		st = create(p, &cd, eng, fwd);
	}
	return finish(p, st);
}

int rg_pool_fwd(rg_prim *p, dnnl_engine_t eng, const dnnl_memory_desc_t *src, const rg_geom *g, int max) {
	dnnl_memory_desc_t dst;
	md_any(&dst, 4, g->n, g->c, g->oh, g->ow);
	dnnl_dims_t strides = {g->sh, g->sw}, kernel = {g->kh, g->kw}, dil = {0, 0};
	dnnl_dims_t pl = {g->pt, g->pl}, pr = {g->pb, g->pr};
	dnnl_pooling_v2_desc_t pd;
	dnnl_status_t st = dnnl_pooling_v2_forward_desc_init(&pd, dnnl_forward_training,
		max ? dnnl_pooling_max : dnnl_pooling_avg_exclude_padding, src, &dst, strides, kernel, dil, pl, pr);
	if (st != dnnl_success) return st;
	return finish(p, create(p, &pd, eng, NULL));
}

int rg_pool_bwd(rg_prim *p, dnnl_engine_t eng, const dnnl_memory_desc_t *diff_dst, const rg_geom *g, int max, const rg_prim *fwd) {
	dnnl_memory_desc_t dsrc;
	md_any(&dsrc, 4, g->n, g->c, g->h, g->w);
	dnnl_dims_t strides = {g->sh, g->sw}, kernel = {g->kh, g->kw}, dil = {0, 0};
	dnnl_dims_t pl = {g->pt, g->pl}, pr = {g->pb, g->pr};
	dnnl_pooling_v2_desc_t pd;
	dnnl_status_t st = dnnl_pooling_v2_backward_desc_init(&pd,
		max ? dnnl_pooling_max : dnnl_pooling_avg_exclude_padding, &dsrc, diff_dst, strides, kernel, dil, pl, pr);
	if (st != dnnl_success) return st;
	return finish(p, create(p, &pd, eng, fwd));
}

int rg_reorder(rg_prim *p, dnnl_engine_t eng, const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to) {
	dnnl_primitive_attr_t attr = user_attr();
	dnnl_status_t st = dnnl_reorder_primitive_desc_create(&p->pd, from, eng, to, eng, attr);
	dnnl_primitive_attr_destroy(attr);
	return finish(p, st);
}

const dnnl_memory_desc_t *rg_query_md(const rg_prim *p, dnnl_query_t what) {
	return dnnl_primitive_desc_query_md(p->pd, what, 0);
}

int rg_exec(const rg_prim *p, dnnl_stream_t s, int nargs, const int *kinds, const dnnl_memory_t *mems) {
	dnnl_exec_arg_t args[12];
	if (nargs > 12) return dnnl_invalid_arguments;
	for (int i = 0; i < nargs; i++) {
		args[i].arg = kinds[i];
		args[i].memory = mems[i];
	}
	dnnl_status_t st = dnnl_primitive_execute(p->prim, s, nargs, args);
	if (st != dnnl_success) return st;
	return dnnl_stream_wait(s);
}

void rg_destroy(rg_prim *p) {
	if (p->prim) dnnl_primitive_destroy(p->prim);
	if (p->pd) dnnl_primitive_desc_destroy(p->pd);
}

const char *rg_impl(const rg_prim *p) {
	const char *s = NULL;
	dnnl_primitive_desc_query(p->pd, dnnl_query_impl_info_str, 0, &s);
	return s;
}

// rg_bnorm_fwd builds batch normalisation over data laid out as md, with
// a learned scale and shift; inference uses the given statistics, and
// relu fuses the rectifier (training then needs a workspace).
int rg_bnorm_fwd(rg_prim *p, dnnl_engine_t eng, const dnnl_memory_desc_t *md, float eps, int training, int relu) {
	unsigned flags = dnnl_use_scale | dnnl_use_shift;
	if (!training) flags |= dnnl_use_global_stats;
	if (relu) flags |= dnnl_fuse_norm_relu;
	dnnl_batch_normalization_desc_t bd;
	dnnl_status_t st = dnnl_batch_normalization_forward_desc_init(&bd,
		training ? dnnl_forward_training : dnnl_forward_inference, md, eps, flags);
	if (st != dnnl_success) return st;
	return finish(p, create(p, &bd, eng, NULL));
}

int rg_bnorm_bwd(rg_prim *p, dnnl_engine_t eng, const dnnl_memory_desc_t *diff, const dnnl_memory_desc_t *md, float eps, const rg_prim *fwd) {
	dnnl_batch_normalization_desc_t bd;
	dnnl_status_t st = dnnl_batch_normalization_backward_desc_init(&bd, dnnl_backward,
		diff, md, eps, dnnl_use_scale | dnnl_use_shift);
	if (st != dnnl_success) return st;
	return finish(p, create(p, &bd, eng, fwd));
}

// rg_matmul builds dst = src x weights over 2-D strided views: dims are
// M, K, N; strides are src's, weights' and dst's (row, column) pairs. The
// bias, when asked for, is a [1, N] row; sum accumulates into dst, and
// relu rectifies the result (after the sum).
int rg_matmul(rg_prim *p, dnnl_engine_t eng, const int64_t *dims, const int64_t *strides, int bias, int sum, int relu) {
	dnnl_memory_desc_t src, wei, b, dst;
	dnnl_dims_t sd = {dims[0], dims[1]}, wd = {dims[1], dims[2]}, dd = {dims[0], dims[2]}, bd = {1, dims[2]};
	dnnl_dims_t ss = {strides[0], strides[1]}, ws = {strides[2], strides[3]}, ds = {strides[4], strides[5]}, bs = {dims[2], 1};
	dnnl_memory_desc_init_by_strides(&src, 2, sd, dnnl_f32, ss);
	dnnl_memory_desc_init_by_strides(&wei, 2, wd, dnnl_f32, ws);
	dnnl_memory_desc_init_by_strides(&dst, 2, dd, dnnl_f32, ds);
	dnnl_memory_desc_init_by_strides(&b, 2, bd, dnnl_f32, bs);
	dnnl_matmul_desc_t md;
	dnnl_status_t st = dnnl_matmul_desc_init(&md, &src, &wei, bias ? &b : NULL, &dst);
	if (st != dnnl_success) return st;
	dnnl_primitive_attr_t attr = user_attr();
	if (sum || relu) {
		dnnl_post_ops_t po;
		dnnl_post_ops_create(&po);
		if (sum) dnnl_post_ops_append_sum(po, 1.0f);
		if (relu) dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
		dnnl_primitive_attr_set_post_ops(attr, po);
		dnnl_post_ops_destroy(po);
	}
	st = dnnl_primitive_desc_create(&p->pd, &md, attr, eng, NULL);
	dnnl_primitive_attr_destroy(attr);
	return finish(p, st);
}

// rg_tagged_md describes a 4-D tensor in the layout of a format tag
// (nhwc for activations, hwio for weights).
int rg_tagged_md(dnnl_memory_desc_t *md, int a, int b, int c, int d, int tag) {
	dnnl_dims_t dims = {a, b, c, d};
	return dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, (dnnl_format_tag_t)tag);
}

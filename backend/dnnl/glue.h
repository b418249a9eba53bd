#include <oneapi/dnnl/dnnl.h>

// rg_prim is a primitive with its descriptor.
typedef struct {
	dnnl_primitive_desc_t pd;
	dnnl_primitive_t prim;
} rg_prim;

typedef struct {
	int n, c, h, w, o, kh, kw, oh, ow;
	int sh, sw, pt, pb, pl, pr;
	int winograd; // use Winograd's algorithm where oneDNN has it
} rg_geom;

int rg_conv_fwd(rg_prim *p, dnnl_engine_t eng, const rg_geom *g, int bias, int relu);
int rg_conv_bwd_data(rg_prim *p, dnnl_engine_t eng, const rg_geom *g, const rg_prim *fwd);
int rg_conv_bwd_weights(rg_prim *p, dnnl_engine_t eng, const rg_geom *g, int bias, const rg_prim *fwd);
int rg_pool_fwd(rg_prim *p, dnnl_engine_t eng, const dnnl_memory_desc_t *src, const rg_geom *g, int max);
int rg_pool_bwd(rg_prim *p, dnnl_engine_t eng, const dnnl_memory_desc_t *diff_dst, const rg_geom *g, int max, const rg_prim *fwd);
int rg_reorder(rg_prim *p, dnnl_engine_t eng, const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to);
int rg_plain_md(dnnl_memory_desc_t *md, int ndims, const int64_t *dims);
int rg_blocked_md(dnnl_memory_desc_t *md, int n, int c, int h, int w);
const dnnl_memory_desc_t *rg_query_md(const rg_prim *p, dnnl_query_t what);
int rg_exec(const rg_prim *p, dnnl_stream_t s, int nargs, const int *kinds, const dnnl_memory_t *mems);
void rg_destroy(rg_prim *p);
void rg_set_threads(int n);
const char *rg_impl(const rg_prim *p);
int rg_bnorm_fwd(rg_prim *p, dnnl_engine_t eng, const dnnl_memory_desc_t *md, float eps, int training, int relu);
int rg_bnorm_bwd(rg_prim *p, dnnl_engine_t eng, const dnnl_memory_desc_t *diff, const dnnl_memory_desc_t *md, float eps, const rg_prim *fwd);
int rg_matmul(rg_prim *p, dnnl_engine_t eng, const int64_t *dims, const int64_t *strides, int bias, int sum, int relu);
int rg_tagged_md(dnnl_memory_desc_t *md, int a, int b, int c, int d, int tag);

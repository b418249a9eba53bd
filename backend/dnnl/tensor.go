//go:build dnnl

package dnnl

/*
#cgo LDFLAGS: -ldnnl -lgomp
#include <string.h>
#include "glue.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"unsafe"
)

// buffer owns one oneDNN memory object; it is freed when unreachable.
type buffer struct {
	mem  C.dnnl_memory_t
	size int // bytes
	// shared marks a buffer that more than one tensor uses (see Reshape);
	// the others are freed as soon as their tensor moves to a new one.
	shared  bool
	cleanup runtime.Cleanup
}

// free releases the buffer's memory now rather than at the next garbage
// collection, which may be far off: the Go heap does not see C memory.
func (b *buffer) free() {
	if b == nil || b.shared || b.mem == nil {
		return
	}
	b.cleanup.Stop()
	C.dnnl_memory_destroy(b.mem)
	liveBytes.Add(-int64(b.size))
	b.mem = nil
}

// Tensor is a dnnl tensor: a logical shape and memory in some layout.
type Tensor struct {
	shape []int
	md    C.dnnl_memory_desc_t
	buf   *buffer
	// ws is the max-pooling workspace of the forward pass that wrote this
	// tensor, which the backward pass needs.
	ws *Tensor
	// pool is that forward primitive, the backward pass's hint.
	pool *C.rg_prim
	// version counts writes, so that copies of t in other layouts (views,
	// keyed by layout) are redone only when t has changed: a weight is
	// reordered for the backward pass once per update, not once per use.
	version uint64
	views   map[C.dnnl_memory_desc_t]*view
	// reshapes are the tensors Reshape made of this one, by shape.
	reshapes map[[4]int]*Tensor
}

type view struct {
	version uint64
	buf     *buffer
}

// alive keeps its arguments, and so the C memory their buffers own, from
// being collected before it runs (deferred at the top of a method): the
// float32 slices and raw pointers into that memory that methods compute
// with are invisible to the garbage collector, so a tensor the caller no
// longer needs could otherwise be freed halfway through.
func alive(ts ...any) { runtime.KeepAlive(ts) }

// Shape implements backend.Tensor.
func (t *Tensor) Shape() []int { return t.shape }

// allocs and liveBytes count buffer allocations and the bytes not yet
// freed, for tests and for finding where memory goes.
var allocs, liveBytes atomic.Int64

// AllocStats reports how many buffers the package has allocated so far and
// how many bytes are still held.
func AllocStats() (count, live int64) { return allocs.Load(), liveBytes.Load() }

func (be *Backend) alloc(md *C.dnnl_memory_desc_t) *buffer {
	var mem C.dnnl_memory_t
	if st := C.dnnl_memory_create(&mem, md, be.eng, C.DNNL_MEMORY_ALLOCATE); st != 0 {
		panic(fmt.Sprintf("dnnl: allocating %d bytes failed (status %d)", int(C.dnnl_memory_desc_get_size(md)), int(st)))
	}
	b := &buffer{mem: mem, size: int(C.dnnl_memory_desc_get_size(md))}
	C.memset(b.ptr(), 0, C.size_t(b.size))
	allocs.Add(1)
	liveBytes.Add(int64(b.size))
	size := int64(b.size)
	b.cleanup = runtime.AddCleanup(b, func(m C.dnnl_memory_t) {
		C.dnnl_memory_destroy(m)
		liveBytes.Add(-size)
	}, mem)
	return b
}

// allocBytes allocates a flat buffer of at least n bytes (scratch space
// that views with other layouts are laid over).
func (be *Backend) allocBytes(n int) *buffer {
	var flat C.dnnl_memory_desc_t
	dims := []C.int64_t{C.int64_t((n + 3) / 4)}
	C.rg_plain_md(&flat, 1, &dims[0])
	return be.alloc(&flat)
}

func (b *buffer) ptr() unsafe.Pointer {
	var p unsafe.Pointer
	C.dnnl_memory_get_data_handle(b.mem, &p)
	return p
}

// floats views the whole buffer, padding included, as float32s.
func (b *buffer) floats() []float32 {
	return unsafe.Slice((*float32)(b.ptr()), b.size/4)
}

func plainMD(shape []int) C.dnnl_memory_desc_t {
	var md C.dnnl_memory_desc_t
	dims := make([]C.int64_t, len(shape))
	for i, d := range shape {
		dims[i] = C.int64_t(d)
	}
	if st := C.rg_plain_md(&md, C.int(len(shape)), &dims[0]); st != 0 {
		panic(fmt.Sprintf("dnnl: no plain layout for shape %v (status %d)", shape, int(st)))
	}
	return md
}

func mdEqual(a, b *C.dnnl_memory_desc_t) bool { return C.dnnl_memory_desc_equal(a, b) != 0 }

func (be *Backend) newTensor(shape []int, md C.dnnl_memory_desc_t) *Tensor {
	return &Tensor{shape: append([]int(nil), shape...), md: md, buf: be.alloc(&md)}
}

func (be *Backend) isPlain(t *Tensor) bool {
	p := plainMD(t.shape)
	return mdEqual(&t.md, &p)
}

// reorder copies src's content into dst (a new buffer when nil), which
// has layout md.
func (be *Backend) reorder(src *Tensor, md C.dnnl_memory_desc_t, dst *buffer) *buffer {
	p := be.reorderPrim(&src.md, &md)
	if dst == nil {
		dst = be.alloc(&md)
	}
	be.exec(p, []arg{{C.DNNL_ARG_FROM, src.buf}, {C.DNNL_ARG_TO, dst}})
	runtime.KeepAlive(src)
	return dst
}

// as returns a buffer holding t in layout md: t's own when it already has
// that layout, else a reordered view, kept and refreshed only after t is
// written (t itself is left as it is).
func (be *Backend) as(t *Tensor, md *C.dnnl_memory_desc_t) *buffer {
	if mdEqual(&t.md, md) {
		return t.buf
	}
	v := t.views[*md]
	if v == nil {
		if t.views == nil {
			t.views = map[C.dnnl_memory_desc_t]*view{}
		}
		v = &view{version: t.version - 1}
		t.views[*md] = v
	}
	if v.version != t.version || v.buf == nil {
		v.buf = be.reorder(t, *md, v.buf)
		v.version = t.version
	}
	return v.buf
}

// transient returns a buffer holding t in layout md for immediate use:
// t's own when it has that layout, else a reordered copy in memory shared
// by all transient copies, valid until the next call. Weights change at
// every step, so a kept view of one (as) would be redone every step
// anyway; a transient copy costs the same time and no memory per tensor.
func (be *Backend) transient(t *Tensor, md *C.dnnl_memory_desc_t) *buffer {
	if mdEqual(&t.md, md) {
		return t.buf
	}
	need := int(C.dnnl_memory_desc_get_size(md))
	if be.transientBuf == nil || be.transientBuf.size < need {
		be.transientBuf.free()
		be.transientBuf = be.allocBytes(need)
		for _, v := range be.transientViews {
			C.dnnl_memory_destroy(v.mem)
		}
		clear(be.transientViews)
	}
	v, ok := be.transientViews[*md]
	if !ok {
		v = &buffer{shared: true, size: need}
		if st := C.dnnl_memory_create(&v.mem, md, be.eng, be.transientBuf.ptr()); st != 0 {
			panic(fmt.Sprintf("dnnl: transient view (status %d)", int(st)))
		}
		be.transientViews[*md] = v
	}
	p := be.reorderPrim(&t.md, md)
	be.exec(p, []arg{{C.DNNL_ARG_FROM, t.buf}, {C.DNNL_ARG_TO, v}})
	runtime.KeepAlive(t)
	return v
}

// convert changes t's own layout to md, keeping its values.
func (be *Backend) convert(t *Tensor, md *C.dnnl_memory_desc_t) {
	if mdEqual(&t.md, md) {
		return
	}
	nb := be.reorder(t, *md, nil)
	t.buf.free()
	t.buf = nb
	t.md = *md
	t.touch()
}

// becomeOutput gives t the layout md for a primitive to overwrite, and
// marks it written.
func (be *Backend) becomeOutput(t *Tensor, md *C.dnnl_memory_desc_t) {
	t.touch()
	if mdEqual(&t.md, md) {
		return
	}
	t.md = *md
	t.buf.free()
	t.buf = be.alloc(md)
}

// touch records a write to t, invalidating its views.
func (t *Tensor) touch() { t.version++ }

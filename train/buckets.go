package train

import (
	"fmt"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/dist"
	"github.com/resgo/resgo/nn"
)

// Gradients are averaged in buckets launched while backward is still
// running, as PyTorch's DDP does: the model's top-level layers finish
// their backward passes last to first, so the buckets hold their
// parameters in that order, and a bucket's all-reduce starts as soon as
// its last gradient is final, on one goroutine that runs the job's
// collectives in order (every rank must issue them in the same order),
// while backward goes on through the layers before it.

// Bucket sizes, as DDP's defaults: a small first bucket, so that
// communication starts early, then buckets of 25 MiB; a bucket holds at
// most that much unless one parameter is larger.
const (
	firstBucketBytes = 1 << 20
	bucketBytes      = 25 << 20
)

// gradBucket is a run of parameters whose gradients travel together.
type gradBucket struct {
	params  []*nn.Param
	buf     []float32
	pending int // gradients not yet final in this step
}

// reducer averages a trainer's gradients over the ranks of a job.
type reducer struct {
	tr      dist.Transport
	be      backend.Backend
	params  []*nn.Param
	buckets []*gradBucket
	// byLayer lists, per top-level layer, the bucket of each of its
	// updated parameters.
	byLayer map[nn.Layer][]*gradBucket
	// stats are the batch norms' running statistics: final after
	// forward, averaged first.
	stats    []*nn.Param
	statsBuf []float32
	// work carries bucket buffers to the communication goroutine; done
	// brings back one error per bucket, in order.
	work chan []float32
	done chan error
}

// newReducer groups params (the updated ones) into buckets in the order
// their gradients become final: top-level layers last to first.
func newReducer(tr dist.Transport, be backend.Backend, layers []nn.Layer, params, stats []*nn.Param) *reducer {
	r := &reducer{tr: tr, be: be, params: params, byLayer: map[nn.Layer][]*gradBucket{}, stats: stats}
	updated := map[*nn.Param]bool{}
	for _, p := range params {
		updated[p] = true
	}
	var cur *gradBucket
	size, limit := 0, firstBucketBytes
	for i := len(layers) - 1; i >= 0; i-- {
		for _, p := range layers[i].Params() {
			if !updated[p] {
				continue
			}
			bytes := 4 * backend.Len(p.Shape)
			if cur == nil || (size > 0 && size+bytes > limit) {
				if cur != nil {
					limit = bucketBytes
				}
				cur, size = &gradBucket{}, 0
				r.buckets = append(r.buckets, cur)
			}
			cur.params = append(cur.params, p)
			size += bytes
			r.byLayer[layers[i]] = append(r.byLayer[layers[i]], cur)
		}
	}
	for _, b := range r.buckets {
		n := 0
		for _, p := range b.params {
			n += backend.Len(p.Shape)
		}
		b.buf = make([]float32, n)
	}
	for _, p := range stats {
		r.statsBuf = append(r.statsBuf, make([]float32, backend.Len(p.Shape))...)
	}
	r.work, r.done = make(chan []float32, len(r.buckets)+1), make(chan error, len(r.buckets)+1)
	go func() {
		for buf := range r.work {
			r.done <- tr.AllReduceSum(buf)
		}
	}()
	return r
}

// start begins a step: the statistics go first (forward has set them).
func (r *reducer) start() {
	for _, b := range r.buckets {
		b.pending = len(b.params)
	}
	off := 0
	for _, p := range r.stats {
		n := backend.Len(p.Shape)
		r.be.Download(p.Value, r.statsBuf[off:off+n])
		off += n
	}
	r.work <- r.statsBuf
}

// layerDone is called after layer's backward pass: each bucket whose
// last gradient this was is copied out and sent.
func (r *reducer) layerDone(layer nn.Layer) {
	for _, b := range r.byLayer[layer] {
		if b.pending--; b.pending > 0 {
			continue
		}
		off := 0
		for _, p := range b.params {
			n := backend.Len(p.Shape)
			r.be.Download(p.Grad, b.buf[off:off+n])
			off += n
		}
		r.work <- b.buf
	}
}

// finish waits for every all-reduce of the step and puts the means back:
// the gradients, and the statistics.
func (r *reducer) finish() error {
	var first error
	for range len(r.buckets) + 1 {
		if err := <-r.done; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return first
	}
	scale := 1 / float32(r.tr.Size())
	put := func(ps []*nn.Param, buf []float32, grad bool) {
		for i := range buf {
			buf[i] *= scale
		}
		off := 0
		for _, p := range ps {
			n := backend.Len(p.Shape)
			if grad {
				r.be.Upload(p.Grad, buf[off:off+n])
			} else {
				r.be.Upload(p.Value, buf[off:off+n])
			}
			off += n
		}
	}
	for _, b := range r.buckets {
		if b.pending != 0 {
			return fmt.Errorf("train: a bucket of %d gradients still waits for %d", len(b.params), b.pending)
		}
		put(b.params, b.buf, true)
	}
	put(r.stats, r.statsBuf, false)
	return nil
}

// close ends the communication goroutine.
func (r *reducer) close() { close(r.work) }

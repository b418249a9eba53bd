package train

import (
	"fmt"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/dist"
	"github.com/resgo/resgo/nn"
)

// Gradients are averaged in buckets, as PyTorch's DDP does: the model's
// top-level layers finish their backward passes last to first, so the
// buckets hold their parameters in that order. When overlapping (see
// Overlap), a bucket's all-reduce starts as soon as its last gradient is
// final, while backward goes on through the layers before it; otherwise
// all start when backward ends. One goroutine runs the job's collectives
// in order (every rank must issue them in the same order). Backward
// starts from the loss's gradient divided by the ranks' count, so the
// sums are the means with no pass over the gradients after they arrive.

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
	bytes   int
	pending int // gradients not yet final in this step
	// parts are what the all-reduce is given: the gradients' own storage
	// on a backend whose tensors are host memory (backend.HostMemory),
	// else one buffer they are copied into and back out of.
	parts [][]float32
	buf   []float32
	// mean: divide the sums by the ranks' count on arrival. Gradients do
	// not need it: the trainer scales the loss's gradient by 1/ranks
	// before backward, so their sum is already the mean.
	mean bool
}

// reducer averages a trainer's gradients over the ranks of a job.
type reducer struct {
	tr      dist.Transport
	be      backend.Backend
	host    backend.HostMemory // nil: copy through buffers
	params  []*nn.Param
	buckets []*gradBucket
	// byLayer lists, per top-level layer, the bucket of each of its
	// updated parameters.
	byLayer map[nn.Layer][]*gradBucket
	// stats holds the batch norms' running statistics: final after
	// forward, averaged first.
	stats *gradBucket
	// overlap: each bucket goes out as soon as its last gradient is final
	// (set per step; see Overlap). Otherwise finish sends them all.
	overlap bool
	// sent counts the buckets handed to the communication goroutine in
	// this step, the statistics included.
	sent int
	// work carries buckets to the communication goroutine, which sums
	// their parts over the ranks (and divides the statistics by the
	// ranks' count); done brings back one error per bucket, in order.
	work chan *gradBucket
	done chan error
}

// newReducer groups params (the updated ones) into buckets in the order
// their gradients become final: top-level layers last to first.
func newReducer(tr dist.Transport, be backend.Backend, layers []nn.Layer, params, stats []*nn.Param) *reducer {
	r := &reducer{tr: tr, be: be, params: params, byLayer: map[nn.Layer][]*gradBucket{}}
	r.host, _ = be.(backend.HostMemory)
	updated := map[*nn.Param]bool{}
	for _, p := range params {
		updated[p] = true
	}
	var cur *gradBucket
	limit := firstBucketBytes
	for i := len(layers) - 1; i >= 0; i-- {
		for _, p := range layers[i].Params() {
			if !updated[p] {
				continue
			}
			bytes := 4 * backend.Len(p.Shape)
			if cur == nil || (cur.bytes > 0 && cur.bytes+bytes > limit) {
				if cur != nil {
					limit = bucketBytes
				}
				cur = &gradBucket{}
				r.buckets = append(r.buckets, cur)
			}
			cur.params = append(cur.params, p)
			cur.bytes += bytes
			r.byLayer[layers[i]] = append(r.byLayer[layers[i]], cur)
		}
	}
	r.stats = &gradBucket{params: stats, mean: true}
	for _, p := range stats {
		r.stats.bytes += 4 * backend.Len(p.Shape)
	}
	for _, b := range append(r.buckets, r.stats) {
		if r.host == nil {
			b.buf = make([]float32, b.bytes/4)
			b.parts = [][]float32{b.buf}
		}
	}
	r.work, r.done = make(chan *gradBucket, len(r.buckets)+1), make(chan error, len(r.buckets)+1)
	scale := 1 / float32(tr.Size())
	go func() {
		for b := range r.work {
			var err error
			for _, part := range b.parts {
				if err = tr.AllReduceSum(part); err != nil {
					break
				}
				if b.mean {
					for i := range part {
						part[i] *= scale
					}
				}
			}
			r.done <- err
		}
	}()
	return r
}

// send hands bucket b to the communication goroutine, its values (the
// parameters' gradients, or for the statistics their values) taken now.
func (r *reducer) send(b *gradBucket, grads bool) {
	tensor := func(p *nn.Param) backend.Tensor {
		if grads {
			return p.Grad
		}
		return p.Value
	}
	if r.host != nil {
		b.parts = b.parts[:0]
		for _, p := range b.params {
			b.parts = append(b.parts, r.host.HostSlice(tensor(p)))
		}
	} else {
		off := 0
		for _, p := range b.params {
			n := backend.Len(p.Shape)
			r.be.Download(tensor(p), b.buf[off:off+n])
			off += n
		}
	}
	r.sent++
	r.work <- b
}

// start begins a step: the statistics go first (forward has set them).
func (r *reducer) start() {
	for _, b := range r.buckets {
		b.pending = len(b.params)
	}
	r.sent = 0
	r.send(r.stats, false)
}

// layerDone is called after layer's backward pass: each bucket whose
// last gradient this was is sent.
func (r *reducer) layerDone(layer nn.Layer) {
	for _, b := range r.byLayer[layer] {
		if b.pending--; b.pending == 0 && r.overlap {
			r.send(b, true)
		}
	}
}

// finish sends the buckets when they were held back (no overlap), then
// waits for every all-reduce of the step; the means are in place (host
// memory) or are put back from the buffers.
func (r *reducer) finish() error {
	if !r.overlap {
		for _, b := range r.buckets {
			r.send(b, true)
		}
	}
	var first error
	for range len(r.buckets) + 1 {
		if err := <-r.done; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return first
	}
	for _, b := range r.buckets {
		if b.pending != 0 {
			return fmt.Errorf("train: a bucket of %d gradients still waits for %d", len(b.params), b.pending)
		}
	}
	if r.host != nil {
		return nil
	}
	put := func(b *gradBucket, grads bool) {
		off := 0
		for _, p := range b.params {
			n := backend.Len(p.Shape)
			if grads {
				r.be.Upload(p.Grad, b.buf[off:off+n])
			} else {
				r.be.Upload(p.Value, b.buf[off:off+n])
			}
			off += n
		}
	}
	for _, b := range r.buckets {
		put(b, true)
	}
	put(r.stats, false)
	return nil
}

// close ends the communication goroutine.
func (r *reducer) close() { close(r.work) }

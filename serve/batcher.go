package serve

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/resgo/resgo/predict"
)

// job is one request's prepared images, waiting for a forward pass.
type job struct {
	m      *loaded
	inputs []float32
	n      int // images
	queued time.Time
	done   chan jobResult // buffered: the batcher never waits for a caller that gave up
	// counted: the request is counted in arriving until the batcher
	// takes the job.
	counted bool
}

type jobResult struct {
	preds [][]predict.Prediction
	err   error
}

// batcher joins jobs into forward passes: it takes every job waiting, up
// to maxBatch images, then waits for more while requests are on their way
// (being read or prepared), until the batch is full or maxWait has passed
// since it began. With nothing on its way it does not wait: a lone request
// is answered at once. Jobs prepared for another model (one swapped in
// meanwhile) wait for the next batch.
type batcher struct {
	jobs     chan *job
	maxBatch int
	maxWait  time.Duration
	metrics  *metrics
	// arriving counts inference requests from their handler's start until
	// the batcher takes their job (or they fail): while it is positive,
	// more images are on their way.
	arriving atomic.Int64
}

// arrival is one request on its way to the batcher.
type arrival struct {
	b    *batcher
	sent bool // its job reached the batcher, which counts it off
}

// arrive counts a request on its way; call leave when it is done.
func (b *batcher) arrive() *arrival {
	b.arriving.Add(1)
	return &arrival{b: b}
}

// leave counts off a request whose job never reached the batcher.
func (a *arrival) leave() {
	if !a.sent {
		a.sent = true
		a.b.arriving.Add(-1)
	}
}

// took counts off the request of a job the batcher has taken: only then,
// so that it never looks at an empty queue while the job is neither
// queued nor counted.
func (b *batcher) took(j *job) *job {
	if j.counted {
		b.arriving.Add(-1)
	}
	return j
}

func (b *batcher) run(ctx context.Context) {
	var pending []*job
	for {
		if len(pending) == 0 {
			select {
			case j := <-b.jobs:
				pending = append(pending, b.took(j))
			case <-ctx.Done():
				b.failQueued(ctx.Err())
				return
			}
		}
		first := pending[0]
		batch, rest := []*job{}, []*job{}
		n := 0
		for _, j := range pending {
			if j.m == first.m && (n == 0 || n+j.n <= b.maxBatch) {
				batch, n = append(batch, j), n+j.n
			} else {
				rest = append(rest, j)
			}
		}
		pending = rest
		timer := time.NewTimer(b.maxWait)
	collect:
		for n < b.maxBatch {
			var j *job
			// Jobs already queued join first (were the timer ready too,
			// select would pick between them at random, cutting batches
			// short); then, only while requests are on their way, the
			// batch waits for them.
			select {
			case j = <-b.jobs:
				b.took(j)
			default:
				if b.arriving.Load() == 0 {
					break collect
				}
				select {
				case j = <-b.jobs:
					b.took(j)
				case <-timer.C:
					break collect
				case <-ctx.Done():
					timer.Stop()
					b.fail(append(batch, pending...), ctx.Err())
					b.failQueued(ctx.Err())
					return
				}
			}
			if j.m != first.m || n+j.n > b.maxBatch {
				pending = append(pending, j)
				break
			}
			batch, n = append(batch, j), n+j.n
		}
		timer.Stop()
		b.forward(first.m, batch, n)
	}
}

// forward runs one pass over the jobs' images and routes each job its
// own answers.
func (b *batcher) forward(m *loaded, batch []*job, n int) {
	start := time.Now()
	inputs := make([]float32, 0, n*len(batch[0].inputs)/max(1, batch[0].n))
	for _, j := range batch {
		b.metrics.queueSeconds.Observe(start.Sub(j.queued).Seconds())
		inputs = append(inputs, j.inputs...)
	}
	b.metrics.queueDepth.Sub(float64(n))
	preds, err := m.c.ClassifyInputs(inputs)
	if err == nil && len(preds) != n {
		err = fmt.Errorf("serve: %d answers for %d images", len(preds), n)
	}
	b.metrics.inferenceSeconds.Observe(time.Since(start).Seconds())
	b.metrics.batchSize.Observe(float64(n))
	at := 0
	for _, j := range batch {
		r := jobResult{err: err}
		if err == nil {
			r.preds = preds[at : at+j.n]
		}
		at += j.n
		j.done <- r
	}
}

// failQueued answers the jobs still in the queue when the batcher stops,
// so that no caller waits for a pass that will not come.
func (b *batcher) failQueued(err error) {
	for {
		select {
		case j := <-b.jobs:
			b.fail([]*job{b.took(j)}, err)
		default:
			return
		}
	}
}

func (b *batcher) fail(jobs []*job, err error) {
	for _, j := range jobs {
		b.metrics.queueDepth.Sub(float64(j.n))
		j.done <- jobResult{err: err}
	}
}

package native

import (
	"context"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"
)

// A training step runs ~400 parallel regions, most of them a fraction of
// a millisecond. Started as new goroutines, the second thread's range
// began 140 us late on average on the 2-core machine this was measured on
// (the idle thread has to be woken by the kernel, then take the goroutine
// from the caller's queue): 54 ms of a 455 ms step, in which the caller,
// done with its own range, waited. The pool's workers are goroutines that
// live with the backend and, between regions, poll for the next one for
// a while before they sleep, so that a region that follows soon after
// the last starts at once.

// poolSpin is how long an idle worker polls for its next range before it
// sleeps: longer than most gaps between a training step's regions (40 us
// on average, measured), short enough that an idle backend, or one
// sharing its cores with another process, gives them back at once. 50 and
// 200 us measured alike (alternated, three pairs, within 5%).
const poolSpin = 50 * time.Microsecond

// workerPool is a backend's worker goroutines (Threads - 1 of them: the
// caller runs a range itself).
type workerPool struct {
	busy    atomic.Bool // a region is running on the pool
	workers []*poolWorker
	labels  atomic.Pointer[context.Context] // see Backend.SetProfileLabels
}

// poolWorker is one worker: the range it is given (job), and how it is
// woken when asleep.
type poolWorker struct {
	job    atomic.Pointer[poolJob]
	asleep atomic.Bool
	wake   chan struct{}
	quit   chan struct{}
}

// poolJob is one range of a region; pending counts the region's ranges
// not yet done.
type poolJob struct {
	fn             func(worker, lo, hi int)
	worker, lo, hi int
	pending        *atomic.Int32
	labels         *context.Context
}

// newWorkerPool starts n workers, or returns nil where polling would take
// cores from others: more threads than the Go scheduler runs at once.
func newWorkerPool(n int) *workerPool {
	if n < 1 || n+1 > runtime.GOMAXPROCS(0) {
		return nil
	}
	p := &workerPool{}
	for range n {
		w := &poolWorker{wake: make(chan struct{}, 1), quit: make(chan struct{})}
		p.workers = append(p.workers, w)
		go w.run()
	}
	return p
}

// stop ends the workers (when their backend is collected).
func (p *workerPool) stop() {
	for _, w := range p.workers {
		close(w.quit)
	}
}

func (w *poolWorker) run() {
	var labels *context.Context
	for {
		j := w.next()
		if j == nil {
			return
		}
		if j.labels != labels {
			labels = j.labels
			ctx := context.Background()
			if labels != nil {
				ctx = *labels
			}
			pprof.SetGoroutineLabels(ctx)
		}
		j.fn(j.worker, j.lo, j.hi)
		j.pending.Add(-1)
	}
}

// next returns the worker's next range, polling for poolSpin, then
// sleeping until woken; nil when the pool stops.
func (w *poolWorker) next() *poolJob {
	for {
		start := time.Now()
		for spins := 0; ; spins++ {
			if j := w.job.Swap(nil); j != nil {
				return j
			}
			if spins%64 == 63 {
				if time.Since(start) > poolSpin {
					break
				}
				// Let whatever else wants this core (the garbage
				// collector, a loader) have it.
				runtime.Gosched()
			}
		}
		// Asleep first, then a last look: a range given after the look
		// finds asleep set and sends a wake-up (sequentially consistent
		// atomics: one of the two sees the other).
		w.asleep.Store(true)
		if j := w.job.Swap(nil); j != nil {
			w.asleep.Store(false)
			return j
		}
		select {
		case <-w.wake:
		case <-w.quit:
			return nil
		}
		w.asleep.Store(false)
	}
}

// give hands w a range.
func (w *poolWorker) give(j *poolJob) {
	w.job.Store(j)
	if w.asleep.Load() {
		select {
		case w.wake <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// run runs fn over parts ranges of [0, n), the caller taking the first,
// and reports false (running nothing) when the pool is already running a
// region: a nested or concurrent one, which then takes goroutines.
func (p *workerPool) run(n, parts int, fn func(worker, lo, hi int)) bool {
	if p == nil || parts-1 > len(p.workers) || !p.busy.CompareAndSwap(false, true) {
		return false
	}
	defer p.busy.Store(false)
	var pending atomic.Int32
	pending.Store(int32(parts - 1))
	jobs := make([]poolJob, parts-1)
	labels := p.labels.Load()
	for t := 1; t < parts; t++ {
		jobs[t-1] = poolJob{fn: fn, worker: t, lo: t * n / parts, hi: (t + 1) * n / parts, pending: &pending, labels: labels}
		p.workers[t-1].give(&jobs[t-1])
	}
	fn(0, 0, n/parts)
	for spins := 0; pending.Load() > 0; spins++ {
		if spins%64 == 63 {
			runtime.Gosched()
		}
	}
	return true
}

// SetProfileLabels gives the backend's worker goroutines ctx's profile
// labels (runtime/pprof) from their next range on. They outlive the
// goroutine that starts them, so they cannot inherit the labels of the
// code calling the backend, as new goroutines do: a CPU profile labelled
// per phase (resgo bench --cpuprofile) sets them with its own.
func (be *Backend) SetProfileLabels(ctx context.Context) {
	if p := be.workers.get(be); p != nil {
		p.labels.Store(&ctx)
	}
}

// lazyPool starts a backend's pool at its first parallel region (many
// backends, in tests, never run one), and stops it when the backend is
// collected.
type lazyPool struct {
	once sync.Once
	pool *workerPool
}

func (l *lazyPool) get(be *Backend) *workerPool {
	l.once.Do(func() {
		l.pool = newWorkerPool(be.opts.Threads - 1)
		if l.pool != nil {
			runtime.AddCleanup(be, (*workerPool).stop, l.pool)
		}
	})
	return l.pool
}

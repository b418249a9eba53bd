package native

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestWorkerPool runs parallel regions on the pool and checks that each
// covers [0, n) exactly once, in the ranges and with the worker indices
// the goroutine version gives: back to back (workers polling), after a
// pause longer than the polling (workers asleep, woken), nested (the
// inner region on goroutines) and from two goroutines at once.
func TestWorkerPool(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	for _, threads := range []int{2, 3, 4} {
		be := New(threads)
		if be.workers.get(be) == nil {
			t.Fatalf("%d threads: no pool with GOMAXPROCS 4", threads)
		}
		check := func(n int) {
			t.Helper()
			seen := make([]atomic.Int32, n)
			var mu sync.Mutex
			ranges := map[int][2]int{}
			be.parallelWorkers(n, func(worker, lo, hi int) {
				mu.Lock()
				ranges[worker] = [2]int{lo, hi}
				mu.Unlock()
				for i := lo; i < hi; i++ {
					seen[i].Add(1)
				}
			})
			for i := range seen {
				if seen[i].Load() != 1 {
					t.Fatalf("%d threads, n %d: element %d done %d times", threads, n, i, seen[i].Load())
				}
			}
			parts := min(threads, n)
			for w := 0; w < parts && parts > 1; w++ {
				if got, want := ranges[w], [2]int{w * n / parts, (w + 1) * n / parts}; got != want {
					t.Fatalf("%d threads, n %d: worker %d ran %v, want %v", threads, n, w, got, want)
				}
			}
		}
		for i := 0; i < 200; i++ {
			check(1 + i%37)
		}
		time.Sleep(3 * poolSpin)
		check(100)
		var inner atomic.Int32
		be.parallel(threads, func(lo, hi int) {
			be.parallel(10, func(lo, hi int) { inner.Add(int32(hi - lo)) })
		})
		if got := inner.Load(); got != int32(10*threads) {
			t.Fatalf("%d threads: nested regions covered %d of %d", threads, got, 10*threads)
		}
		var wg sync.WaitGroup
		var total atomic.Int64
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 50 {
					be.parallel(64, func(lo, hi int) { total.Add(int64(hi - lo)) })
				}
			}()
		}
		wg.Wait()
		if total.Load() != 2*50*64 {
			t.Fatalf("%d threads: concurrent regions covered %d of %d", threads, total.Load(), 2*50*64)
		}
	}
}

// TestWorkerPoolOnlyWithCores: with more threads than the scheduler runs
// at once, polling workers would take cores from the threads doing work,
// so there is no pool (regions take goroutines).
func TestWorkerPoolOnlyWithCores(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	if be := New(3); be.workers.get(be) != nil {
		t.Fatal("a pool of 2 polling workers with GOMAXPROCS 2")
	}
	if be := New(1); be.workers.get(be) != nil {
		t.Fatal("a pool for one thread")
	}
}

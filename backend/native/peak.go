package native

import (
	"runtime"
	"sync"
	"time"
)

// peakIters is the loop count of one probe: long enough to dwarf the
// start-up, short enough (~20 ms) to run before every benchmark.
const peakIters = 2_000_000

// MeasurePeak measures the machine's single-precision FMA peak in GFLOP/s
// over threads concurrent threads, with the widest vector instructions the
// CPU has: the yardstick for "fraction of peak" in benchmarks. It returns
// the best of a few tries, so a noisy neighbour lowers it little.
func MeasurePeak(threads int) (gflops float64, isa string) {
	loop, flopsPerIter, isa := peakProbe()
	best := 0.0
	for try := 0; try < 5; try++ {
		var wg sync.WaitGroup
		start := time.Now()
		for t := 0; t < threads; t++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				loop(peakIters)
			}()
		}
		wg.Wait()
		rate := float64(threads) * peakIters * flopsPerIter / time.Since(start).Seconds() / 1e9
		best = max(best, rate)
	}
	return best, isa
}

// peakLoopGo is the portable probe: independent scalar multiply-adds.
func peakLoopGo(n int) {
	var a0, a1, a2, a3, a4, a5, a6, a7 float32
	x, y := float32(0.5), float32(0.25)
	for i := 0; i < n; i++ {
		a0 += x * y
		a1 += x * y
		a2 += x * y
		a3 += x * y
		a4 += x * y
		a5 += x * y
		a6 += x * y
		a7 += x * y
	}
	sinkFloat = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7
}

var sinkFloat float32

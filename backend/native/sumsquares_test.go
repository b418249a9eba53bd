package native

import (
	"math"
	"testing"
)

// TestSumSquaresThreadInvariant: the L2 penalty's sum is the same bits on
// any number of threads, and close to the plain sum (several chunks and a
// ragged tail).
func TestSumSquaresThreadInvariant(t *testing.T) {
	x := randomTensors(17)(5*elementwiseGrain + 1001)
	var plain float64
	for _, v := range x.Data {
		plain += float64(v) * float64(v)
	}
	first := mustNew(t, Options{Threads: 1}).SumSquares(x)
	if math.Abs(first-plain) > 1e-12*plain {
		t.Fatalf("sum of squares %v, plain loop %v", first, plain)
	}
	for _, threads := range []int{2, 3, 4} {
		if got := mustNew(t, Options{Threads: threads}).SumSquares(x); got != first {
			t.Errorf("%d threads: %v, 1 thread: %v", threads, got, first)
		}
	}
}

//go:build mpi

// Command allreducebench times dist's all-reduce between the processes of
// an MPI job, for the scaling model in docs/scaling.md:
//
//	go build -tags mpi -o allreducebench ./tools/allreducebench
//	mpirun -np 2 ./allreducebench
//
// For each size it prints the best time of a few repetitions and the bus
// bandwidth, 2(n-1)/n x bytes / time: what each process sends and
// receives in a ring all-reduce, per second (NCCL's convention), so that
// figures compare across process counts.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/resgo/resgo/dist"
)

func main() {
	reps := flag.Int("reps", 5, "repetitions per size (the best is kept)")
	flag.Parse()
	tr, err := dist.Open()
	if err != nil {
		fmt.Fprintln(os.Stderr, "allreducebench:", err)
		os.Exit(1)
	}
	defer tr.Close()
	n := tr.Size()
	if tr.Rank() == 0 {
		fmt.Printf("%d processes\n%12s %12s %14s\n", n, "bytes", "best ms", "bus GB/s")
	}
	for _, size := range []int{1 << 20, 1 << 22, 1 << 24, 24 << 20, 32 << 20, 48 << 20, 1 << 26, 81484712} {
		buf := make([]float32, size/4)
		for i := range buf {
			buf[i] = 1
		}
		best := time.Duration(1 << 62)
		for range *reps {
			if err := tr.Barrier(); err != nil {
				fmt.Fprintln(os.Stderr, "allreducebench:", err)
				tr.Abort(1)
			}
			start := time.Now()
			if err := tr.AllReduceSum(buf); err != nil {
				fmt.Fprintln(os.Stderr, "allreducebench:", err)
				tr.Abort(1)
			}
			best = min(best, time.Since(start))
		}
		if tr.Rank() == 0 {
			bus := 2 * float64(n-1) / float64(n) * float64(4*len(buf)) / best.Seconds() / 1e9
			fmt.Printf("%12d %12.2f %14.2f\n", 4*len(buf), best.Seconds()*1e3, bus)
		}
	}
}

package dist

import (
	"fmt"
	"os"
	"strconv"
)

// Transport joins the processes of one job. Its methods are collective:
// every rank calls them in the same order with buffers of the same length.
type Transport interface {
	// Rank is this process's place in the job, 0 to Size-1.
	Rank() int
	// Size is the number of processes.
	Size() int
	// AllReduceSum replaces buf, on every rank, by the element-wise sum of
	// every rank's buf.
	AllReduceSum(buf []float32) error
	// Broadcast copies root's buf into every rank's buf.
	Broadcast(buf []float32, root int) error
	// BroadcastBytes copies root's buf into every rank's buf.
	BroadcastBytes(buf []byte, root int) error
	// Barrier returns once every rank has called it.
	Barrier() error
	// Abort ends every process of the job with code, for a failure that
	// one rank cannot recover from; it does not return.
	Abort(code int)
	// Close ends this process's part in the job; call it once, last.
	Close() error
}

// Single is the transport of a job of one process: rank 0 of 1, sums and
// broadcasts leave buffers as they are.
type Single struct{}

func (Single) Rank() int                    { return 0 }
func (Single) Size() int                    { return 1 }
func (Single) AllReduceSum([]float32) error { return nil }
func (Single) Broadcast(_ []float32, root int) error {
	if root != 0 {
		return fmt.Errorf("dist: broadcast from rank %d in a job of one", root)
	}
	return nil
}
func (Single) BroadcastBytes(_ []byte, root int) error {
	if root != 0 {
		return fmt.Errorf("dist: broadcast from rank %d in a job of one", root)
	}
	return nil
}
func (Single) Barrier() error { return nil }
func (Single) Abort(code int) { os.Exit(code) }
func (Single) Close() error   { return nil }

// launchedSize is the number of processes mpirun started this one among
// (Open MPI's OMPI_COMM_WORLD_SIZE), or 0 when mpirun did not start it.
func launchedSize() int {
	n, err := strconv.Atoi(os.Getenv("OMPI_COMM_WORLD_SIZE"))
	if err != nil || n < 1 {
		return 0
	}
	return n
}

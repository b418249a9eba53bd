//go:build !mpi

package dist

import (
	"strings"
	"testing"
)

// TestSingle: alone, a job's sums and broadcasts change nothing; a
// process that mpirun started among others is refused by a build without
// MPI instead of training alone.
func TestSingle(t *testing.T) {
	t.Setenv("OMPI_COMM_WORLD_SIZE", "")
	tr, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	buf := []float32{1, 2, 3}
	if err := tr.AllReduceSum(buf); err != nil || buf[2] != 3 || tr.Rank() != 0 || tr.Size() != 1 {
		t.Fatalf("%v %v rank %d size %d", err, buf, tr.Rank(), tr.Size())
	}
	if err := tr.Broadcast(buf, 1); err == nil {
		t.Error("broadcast from rank 1 of 1 accepted")
	}
	if err := tr.Barrier(); err != nil {
		t.Error(err)
	}
	t.Setenv("OMPI_COMM_WORLD_SIZE", "4")
	if _, err := Open(); err == nil || !strings.Contains(err.Error(), "-tags mpi") {
		t.Errorf("under mpirun without MPI: %v", err)
	}
}

//go:build !mpi

package dist

import "fmt"

// Open returns the single-process transport. A process that mpirun
// started among others is refused rather than left to train alone on the
// whole batch, unaware of the rest.
func Open() (Transport, error) {
	if n := launchedSize(); n > 1 {
		return nil, fmt.Errorf("dist: mpirun started %d processes, but this program was built without MPI (build it with -tags mpi)", n)
	}
	return Single{}, nil
}

// Package dist is how one training job runs as several processes: a
// Transport gives each process its rank and the job's size, and sums,
// broadcasts and synchronises float32 buffers across them. Open returns
// the single-process transport (every operation trivial) unless the
// program was built with the mpi tag and started by mpirun, when it
// returns one over Open MPI (cgo, pkg-config ompi-c): MPI starts, places
// and tears down the processes, as clusters expect.
package dist

// Package disttest runs a test in several processes started by mpirun, for
// the tests of code that uses dist over MPI (build tag mpi).
package disttest

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"
)

// Launched reports whether mpirun started this process (the test's body
// runs there, once per rank).
func Launched() bool { return os.Getenv("OMPI_COMM_WORLD_SIZE") != "" }

// Run starts this test binary's test name in np processes under mpirun,
// on this machine (shared memory), and returns their combined output and
// mpirun's error; it fails the test if mpirun is missing or the job does
// not end within the timeout.
func Run(t *testing.T, np int, name string, timeout time.Duration) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("mpirun"); err != nil {
		t.Fatal("no mpirun here: apt-get install openmpi-bin libopenmpi-dev")
	}
	cmd := exec.Command("mpirun", "-np", fmt.Sprint(np), "--oversubscribe", os.Args[0], "-test.run", "^"+name+"$", "-test.v")
	// Root in a container: Open MPI refuses unless told it is meant.
	cmd.Env = append(os.Environ(), "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1", "OMPI_MCA_btl=self,vader")
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		t.Fatalf("mpirun -np %d did not finish in %s\n%s", np, timeout, out)
	}
	return string(out), err
}

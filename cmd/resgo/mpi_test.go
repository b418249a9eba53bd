//go:build mpi

package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/resgo/resgo/checkpoint"
)

// mpiBinary builds resgo with MPI into dir.
func mpiBinary(t *testing.T, dir string) string {
	t.Helper()
	if _, err := exec.LookPath("mpirun"); err != nil {
		t.Fatal("no mpirun here: apt-get install openmpi-bin libopenmpi-dev")
	}
	bin := filepath.Join(dir, "resgo-mpi")
	if out, err := exec.Command("go", "build", "-tags", "mpi", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building resgo with MPI: %v\n%s", err, out)
	}
	return bin
}

// mpirun starts args (mpirun's, then the program's) in dir and returns
// the command, its combined output buffer, and a channel closed at exit.
func mpirun(t *testing.T, dir string, args ...string) (*exec.Cmd, *bytes.Buffer, chan error) {
	t.Helper()
	cmd := exec.Command("mpirun", append([]string{"--oversubscribe"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1", "OMPI_MCA_btl=self,vader")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return cmd, &out, done
}

// wait waits for the job's end, at most limit.
func wait(t *testing.T, cmd *exec.Cmd, done chan error, out *bytes.Buffer, limit time.Duration) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		cmd.Process.Kill()
		<-done
		t.Fatalf("mpirun still running after %s\n%s", limit, out)
	}
	return nil
}

// rankPID finds the process of rank in a job of binary.
func rankPID(binary string, rank int) int {
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		if exe, err := os.Readlink(filepath.Join(p, "exe")); err != nil || exe != binary {
			continue
		}
		env, _ := os.ReadFile(filepath.Join(p, "environ"))
		if bytes.Contains(env, []byte("OMPI_COMM_WORLD_RANK="+strconv.Itoa(rank)+"\x00")) {
			pid, _ := strconv.Atoi(filepath.Base(p))
			return pid
		}
	}
	return 0
}

// TestMPIJobFailures: two ranks train together; rank 1 killed with
// SIGKILL after the first checkpoints ends the job within seconds, mpirun
// naming the rank, and the newest checkpoint loads; the same command then
// resumes from it and finishes. A rank that fails on its own (its data
// directory is a file: bad data on one host) ends the job too, saying
// which rank and why.
func TestMPIJobFailures(t *testing.T) {
	long(t)
	dir := t.TempDir()
	bin := mpiBinary(t, dir)
	flags := []string{"train", "--data-dir", mnistDir, "--base-depth", "8", "--batch-size", "20", "--train-limit", "400",
		"--save-every", "5", "--threads", "1", "--log-dir", "", "--eval-every", "0", "--checkpoint-dir", "ck"}
	job := func(steps int) []string {
		return append([]string{"-np", "2", bin}, append(flags, "--steps", strconv.Itoa(steps))...)
	}

	cmd, out, done := mpirun(t, dir, job(100000)...)
	store := &checkpoint.Store{Dir: filepath.Join(dir, "ck"), Prefix: "mnist_model"}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if e, ok, _ := store.Latest(); ok && e.Step >= 10 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no checkpoint at step 10 after 2 minutes\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	pid := rankPID(bin, 1)
	if pid == 0 {
		cmd.Process.Kill()
		t.Fatalf("rank 1 not found\n%s", out)
	}
	killed := time.Now()
	if err := exec.Command("kill", "-9", strconv.Itoa(pid)).Run(); err != nil {
		t.Fatal(err)
	}
	err := wait(t, cmd, done, out, time.Minute)
	t.Logf("job ended %s after rank 1 was killed: %v", time.Since(killed).Round(time.Millisecond), err)
	if err == nil || time.Since(killed) > 20*time.Second || !strings.Contains(out.String(), "rank 1") {
		t.Fatalf("after killing rank 1: %v, %s later\n%s", err, time.Since(killed), out)
	}
	logLines(t, out.String(), "rank 1")
	ck, _, err := store.LoadLatestGood()
	if err != nil {
		t.Fatalf("newest checkpoint after the kill: %v", err)
	}
	t.Logf("newest checkpoint: %s (step %d)", ck.Path, ck.Step)

	// The same command resumes (a few steps further) and finishes.
	target := int(ck.Step) + 7
	cmd, out, done = mpirun(t, dir, job(target)...)
	if err := wait(t, cmd, done, out, 2*time.Minute); err != nil || !strings.Contains(out.String(), "resuming from") ||
		!strings.Contains(out.String(), "After "+strconv.Itoa(target)+" training step(s)") {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	if strings.Count(out.String(), "resuming from") != 1 {
		t.Errorf("more than rank 0 spoke:\n%s", out)
	}

	// MPMD: rank 1 alone gets a data directory that is a file.
	bad := filepath.Join(dir, "not-a-directory")
	if err := os.WriteFile(bad, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	rank1 := append([]string{}, flags...)
	for i, f := range rank1 {
		if f == "--data-dir" {
			rank1[i+1] = bad
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args := append([]string{"--oversubscribe", "-np", "1", bin}, append(flags, "--steps", "1000", "--fresh")...)
	args = append(append(args, ":", "-np", "1", bin), append(rank1, "--steps", "1000", "--fresh")...)
	c := exec.CommandContext(ctx, "mpirun", args...)
	c.Dir = dir
	c.Env = append(os.Environ(), "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1", "OMPI_MCA_btl=self,vader")
	start := time.Now()
	b, err := c.CombinedOutput()
	t.Logf("failing rank: job ended after %s: %v", time.Since(start).Round(time.Millisecond), err)
	if err == nil || ctx.Err() != nil || !strings.Contains(string(b), "rank 1 of 2") || !strings.Contains(string(b), bad) {
		t.Fatalf("a failing rank 1: %v\n%s", err, b)
	}
	logLines(t, string(b), "rank 1")
}

// logLines logs the lines of out that contain s.
func logLines(t *testing.T, out, s string) {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			t.Log(strings.TrimSpace(l))
		}
	}
}

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/resgo/resgo/checkpoint"
)

// TestSecondTrainerIsRefused: while one trainer runs, a second one (or a
// --fresh one) in the same directory stops at once, naming the first,
// and touches nothing; the first trains on undisturbed.
func TestSecondTrainerIsRefused(t *testing.T) {
	long(t)
	dir := t.TempDir()
	cmd := exec.Command(binary, quick("--steps", "100000")...)
	cmd.Dir = dir
	var errb syncBuffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitForCheckpoint(t, dir, 10)
	holder := fmt.Sprintf("process %d", cmd.Process.Pid)
	oneLineError(t, run(t, dir, quick("--steps", "1")...), "MNIST_model", "in use", holder)
	oneLineError(t, run(t, dir, quick("--steps", "3", "--base-depth", "16", "--fresh")...), "in use", holder)
	if moved, _ := filepath.Glob(filepath.Join(dir, "MNIST_model", "previous-*")); len(moved) != 0 {
		t.Fatalf("--fresh moved checkpoints of a running trainer: %v", moved)
	}
	before := time.Now()
	for time.Since(before) < time.Minute && !strings.Contains(errb.String(), "step 30/") {
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 {
		t.Fatalf("first trainer: %v\n%s", err, errb.String())
	}
	if !strings.Contains(errb.String(), "step 30/") {
		t.Fatalf("the first trainer stopped making progress:\n%s", errb.String())
	}
	// Released on exit: the same command resumes.
	if r := run(t, dir, quick("--steps", "40")...); r.code != 0 {
		t.Fatalf("resume: exit %d\n%s", r.code, r.stderr)
	}
}

// TestNonFiniteAndOutOfRangeFlags: NaN, infinities and absurd values are
// refused before anything is created.
func TestNonFiniteAndOutOfRangeFlags(t *testing.T) {
	dir := t.TempDir()
	for _, c := range [][]string{
		{"--learning-rate", "nan"}, {"--learning-rate", "inf"}, {"--learning-rate", "-Inf"},
		{"--momentum", "nan"}, {"--decay-rate", "NaN"}, {"--ema-decay", "nan"}, {"--l2", "+inf"},
	} {
		oneLineError(t, run(t, dir, quick(c...)...), "-"+strings.TrimPrefix(c[0], "--"), "not a finite number")
	}
	oneLineError(t, run(t, dir, quick("--learning-rate", "1e6")...), "--learning-rate 1e+06", "at most 100")
	oneLineError(t, run(t, dir, quick("--ema-decay", "1")...), "--ema-decay 1", "[0, 1)")
	if names, _ := os.ReadDir(dir); len(names) != 0 {
		t.Fatalf("refused runs created %v", names)
	}
}

// TestHugeModelsAreRefused: absurd sizes give one line, not a stack trace
// or a 16 GB allocation; sizes within bounds that do not fit in memory say
// how much they need.
func TestHugeModelsAreRefused(t *testing.T) {
	dir := t.TempDir()
	for _, cmd := range []string{"summary", "train"} {
		for _, depth := range []string{"4611686018427387904", "536870912", "-8"} {
			args := []string{cmd, "--base-depth", depth}
			if cmd == "train" {
				args = append(args, "--data-dir", mnistDir)
			}
			r := run(t, dir, args...)
			oneLineError(t, r, "base depth", "multiple of 4 from 4 to 1024")
			if strings.Contains(r.stderr, "goroutine") {
				t.Fatalf("stack trace:\n%s", r.stderr)
			}
		}
	}
	r := run(t, dir, "summary", "--arch", "vgg19", "--base-depth", "1024", "--input", "3x4096x4096")
	if r.code != 0 || strings.Contains(r.stdout, "-") && strings.Contains(r.stdout, "total  -") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	total := r.stdout[strings.LastIndex(r.stdout, "\ntotal"):]
	if strings.Contains(total, "-") || !strings.Contains(r.stdout, "memory (estimates)") {
		t.Fatalf("totals: %q", total)
	}
	oneLineError(t, run(t, dir, quick("--base-depth", "1024", "--batch-size", "100")...), "needs about", "GiB", "available")
	if _, err := os.Stat(filepath.Join(dir, "MNIST_model")); err == nil {
		t.Fatal("a refused model created its checkpoint directory")
	}
}

// TestUnwritableCheckpointDir: found before the first step, not at the
// first save.
func TestUnwritableCheckpointDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	cases := []string{filepath.Join(file, "sub")}
	if os.Geteuid() == 0 {
		cases = append(cases, "/proc/self") // a directory not even root can write
	} else {
		ro := filepath.Join(dir, "ro")
		os.Mkdir(ro, 0o555)
		cases = append(cases, ro)
	}
	for _, ckdir := range cases {
		r := run(t, dir, quick("--steps", "200", "--checkpoint-dir", ckdir)...)
		oneLineError(t, r, "checkpoint directory "+ckdir)
		if r.stdout != "" {
			t.Fatalf("trained before finding %s unwritable:\n%s", ckdir, r.stdout)
		}
	}
}

// TestEvalSkipsDamagedNewest: eval --checkpoint-dir falls back past a
// damaged newest checkpoint (bytes, checksum, model metadata) with a
// warning, as train does; a named file whose step disagrees with its name
// is refused.
func TestEvalSkipsDamagedNewest(t *testing.T) {
	long(t)
	dir := t.TempDir()
	if r := run(t, dir, quick("--steps", "10")...); r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	ckdir := filepath.Join(dir, "MNIST_model")
	newest := filepath.Join(ckdir, "mnist_model-10.safetensors")
	good, _ := os.ReadFile(newest)
	ck, err := checkpoint.Load(newest)
	if err != nil {
		t.Fatal(err)
	}
	damage := map[string]func() error{
		"truncated": func() error { return os.WriteFile(newest, good[:len(good)/2], 0o644) },
		"bit flip": func() error {
			b := bytes.Clone(good)
			b[len(b)-100] ^= 0x10
			return os.WriteFile(newest, b, 0o644)
		},
		"model metadata": func() error {
			meta := map[string]string{}
			for k, v := range ck.Meta {
				meta[k] = v
			}
			meta["model"] = `{"arch": "resnet18", "base_depth": "wide"}`
			_, err := (&checkpoint.Store{Dir: ckdir, Keep: -1}).Save(10, ck.Tensors, meta)
			return err
		},
	}
	for name, f := range damage {
		if err := f(); err != nil {
			t.Fatal(err)
		}
		r := run(t, dir, "eval", "--data-dir", mnistDir, "--confusion=false")
		if r.code != 0 || !strings.Contains(r.stdout, "After 5 training step(s)") || !strings.Contains(r.stderr, "skipping damaged checkpoint") ||
			!strings.Contains(r.stderr, "mnist_model-10.safetensors") {
			t.Fatalf("%s: exit %d\n%s%s", name, r.code, r.stdout, r.stderr)
		}
	}
	os.WriteFile(newest, good, 0o644)
	renamed := filepath.Join(ckdir, "mnist_model-8000.safetensors")
	os.WriteFile(renamed, good, 0o644)
	oneLineError(t, run(t, dir, "eval", "--data-dir", mnistDir, "--checkpoint", renamed), renamed, "step 8000", "step 10")
}

// TestEvalChecksBeforeLoadingData: a bad flag or an empty checkpoint
// directory is reported before MNIST is fetched.
func TestEvalChecksBeforeLoadingData(t *testing.T) {
	dir := t.TempDir()
	oneLineError(t, run(t, dir, "eval", "--watch", "--interval", "0"), "--interval 0s", "positive")
	oneLineError(t, run(t, dir, "eval", "--watch", "--interval", "-1s"), "--interval -1s", "positive")
	oneLineError(t, run(t, dir, "eval", "--checkpoint-dir", "empty"), "empty", "no checkpoint found")
	if _, err := os.Stat(filepath.Join(dir, "MNIST_data")); err == nil {
		t.Fatal("eval fetched MNIST before finding there was nothing to evaluate")
	}
}

// TestCtrlCStopsEvaluation: Ctrl-C, during the data's loading or during
// an evaluation, stops eval within a moment with exit status 130 (never
// death by signal).
func TestCtrlCStopsEvaluation(t *testing.T) {
	long(t)
	dir := t.TempDir()
	if r := run(t, dir, quick("--steps", "5")...); r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	for _, when := range []string{"loading MNIST", "evaluating"} {
		// Batch 1 makes the evaluation long enough to interrupt.
		cmd := exec.Command(binary, "eval", "--data-dir", mnistDir, "--batch-size", "1")
		cmd.Dir = dir
		var errb syncBuffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Minute)
		for !strings.Contains(errb.String(), "loading MNIST") && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if when == "evaluating" {
			time.Sleep(2 * time.Second)
		}
		sent := time.Now()
		cmd.Process.Signal(syscall.SIGINT)
		err := cmd.Wait()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 130 || !strings.Contains(errb.String(), "interrupted") {
			t.Fatalf("%s: %v\n%s", when, err, errb.String())
		}
		if d := time.Since(sent); d > 10*time.Second {
			t.Fatalf("%s: took %s to stop", when, d)
		}
	}
}

// TestFirstHour: help, version, the hint's command name, an early speed
// line, the learning rate a step used, and no event file from a run that
// trains nothing.
func TestFirstHour(t *testing.T) {
	long(t)
	dir := t.TempDir()
	h := run(t, dir, "help", "train")
	if h.code != 0 || !strings.Contains(h.stdout, "Usage: resgo train") || !strings.Contains(h.stdout, "-learning-rate") {
		t.Fatalf("help train: exit %d\n%s", h.code, h.stdout)
	}
	if v := run(t, dir, "version"); v.code != 0 || !strings.HasPrefix(v.stdout, "resgo ") || !strings.Contains(v.stdout, "go1.") || !strings.Contains(v.stdout, "--precision bf16 runs on: ") {
		t.Fatalf("version: exit %d\n%s%s", v.code, v.stdout, v.stderr)
	}
	// 300 images in batches of 10: an epoch, and so a decay period, is 30
	// steps; step 30 used 0.03, step 31 uses 0.0297.
	cmd := exec.Command(binary, quick("--steps", "30", "--save-every", "30")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "RESGO_PROG=./run.sh")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	stderr := errb.String()
	for _, want := range []string{"step 10/30, lr 0.03, ", " images/s, ETA ", "step 30/30, lr 0.03, ", "evaluate it with: ./run.sh eval\n"} {
		if !strings.Contains(stderr, want) {
			t.Fatalf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "0.0297") {
		t.Fatalf("printed the next step's learning rate:\n%s", stderr)
	}
	events, _ := filepath.Glob(filepath.Join(dir, "log", "events.out.tfevents.*"))
	// Nothing to do, and a model the checkpoint is not: no new event file.
	for _, args := range [][]string{quick("--steps", "30"), quick("--steps", "40", "--base-depth", "16")} {
		run(t, dir, args...)
		if again, _ := filepath.Glob(filepath.Join(dir, "log", "events.out.tfevents.*")); len(again) != len(events) {
			t.Fatalf("%v wrote an event file: %v", args, again)
		}
	}
	p := run(t, dir, "plot", "--out", "c.svg", "--metric", "loss", "log")
	svg, _ := os.ReadFile(filepath.Join(dir, "c.svg"))
	if p.code != 0 || !strings.Contains(string(svg), ">training<") || strings.Contains(string(svg), ". training") {
		t.Fatalf("plot: exit %d %s", p.code, p.stderr)
	}
}

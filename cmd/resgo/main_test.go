package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/resgo/resgo/data"
)

// These tests build the real binary and run it as a user would.

var (
	binary   string
	mnistDir string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "resgo-cli-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "resgo")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building resgo: %v\n%s", err, out)
		os.Exit(1)
	}
	mnistDir = filepath.Join(dir, "MNIST_data")
	if err := data.EnsureMNIST(mnistDir, nil); err != nil {
		fmt.Fprintf(os.Stderr, "MNIST: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

func run(t *testing.T, dir string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

// long skips, under go test -short, a test that trains or evaluates
// through the binary: together they take minutes on two cores.
func long(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("trains through the binary; skipped with -short")
	}
}

// quick are flags for a small, fast training run on real MNIST.
func quick(extra ...string) []string {
	return append([]string{"train", "--data-dir", mnistDir, "--base-depth", "8", "--batch-size", "10",
		"--train-limit", "300", "--save-every", "5", "--threads", "2"}, extra...)
}

// oneLineError checks a failure: non-zero exit, and one error line on
// stderr (progress lines start "resgo: ") that contains every want.
func oneLineError(t *testing.T, r result, want ...string) {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		if !strings.HasPrefix(l, "resgo: ") || strings.Contains(l, "unknown command") {
			lines = append(lines, l)
		}
	}
	if r.code == 0 || len(lines) != 1 {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(lines[0], w) {
			t.Fatalf("error %q lacks %q", lines[0], w)
		}
	}
}

func TestBadFlagsGiveOneLine(t *testing.T) {
	dir := t.TempDir()
	oneLineError(t, run(t, dir, "train", "--bogus"), "-bogus", "not defined")
	oneLineError(t, run(t, dir, "train", "--steps", "ten"), "-steps", "invalid value")
	oneLineError(t, run(t, dir, "train", "--batch-size", "0"), "--batch-size 0", "between 1 and")
	oneLineError(t, run(t, dir, "train", "--backend", "cuda"), "cuda", "unknown backend")
	oneLineError(t, run(t, dir, "bench", "--isa", "sse9"), "--isa sse9", "unknown instruction set")
	oneLineError(t, run(t, dir, "bench", "--conv", "fast"), "--conv fast", "unknown convolution mode")
	oneLineError(t, run(t, dir, "bench", "--backend", "native-direct", "--conv", "im2col"), "native-direct", "disagree")
	oneLineError(t, run(t, dir, "eval", "--batch-size", "-1"), "--batch-size -1")
	oneLineError(t, run(t, dir, "frobnicate"), "unknown command")
	if r := run(t, dir, "train", "--help"); r.code != 0 || !strings.Contains(r.stdout, "--learning-rate") && !strings.Contains(r.stdout, "-learning-rate") {
		t.Fatalf("help: exit %d\n%s", r.code, r.stdout)
	}
}

func TestSummaryMatchesSpec(t *testing.T) {
	r := run(t, t.TempDir(), "summary")
	if r.code != 0 || !strings.Contains(r.stdout, "20,371,178") || !strings.Contains(r.stdout, "254,275,584") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestSummaryOfTheFamily: at ImageNet size the totals are torchvision's
// parameter counts; bad shapes and options are one-line errors.
func TestSummaryOfTheFamily(t *testing.T) {
	dir := t.TempDir()
	r := run(t, dir, "summary", "--arch", "resnet152", "--input", "3x224x224", "--classes", "1000")
	if r.code != 0 || !strings.Contains(r.stdout, "60,192,808") || !strings.Contains(r.stdout, "layer4.0.downsample.0") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	oneLineError(t, run(t, dir, "summary", "--input", "3x224"), "--input", "CxHxW")
	oneLineError(t, run(t, dir, "summary", "--arch", "resnet18", "--shortcut", "D"), "shortcut", "A, B or C")
	oneLineError(t, run(t, dir, "summary", "--arch", "resnet999"), "unknown architecture", "resnet18")
}

// TestCompareAndPlot runs a tiny comparison: two models trained, their
// logs readable by the independent checker, the chart and table written;
// a second run resumes (nothing to train) and redraws; plot draws a log.
func TestCompareAndPlot(t *testing.T) {
	long(t)
	dir := t.TempDir()
	args := []string{"compare", "--data-dir", mnistDir, "--archs", "plain18,resnet18", "--base-depth", "4",
		"--steps", "6", "--eval-every", "3", "--batch-size", "10", "--train-limit", "200", "--validation-size", "100", "--threads", "2"}
	r := run(t, dir, args...)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"| plain18 |", "| resnet18 |", "test error"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("table lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, f := range []string{"compare.png", "compare.svg", "compare.md", "resnet18/checkpoints/model-6.safetensors"} {
		if _, err := os.Stat(filepath.Join(dir, "compare", f)); err != nil {
			t.Fatal(err)
		}
	}
	checkEventLog(t, filepath.Join(dir, "compare", "resnet18", "log"))
	again := run(t, dir, args...)
	if again.code != 0 || !strings.Contains(again.stdout, "| resnet18 |") {
		t.Fatalf("second run: exit %d\n%s", again.code, again.stderr)
	}
	p := run(t, dir, "plot", "--out", "c.svg,c.png", "compare/plain18/log", "compare/resnet18/log")
	if p.code != 0 {
		t.Fatalf("plot: exit %d\n%s", p.code, p.stderr)
	}
	svg, err := os.ReadFile(filepath.Join(dir, "c.svg"))
	if err != nil || !strings.Contains(string(svg), "resnet18 validation") {
		t.Fatalf("plot's SVG (%v) lacks the resnet18 curve", err)
	}
	oneLineError(t, run(t, dir, "plot", "nowhere"), "nowhere", "no TensorBoard event files")
	oneLineError(t, run(t, dir, "plot", "--out", "c.gif", "compare/plain18/log"), "c.gif", "format")
}

// TestBadDataFiles: a truncated or corrupt MNIST file is named in one error
// line and left alone.
func TestBadDataFiles(t *testing.T) {
	for _, damage := range []string{"truncated", "corrupt"} {
		t.Run(damage, func(t *testing.T) {
			dir := t.TempDir()
			dd := filepath.Join(dir, "MNIST_data")
			os.MkdirAll(dd, 0o755)
			for _, f := range []string{"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"} {
				b, err := os.ReadFile(filepath.Join(mnistDir, f))
				if err != nil {
					t.Fatal(err)
				}
				if f == "train-labels-idx1-ubyte.gz" {
					if damage == "truncated" {
						b = b[:len(b)/2]
					} else {
						b[len(b)/2] ^= 0xff
					}
				}
				os.WriteFile(filepath.Join(dd, f), b, 0o644)
			}
			before, _ := os.ReadFile(filepath.Join(dd, "train-labels-idx1-ubyte.gz"))
			oneLineError(t, run(t, dir, "train", "--steps", "1"), "train-labels-idx1-ubyte.gz", "checksum")
			after, _ := os.ReadFile(filepath.Join(dd, "train-labels-idx1-ubyte.gz"))
			if !bytes.Equal(before, after) {
				t.Fatal("the damaged file was changed")
			}
		})
	}
}

func TestTrainEvalAndOtherModel(t *testing.T) {
	long(t)
	dir := t.TempDir()
	r := run(t, dir, quick("--steps", "12")...)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if n := strings.Count(r.stdout, " training step(s), loss on training batch is "); n != 12 {
		t.Fatalf("%d step lines:\n%s", n, r.stdout)
	}
	for _, f := range []string{"mnist_model-5.safetensors", "mnist_model-10.safetensors", "mnist_model-12.safetensors", "checkpoint"} {
		if _, err := os.Stat(filepath.Join(dir, "MNIST_model", f)); err != nil {
			t.Fatal(err)
		}
	}
	checkEventLog(t, filepath.Join(dir, "log"))
	ev := run(t, dir, "eval", "--data-dir", mnistDir)
	if ev.code != 0 || !strings.Contains(ev.stdout, "After 12 training step(s)") || !strings.Contains(ev.stdout, "test accuracy = ") ||
		!strings.Contains(ev.stdout, "confusion matrix") {
		t.Fatalf("eval: exit %d\n%s%s", ev.code, ev.stdout, ev.stderr)
	}
	named := run(t, dir, "eval", "--data-dir", mnistDir, "--raw", "--checkpoint", "MNIST_model/mnist_model-5.safetensors")
	if named.code != 0 || !strings.Contains(named.stdout, "After 5 training step(s)") || !strings.Contains(named.stdout, "raw weights") {
		t.Fatalf("eval of a named checkpoint: exit %d\n%s%s", named.code, named.stdout, named.stderr)
	}
	oneLineError(t, run(t, dir, "eval", "--data-dir", mnistDir, "--checkpoint", "MNIST_model/nope.safetensors"), "nope.safetensors")
	// A checkpoint of another model is refused in one line.
	oneLineError(t, run(t, dir, quick("--steps", "14", "--base-depth", "16")...), "mnist_model-12.safetensors", "another model")
	// A corrupt checkpoint is skipped with a warning; the previous one is used.
	ck := filepath.Join(dir, "MNIST_model", "mnist_model-12.safetensors")
	b, _ := os.ReadFile(ck)
	os.WriteFile(ck, b[:len(b)/3], 0o644)
	r = run(t, dir, quick("--steps", "13")...)
	if r.code != 0 || !strings.Contains(r.stderr, "skipping unreadable checkpoint") || !strings.Contains(r.stderr, "at step 10") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
}

// waitForCheckpoint waits until the checkpoint directory holds a checkpoint
// at or past step.
func waitForCheckpoint(t *testing.T, dir string, step int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(filepath.Join(dir, "MNIST_model", fmt.Sprintf("mnist_model-%d.safetensors", step))); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no checkpoint at step %d", step)
}

// TestInterruptAndKill: Ctrl-C saves and exits 130; kill -9 loses only the
// steps since the last checkpoint; either way the same command resumes.
func TestInterruptAndKill(t *testing.T) {
	long(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(binary, quick("--steps", "100000")...)
			cmd.Dir = dir
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitForCheckpoint(t, dir, 10)
			cmd.Process.Signal(sig)
			err := cmd.Wait()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("wait: %v", err)
			}
			entries, _ := filepath.Glob(filepath.Join(dir, "MNIST_model", ".tmp-*"))
			if sig == syscall.SIGINT {
				if exit.ExitCode() != 130 || !strings.Contains(errb.String(), "interrupted at step") {
					t.Fatalf("exit %d\n%s", exit.ExitCode(), errb.String())
				}
				if len(entries) != 0 {
					t.Fatalf("temp files left: %v", entries)
				}
			}
			// The last step printed before the stop.
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			var last int
			fmt.Sscanf(lines[len(lines)-1], "After %d training step(s)", &last)
			r := run(t, dir, quick("--steps", fmt.Sprint(last+2))...)
			if r.code != 0 {
				t.Fatalf("resume: exit %d\n%s", r.code, r.stderr)
			}
			want := last - last%5 // kill -9 falls back to the last periodic checkpoint
			if sig == syscall.SIGINT {
				want = last
			}
			if !strings.Contains(r.stderr, fmt.Sprintf("at step %d ", want)) {
				t.Fatalf("after step %d, resume said:\n%s", last, r.stderr)
			}
			if !strings.HasPrefix(r.stdout, fmt.Sprintf("After %d training step(s)", want+1)) {
				t.Fatalf("resumed output starts %q", strings.SplitN(r.stdout, "\n", 2)[0])
			}
		})
	}
}

// TestEvalWatch: --watch evaluates checkpoints as training writes them and
// stops cleanly on Ctrl-C.
func TestEvalWatch(t *testing.T) {
	long(t)
	dir := t.TempDir()
	if r := run(t, dir, quick("--steps", "5")...); r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	cmd := exec.Command(binary, "eval", "--watch", "--interval", "50ms", "--data-dir", mnistDir)
	cmd.Dir = dir
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor := func(s string) {
		deadline := time.Now().Add(time.Minute)
		for !strings.Contains(out.String(), s) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("After 5 training step(s)")
	if r := run(t, dir, quick("--steps", "10")...); r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	waitFor("After 10 training step(s)")
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("watch did not stop cleanly: %v\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "After 5 training step(s)") || !strings.Contains(out.String(), "After 10 training step(s)") {
		t.Fatalf("watch output:\n%s", out.String())
	}
}

// syncBuffer is a bytes.Buffer safe to read while a process writes it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// checkEventLog reads the TensorBoard log a run wrote with an independent
// reader (tools/tbcheck: Python's protobuf library and its own CRC-32C),
// when this machine has it.
func checkEventLog(t *testing.T, dir string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "events.out.tfevents.*"))
	if len(files) != 1 {
		t.Fatalf("event files in %s: %v", dir, files)
	}
	out, err := exec.Command("/usr/bin/python3", "../../tools/tbcheck/tbcheck.py", files[0]).CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 2 || errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
		// tbcheck's "cannot check here" (no protoc or python3-protobuf).
		t.Logf("TensorBoard log not checked independently: %s", strings.TrimSpace(string(out)))
		return
	}
	if err != nil {
		t.Fatalf("tbcheck: %v\n%s", err, out)
	}
	for _, want := range []string{"loss", "learning_rate", "images_per_second", "train_accuracy", "validation_accuracy", "graph nodes="} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("tbcheck output lacks %q:\n%s", want, out)
		}
	}
}

// TestPrecisionBF16: --precision is checked in one line, bench measures a
// list of precisions in rows of their own (int8 inference only; with
// --interleave, each mode's precisions together), and a model trains and
// evaluates with bfloat16 products.
func TestPrecisionBF16(t *testing.T) {
	dir := t.TempDir()
	oneLineError(t, run(t, dir, "bench", "--precision", "fp8"), "--precision fp8", "unknown precision")
	oneLineError(t, run(t, dir, "bench", "--backend", "reference", "--precision", "bf16"), "--precision bf16", "only the native backends")
	b := run(t, dir, "bench", "--json", "--precision", "f32,bf16,int8", "--base-depth", "16", "--batch-sizes", "4", "--steps", "1", "--warmup", "0")
	var rep struct {
		Rows []struct {
			Mode, Precision string
			Batch           int
			ImagesPS        float64 `json:"images_per_s"`
			VsF32           float64 `json:"vs_f32"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(b.stdout), &rep); b.code != 0 || err != nil {
		t.Fatalf("bench: exit %d, %v\n%s%s", b.code, err, b.stdout, b.stderr)
	}
	var got []string
	for _, r := range rep.Rows {
		got = append(got, r.Mode+" "+r.Precision)
		// Each row's speed over the f32 row of its mode and batch.
		for _, f := range rep.Rows {
			if f.Precision == "f32" && f.Mode == r.Mode && f.Batch == r.Batch {
				if want := r.ImagesPS / f.ImagesPS; math.Abs(r.VsF32-want) > 1e-9*want {
					t.Fatalf("bench %s %s: vs_f32 %v, want %v", r.Mode, r.Precision, r.VsF32, want)
				}
			}
		}
	}
	if want := []string{"train f32", "infer f32", "train bf16", "infer bf16", "infer int8"}; !slices.Equal(got, want) {
		t.Fatalf("bench rows %v, want %v", got, want)
	}
	// --interleave measures each mode's precisions together: rows by mode.
	b = run(t, dir, "bench", "--json", "--interleave", "--precision", "f32,bf16,int8", "--base-depth", "16", "--batch-sizes", "4", "--steps", "2", "--warmup", "0")
	rep.Rows = nil
	if err := json.Unmarshal([]byte(b.stdout), &rep); b.code != 0 || err != nil {
		t.Fatalf("bench --interleave: exit %d, %v\n%s%s", b.code, err, b.stdout, b.stderr)
	}
	got = got[:0]
	for _, r := range rep.Rows {
		got = append(got, r.Mode+" "+r.Precision)
	}
	if want := []string{"train f32", "train bf16", "infer f32", "infer bf16", "infer int8"}; !slices.Equal(got, want) {
		t.Fatalf("bench --interleave rows %v, want %v", got, want)
	}
	long(t)
	r := run(t, dir, quick("--steps", "6", "--precision", "bf16")...)
	if r.code != 0 || !strings.Contains(r.stderr, "bf16 products") {
		t.Fatalf("train: exit %d\n%s", r.code, r.stderr)
	}
	ev := run(t, dir, "eval", "--data-dir", mnistDir, "--precision", "bf16")
	if ev.code != 0 || !strings.Contains(ev.stdout, "test accuracy = ") {
		t.Fatalf("eval: exit %d\n%s%s", ev.code, ev.stdout, ev.stderr)
	}
}
